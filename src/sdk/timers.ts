/**
 * `ctx.timers`, shared by the daemon (src/core/plugin-context.ts, on Node's
 * timers) and the test kit (./testing.ts, on its clock): which timers are
 * live, cancelling them all when the instance stops, reporting a throwing
 * timer. Not part of the `trellis/sdk` surface plugins import.
 *
 * Node's setTimeout and setInterval take at most 2^31 - 1 ms (about 24.8
 * days) and fire after 1 ms for anything longer; {@link nodeScheduler} waits
 * longer delays in steps, so a poll that closes in a month closes in a month.
 */
import type { PluginTimers } from './index.ts';

/** The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** What runs the timers: calls fn after ms (every ms when `every`) until the returned function is called. */
export interface TimerScheduler {
  schedule(fn: () => Promise<void>, ms: number, every: boolean): () => void;
}

/** The delay a timer waits: NaN and negative mean now; Infinity means never. */
export function timerDelay(ms: number): number {
  return Number.isNaN(ms) ? 0 : Math.max(0, ms);
}

/** Node's timer functions, or stand-ins with the same limit (for tests). */
export interface TimerApi {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const nodeTimers: TimerApi = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

/**
 * setTimeout for any delay: one longer than {@link MAX_TIMER_DELAY_MS} is
 * waited as a chain of shorter timeouts. Returns the cancel function.
 */
export function longTimeout(fn: () => void, ms: number, api: TimerApi = nodeTimers): () => void {
  let left = timerDelay(ms);
  let handle: unknown;
  const step = () => {
    const wait = Math.min(left, MAX_TIMER_DELAY_MS);
    left -= wait;
    handle = api.setTimeout(left > 0 ? step : fn, wait);
  };
  step();
  return () => api.clearTimeout(handle);
}

/** setInterval for any period (a longer one than Node takes is a {@link longTimeout} re-armed at each tick). */
export function longInterval(fn: () => void, ms: number, api: TimerApi = nodeTimers): () => void {
  if (timerDelay(ms) <= MAX_TIMER_DELAY_MS) {
    const handle = api.setInterval(fn, ms);
    return () => api.clearInterval(handle);
  }
  let cancel = () => {};
  const arm = () => {
    cancel = longTimeout(
      () => {
        arm();
        fn();
      },
      ms,
      api,
    );
  };
  arm();
  return () => cancel();
}

/** The daemon's scheduler: Node's timers, for delays of any length. */
export const nodeScheduler: TimerScheduler = {
  schedule(fn, ms, every) {
    const run = () => void fn();
    return every ? longInterval(run, ms) : longTimeout(run, ms);
  },
};

/**
 * An instance's `ctx.timers`: each timer runs isolated (a throw goes to
 * `onError`, nothing else is affected) and `cancelAll` (on stop) clears every
 * one still waiting.
 */
export class TimerSet implements PluginTimers {
  readonly #scheduler: TimerScheduler;
  readonly #onError: (err: unknown) => void;
  readonly #active = new Set<() => void>();

  constructor(scheduler: TimerScheduler, onError: (err: unknown) => void) {
    this.#scheduler = scheduler;
    this.#onError = onError;
  }

  #wrap(fn: () => void | Promise<void>): () => Promise<void> {
    return async () => {
      try {
        await fn();
      } catch (err) {
        this.#onError(err);
      }
    };
  }

  setTimeout(fn: () => void | Promise<void>, ms: number): () => void {
    const run = this.#wrap(fn);
    const clear = this.#scheduler.schedule(
      async () => {
        this.#active.delete(cancel);
        await run();
      },
      ms,
      false,
    );
    const cancel = () => {
      clear();
      this.#active.delete(cancel);
    };
    this.#active.add(cancel);
    return cancel;
  }

  setInterval(fn: () => void | Promise<void>, ms: number): () => void {
    const clear = this.#scheduler.schedule(this.#wrap(fn), ms, true);
    const cancel = () => {
      clear();
      this.#active.delete(cancel);
    };
    this.#active.add(cancel);
    return cancel;
  }

  /** How many timers are waiting (intervals until cancelled). */
  get active(): number {
    return this.#active.size;
  }

  cancelAll(): void {
    for (const cancel of [...this.#active]) cancel();
  }
}
