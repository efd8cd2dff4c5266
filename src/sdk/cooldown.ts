/** Per-user rate limits for commands: one use, then a wait (in memory, per instance). */

/** "45 s", "1 min 40 s", "2 min", "1 h 5 min" (rounded up to whole seconds). */
export function formatWait(ms: number): string {
  const total = Math.max(1, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes > 0) return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
  return `${seconds} s`;
}

export class Cooldowns {
  readonly #until = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Milliseconds the user still has to wait, or 0. */
  remaining(user: string): number {
    const until = this.#until.get(user);
    if (until === undefined) return 0;
    const left = until - this.#now();
    if (left <= 0) {
      this.#until.delete(user);
      return 0;
    }
    return left;
  }

  /** Starts the user's wait; returns a function that cancels it (for a request that failed). */
  start(user: string, seconds: number): () => void {
    if (seconds <= 0) return () => undefined;
    const until = this.#now() + seconds * 1000;
    this.#until.set(user, until);
    return () => {
      if (this.#until.get(user) === until) this.#until.delete(user);
    };
  }
}
