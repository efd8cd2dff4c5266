import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StorageGuard } from '../../src/core/storage-guard.ts';
import type { Logger } from '../../src/core/logging.ts';

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const log = {
    debug: (message: string) => lines.push({ level: 'debug', message }),
    info: (message: string) => lines.push({ level: 'info', message }),
    warn: (message: string) => lines.push({ level: 'warn', message }),
    error: (message: string) => lines.push({ level: 'error', message }),
    critical: (message: string) => lines.push({ level: 'critical', message }),
    child: () => log,
  } as unknown as Logger;
  return { log, lines };
}

describe('StorageGuard', () => {
  it('retries a failing write where it stands, reports the failure once, and clears it when writes work', async () => {
    const { log, lines } = recordingLogger();
    const guard = new StorageGuard(log);
    let calls = 0;
    const seen: Array<string | undefined> = [];
    const result = await guard.retry('recording handled events', async () => {
      calls++;
      seen.push(guard.failure?.what);
      if (calls < 3) throw new Error('SQLITE_BUSY: database is locked');
      return 'written';
    });
    assert.equal(result, 'written');
    assert.equal(calls, 3, 'the same write is retried, nothing is skipped');
    assert.deepEqual(seen, [undefined, 'recording handled events', 'recording handled events']);
    assert.equal(guard.failure, null);
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, 'one ERROR per outage, not one per attempt');
    assert.match(errors[0]!.message, /database is locked.*paused.*resumes by itself/);
    assert.ok(lines.some((l) => l.level === 'info' && /writable again/.test(l.message)));
  });

  it('gives up only when stopped (shutdown)', async () => {
    const { log } = recordingLogger();
    const guard = new StorageGuard(log);
    const pending = guard.retry('saving the sync token', async () => {
      throw new Error('EROFS: read-only file system');
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.match(guard.failure?.error ?? '', /read-only/);
    guard.stop();
    await assert.rejects(pending);
  });
});
