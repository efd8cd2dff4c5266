import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { currentInstance, replayStableTxnId, runAsInstance, runForEvent } from '../../src/core/plugin-scope.ts';

describe('plugin scope', () => {
  it('gives the sends of a handler the same transaction ids on every replay of the same event', async () => {
    const sends = async () => {
      const ids = [replayStableTxnId()];
      await new Promise((r) => setTimeout(r, 5));
      ids.push(replayStableTxnId());
      return ids;
    };
    const first = await runForEvent('echo', '$event1', 'command', sends);
    const replay = await runForEvent('echo', '$event1', 'command', sends);
    assert.deepEqual(first, replay);
    assert.equal(new Set(first).size, 2, 'the n-th send of a handler has its own id');
    assert.match(first[0]!, /^trellis\.r\.[\w-]+\.0$/);
  });

  it('different instances, events or handlers never share an id', () => {
    const ids = [
      runForEvent('a', '$e', 'command', replayStableTxnId),
      runForEvent('b', '$e', 'command', replayStableTxnId),
      runForEvent('a', '$f', 'command', replayStableTxnId),
      runForEvent('a', '$e', 'message:0', replayStableTxnId),
    ];
    assert.equal(new Set(ids).size, 4);
  });

  it('outside a handler there is no replay-stable id (a random one is used)', () => {
    assert.equal(replayStableTxnId(), undefined);
    assert.equal(runAsInstance('a', replayStableTxnId), undefined);
  });

  it('names the instance through timers and promises', async () => {
    const seen = await runAsInstance('welcome', () => new Promise<string | undefined>((resolve) => setTimeout(() => resolve(currentInstance()), 5)));
    assert.equal(seen, 'welcome');
    assert.equal(currentInstance(), undefined);
  });
});
