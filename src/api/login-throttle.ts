/**
 * Throttles password guessing on the management login, counting failed
 * attempts only (a successful login never counts, and clears its address and
 * username):
 *
 * - per address: after `maxFailuresPerAddress` failures within `windowMs`
 *   the address is refused until the oldest of them is older than the window.
 *   This is what stops one attacker.
 * - per username: after `freeFailuresPerUsername` failures (from anywhere),
 *   each further attempt waits an exponential back-off after the last
 *   failure, capped at `maxUsernameBackoffMs`. Attackers on many addresses
 *   are slowed down, while the admin, whose correct password arrives from
 *   another address, is never held up for more than that short cap.
 *
 * State is in memory and bounded (`maxEntries` per map, oldest dropped), so a
 * flood of made-up usernames or addresses cannot grow it without limit.
 */

export interface LoginThrottleOptions {
  maxFailuresPerAddress: number;
  windowMs: number;
  freeFailuresPerUsername: number;
  maxUsernameBackoffMs: number;
  maxEntries: number;
  /** Injected in tests. */
  now: () => number;
}

export const DEFAULT_LOGIN_THROTTLE: Omit<LoginThrottleOptions, 'now'> = {
  maxFailuresPerAddress: 10,
  windowMs: 15 * 60_000,
  freeFailuresPerUsername: 3,
  maxUsernameBackoffMs: 5_000,
  maxEntries: 10_000,
};

/** Why an attempt is refused before its password is checked, and for how long. */
export interface ThrottleVerdict {
  reason: 'address' | 'username';
  retryAfterMs: number;
}

interface UsernameState {
  failures: number;
  lastFailureAt: number;
}

export class LoginThrottle {
  readonly #o: LoginThrottleOptions;
  /** address → times of its recent failures, oldest first (at most maxFailuresPerAddress). */
  readonly #addresses = new Map<string, number[]>();
  readonly #usernames = new Map<string, UsernameState>();

  constructor(options: Partial<LoginThrottleOptions> = {}) {
    this.#o = { ...DEFAULT_LOGIN_THROTTLE, now: Date.now, ...options };
  }

  /**
   * Null when the attempt may go ahead; otherwise why it is refused and when
   * to retry. An allowed attempt counts as a failure at once, so concurrent
   * guesses cannot all slip in while their passwords are being hashed;
   * {@link succeeded} takes it back.
   */
  attempt(address: string, username: string): ThrottleVerdict | null {
    const now = this.#o.now();
    const times = this.#recentFailures(address, now);
    if (times.length >= this.#o.maxFailuresPerAddress) {
      return { reason: 'address', retryAfterMs: times[0] + this.#o.windowMs - now };
    }
    let user = this.#usernames.get(username);
    if (user && now - user.lastFailureAt >= this.#o.windowMs) user = undefined;
    if (user) {
      const wait = user.lastFailureAt + this.#backoff(user.failures) - now;
      if (wait > 0) return { reason: 'username', retryAfterMs: wait };
    }
    times.push(now);
    this.#remember(this.#addresses, address, times);
    this.#remember(this.#usernames, username, { failures: (user?.failures ?? 0) + 1, lastFailureAt: now });
    return null;
  }

  /** The password was right: the address and the username start afresh. */
  succeeded(address: string, username: string): void {
    this.#addresses.delete(address);
    this.#usernames.delete(username);
  }

  /** Back-off after `failures` failures: none before the free ones are used up, then 1 s, 2 s, 4 s … up to the cap. */
  #backoff(failures: number): number {
    const over = failures - this.#o.freeFailuresPerUsername;
    if (over < 0) return 0;
    return Math.min(1000 * 2 ** Math.min(over, 20), this.#o.maxUsernameBackoffMs);
  }

  #recentFailures(address: string, now: number): number[] {
    const times = (this.#addresses.get(address) ?? []).filter((t) => now - t < this.#o.windowMs);
    if (times.length === 0) this.#addresses.delete(address);
    return times;
  }

  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    // Re-inserting moves the key to the end, so the first key is the least recently failed one.
    map.delete(key);
    map.set(key, value);
    while (map.size > this.#o.maxEntries) map.delete(map.keys().next().value as string);
  }
}
