/** ctx.timers beyond Node's 24.8-day limit (src/sdk/timers.ts), in the daemon's scheduler and the test kit. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { longInterval, longTimeout, MAX_TIMER_DELAY_MS, nodeScheduler, TimerSet, type TimerApi } from '../../src/sdk/timers.ts';
import { createTestContext } from 'trellis/sdk/testing';

const DAY = 86_400_000;

/** Node's timer functions on a hand-moved clock, refusing what Node cannot do (a delay above 2^31 - 1 ms). */
class FakeNodeTimers implements TimerApi {
  now = 0;
  readonly delays: number[] = [];
  #seq = 0;
  readonly #pending = new Map<number, { due: number; every?: number; fn: () => void }>();
  #add(fn: () => void, ms: number, every: boolean): number {
    assert.ok(ms <= MAX_TIMER_DELAY_MS, `Node would fire a ${ms} ms timer after 1 ms`);
    this.delays.push(ms);
    const id = ++this.#seq;
    this.#pending.set(id, { due: this.now + ms, every: every ? ms : undefined, fn });
    return id;
  }
  setTimeout(fn: () => void, ms: number) {
    return this.#add(fn, ms, false);
  }
  setInterval(fn: () => void, ms: number) {
    return this.#add(fn, ms, true);
  }
  clearTimeout(handle: unknown) {
    this.#pending.delete(handle as number);
  }
  clearInterval(handle: unknown) {
    this.#pending.delete(handle as number);
  }
  get pending(): number {
    return this.#pending.size;
  }
  advance(ms: number) {
    const target = this.now + ms;
    for (;;) {
      const next = [...this.#pending].filter(([, t]) => t.due <= target).sort((a, b) => a[1].due - b[1].due)[0];
      if (!next) break;
      const [id, t] = next;
      this.now = t.due;
      if (t.every) t.due += t.every;
      else this.#pending.delete(id);
      t.fn();
    }
    this.now = target;
  }
}

describe('long timers', () => {
  test('a timeout longer than Node takes is waited in steps and fires on time, not at once', () => {
    const node = new FakeNodeTimers();
    let firedAt: number | undefined;
    longTimeout(() => void (firedAt = node.now), 60 * DAY, node);
    node.advance(DAY);
    assert.equal(firedAt, undefined, 'not after 1 ms, nor after a day');
    node.advance(58 * DAY);
    assert.equal(firedAt, undefined);
    node.advance(DAY);
    assert.equal(firedAt, 60 * DAY);
    assert.deepEqual(node.delays, [MAX_TIMER_DELAY_MS, MAX_TIMER_DELAY_MS, 60 * DAY - 2 * MAX_TIMER_DELAY_MS]);
    assert.equal(node.pending, 0);
  });

  test('a long timeout can be cancelled in any of its steps; short ones are one plain timeout', () => {
    const node = new FakeNodeTimers();
    let fired = false;
    const cancel = longTimeout(() => void (fired = true), 60 * DAY, node);
    node.advance(30 * DAY);
    cancel();
    node.advance(60 * DAY);
    assert.equal(fired, false);
    assert.equal(node.pending, 0);

    const short = new FakeNodeTimers();
    longTimeout(() => void (fired = true), 5_000, short);
    assert.deepEqual(short.delays, [5_000]);
    short.advance(5_000);
    assert.equal(fired, true);
  });

  test('an interval longer than Node takes ticks once per period; a short one is a plain setInterval', () => {
    const node = new FakeNodeTimers();
    const ticks: number[] = [];
    const cancel = longInterval(() => void ticks.push(node.now / DAY), 30 * DAY, node);
    node.advance(95 * DAY);
    assert.deepEqual(ticks, [30, 60, 90]);
    cancel();
    node.advance(100 * DAY);
    assert.equal(ticks.length, 3);
    assert.equal(node.pending, 0);

    const short = new FakeNodeTimers();
    let n = 0;
    longInterval(() => void n++, 1_000, short);
    short.advance(3_500);
    assert.equal(n, 3);
    assert.deepEqual(short.delays, [1_000]);
  });

  test('with Node’s real timers, ctx.timers does not fire a 25-day timeout or interval at once', async () => {
    const errors: unknown[] = [];
    const timers = new TimerSet(nodeScheduler, (err) => errors.push(err));
    let fired = 0;
    timers.setTimeout(() => void fired++, 25 * DAY);
    timers.setInterval(() => void fired++, 2 ** 31);
    timers.setTimeout(() => void fired++, Number.POSITIVE_INFINITY);
    await sleep(30);
    assert.equal(fired, 0);
    assert.equal(timers.active, 3);
    timers.cancelAll();
    assert.equal(timers.active, 0);
    assert.deepEqual(errors, []);
  });

  test('the test kit’s timers wait long delays as well', async () => {
    const ctx = createTestContext({ config: {}, clock: 0 });
    let firedAt: number | undefined;
    ctx.timers.setTimeout(() => void (firedAt = ctx.clock.now()), 40 * DAY);
    await ctx.clock.advance(39 * DAY);
    assert.equal(firedAt, undefined);
    await ctx.clock.advance(DAY);
    assert.equal(firedAt, 40 * DAY);
  });
});
