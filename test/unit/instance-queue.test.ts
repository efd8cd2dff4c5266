import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceQueue } from '../../src/core/instance-queue.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function queue(overrides: { releaseAfterMs?: number; stallAfterMs?: number } = {}) {
  const released: string[] = [];
  const q = new InstanceQueue({
    releaseAfterMs: overrides.releaseAfterMs ?? 10_000,
    stallAfterMs: overrides.stallAfterMs ?? 5_000,
    onReleased: (label) => released.push(label),
  });
  return { q, released };
}

describe('InstanceQueue', () => {
  it('runs jobs one at a time in the order they were queued', async () => {
    const { q } = queue();
    const log: string[] = [];
    const tickets = [30, 5, 15].map((ms, i) =>
      q.push(`job ${i}`, async () => {
        log.push(`start ${i}`);
        await tick(ms);
        log.push(`end ${i}`);
      }),
    );
    await Promise.all(tickets.map((t) => t.done));
    assert.deepEqual(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    assert.equal(q.running, null);
  });

  it('a throwing job neither rejects its ticket nor stops the queue', async () => {
    const { q } = queue();
    const first = q.push('bad', async () => {
      throw new Error('boom');
    });
    let ran = false;
    const second = q.push('good', async () => {
      ran = true;
    });
    assert.equal(await first.settled, 'done');
    await second.done;
    assert.ok(ran);
  });

  it('a hung job is reported as stalled, then released so the next job runs', async () => {
    const { q, released } = queue({ stallAfterMs: 20, releaseAfterMs: 60 });
    const hung = q.push('hung', () => new Promise<void>(() => {}));
    let nextRan = false;
    const next = q.push('next', async () => {
      nextRan = true;
    });
    assert.equal(await hung.settled, 'stalled');
    assert.equal(await next.settled, 'stalled', 'a job queued behind a stalled one does not hold the caller either');
    assert.ok(q.stalled);
    assert.equal(q.running?.label, 'hung', 'the hung job still holds the queue');
    await next.done;
    assert.ok(nextRan);
    assert.deepEqual(released, ['hung']);
    // Queued while the queue is fine again: waits for its job.
    const later = q.push('later', async () => void (await tick(5)));
    assert.equal(await later.settled, 'done');
  });
});
