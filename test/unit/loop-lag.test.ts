import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { watchEventLoop } from '../../src/core/loop-lag.ts';
import type { Logger } from '../../src/core/logging.ts';

describe('event loop watch', () => {
  it('a CPU-bound handler that blocks the loop is reported with its instance', async () => {
    const warnings: Array<{ message: string; context: Record<string, unknown> | undefined }> = [];
    const log = { warn: (message: string, context?: Record<string, unknown>) => warnings.push({ message, context }) } as unknown as Logger;
    const stop = watchEventLoop(log, () => [{ instance: 'wordle', label: 'event $abc (m.room.message) in !room', ms: 1500 }]);
    try {
      await new Promise((r) => setTimeout(r, 600));
      const until = Date.now() + 1_600;
      while (Date.now() < until) {
        // a handler computing instead of awaiting
      }
      await new Promise((r) => setTimeout(r, 700));
    } finally {
      stop();
    }
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.message, /event loop was blocked for \d+\.\d s.*wordle \(event \$abc/);
    assert.deepEqual(warnings[0]!.context?.instances, ['wordle']);
  });

  it('says nothing while the loop runs freely', async () => {
    const warnings: string[] = [];
    const log = { warn: (message: string) => warnings.push(message) } as unknown as Logger;
    const stop = watchEventLoop(log, () => []);
    await new Promise((r) => setTimeout(r, 1_200));
    stop();
    assert.deepEqual(warnings, []);
  });
});
