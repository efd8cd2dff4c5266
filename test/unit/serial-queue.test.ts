/** SerialQueue (trellis/sdk): one task at a time per key. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { SerialQueue } from 'trellis/sdk';

/** A promise the test resolves by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('SerialQueue', () => {
  test('tasks of one key run one at a time, in the order given, each seeing what the previous did', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let count = 0;
    const first = gate();
    const a = queue.run('alice', async () => {
      log.push('a start');
      await first.opened;
      count++;
      log.push('a end');
      return 'a';
    });
    const b = queue.run('alice', async () => {
      log.push(`b start (count ${count})`);
      count++;
      return 'b';
    });
    const c = queue.run('alice', () => {
      log.push(`c (count ${count})`);
      return 'c';
    });
    await sleep(5);
    assert.deepEqual(log, ['a start'], 'b and c wait for a');
    first.open();
    assert.deepEqual(await Promise.all([a, b, c]), ['a', 'b', 'c']);
    assert.deepEqual(log, ['a start', 'a end', 'b start (count 1)', 'c (count 2)']);
  });

  test('keys are independent: a slow task of one key does not hold up another key', async () => {
    const queue = new SerialQueue();
    const slow = gate();
    const log: string[] = [];
    const alice = queue.run('alice', async () => {
      await slow.opened;
      log.push('alice');
    });
    await queue.run('bob', () => void log.push('bob'));
    assert.deepEqual(log, ['bob']);
    assert.equal(queue.busy('alice'), true);
    slow.open();
    await alice;
    assert.deepEqual(log, ['bob', 'alice']);
  });

  test('a throwing or rejecting task fails only its own promise; the next task of the key still runs', async () => {
    const queue = new SerialQueue();
    const ran: string[] = [];
    const sync = queue.run('k', () => {
      throw new Error('sync throw');
    });
    const rejecting = queue.run('k', async () => {
      await sleep(1);
      throw new Error('async reject');
    });
    const next = queue.run('k', () => {
      ran.push('next');
      return 42;
    });
    await assert.rejects(sync, /sync throw/);
    await assert.rejects(rejecting, /async reject/);
    assert.equal(await next, 42);
    assert.deepEqual(ran, ['next']);
  });

  test('a key is forgotten once its last task has settled, whether it succeeded or failed', async () => {
    const queue = new SerialQueue<number>();
    assert.equal(queue.size, 0);
    const held = gate();
    const one = queue.run(1, () => held.opened);
    const two = queue.run(2, () => Promise.reject(new Error('no')));
    assert.equal(queue.size, 2);
    await assert.rejects(two);
    await sleep(0);
    assert.equal(queue.busy(2), false, 'the failed key is gone');
    assert.equal(queue.size, 1);
    const later = queue.run(1, () => 'later');
    held.open();
    await one;
    assert.equal(queue.busy(1), true, 'a key with a task still waiting stays');
    assert.equal(await later, 'later');
    await sleep(0);
    assert.equal(queue.size, 0);
  });
});
