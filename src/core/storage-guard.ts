/**
 * The bookkeeping writes of the message path (handled event ids, sync
 * tokens) must neither be skipped nor make a batch run again: skipping loses
 * messages, re-running answers them twice. When storage fails (disk full,
 * read-only file system, a lock held elsewhere) the write is retried where it
 * stands, so the account's sync simply pauses, and resumes by itself once
 * writes work again. Meanwhile /health is 503 with the reason and one ERROR
 * (which reaches the admin room) says what to do.
 */
import type { Logger } from './logging.ts';
import { sleep } from '../matrix/http.ts';
import { errorMessage } from '../shared/error-message.ts';

export interface StorageFailure {
  since: number;
  error: string;
  /** What could not be written, e.g. "recording handled events". */
  what: string;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5_000;

export class StorageGuard {
  readonly #log: Logger;
  /** Set during an outage: one caller probes the storage, the others wait for `over`. */
  #outage: (StorageFailure & { probing: boolean; over: Promise<void>; end: () => void }) | null = null;
  readonly #stopped = new AbortController();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Set while writes keep failing; null when storage works. */
  get failure(): StorageFailure | null {
    if (!this.#outage) return null;
    const { since, error, what } = this.#outage;
    return { since, error, what };
  }

  /**
   * Runs a storage operation until it succeeds; rejects only once stop() was
   * called. During an outage only one caller at a time tries again (SQLite
   * blocks the whole process while it waits for a lock), the rest wait.
   */
  async retry<T>(what: string, op: () => Promise<T>): Promise<T> {
    let delay = RETRY_MIN_MS;
    for (;;) {
      const outage = this.#outage;
      let probing = false;
      if (outage) {
        if (outage.probing) {
          await this.#until(outage.over);
          continue;
        }
        outage.probing = probing = true;
        try {
          await sleep(delay, this.#stopped.signal);
        } catch (err) {
          outage.probing = false;
          throw err;
        }
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
      try {
        const result = await op();
        this.#endOutage();
        return result;
      } catch (err) {
        if (this.#stopped.signal.aborted) throw err;
        if (probing && this.#outage) this.#outage.probing = false;
        if (!this.#outage) this.#startOutage(what, errorMessage(err));
      }
    }
  }

  #startOutage(what: string, error: string): void {
    let end!: () => void;
    const over = new Promise<void>((r) => (end = r));
    this.#outage = { since: Date.now(), error, what, probing: false, over, end };
    this.#log.error(
      `storage write failed while ${what}: ${error}. Message handling is paused (nothing is skipped or repeated) and resumes by itself once the database is writable again: check free disk space, that the file system is not read-only and that no other process holds the database`,
    );
  }

  #endOutage(): void {
    const outage = this.#outage;
    if (!outage) return;
    this.#outage = null;
    outage.end();
    this.#log.info(`storage writable again after ${Math.round((Date.now() - outage.since) / 1000)} s; message handling resumed`);
  }

  /** Waits for a promise, or rejects once stop() is called. */
  async #until(promise: Promise<void>): Promise<void> {
    const signal = this.#stopped.signal;
    signal.throwIfAborted();
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true }));
    try {
      await Promise.race([promise, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Shutdown: pending retries give up (what they wrote is replayed after the restart). */
  stop(): void {
    this.#stopped.abort(new Error('shutting down'));
  }
}
