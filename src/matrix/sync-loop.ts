/**
 * One bot account's long-poll loop. The sync token is saved only after the
 * caller has handled a batch, so a crash re-delivers (never loses) events;
 * callers deduplicate by event id.
 */
import type { MatrixClient } from './client.ts';
import { HomeserverUnreachableError, MatrixApiError } from './errors.ts';
import { jitter, sleep } from './http.ts';
import type { SyncFilter, SyncResponse } from './types.ts';
import { errorMessage } from '../shared/error-message.ts';

export type SyncState = 'idle' | 'syncing' | 'backoff' | 'stopped' | 'failed';

export interface SyncStatus {
  state: SyncState;
  lastSuccessAt: number | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** When the batch being handled now was received; null between batches (for health: busy is not stuck). */
  handlingSince?: number | null;
}

export interface SyncLogger {
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

export interface SyncLoopOptions {
  client: MatrixClient;
  loadToken(): Promise<string | null>;
  saveToken(token: string): Promise<void>;
  onSync(response: SyncResponse, info: { initial: boolean }): Promise<void>;
  onStateChange?(status: SyncStatus): void;
  filter?: SyncFilter;
  /** Long-poll timeout. */
  timeoutMs?: number;
  /** Capped low so a client resumes within seconds once the homeserver is back. */
  backoff?: { initialMs: number; maxMs: number };
  logger?: SyncLogger;
}

/**
 * Bots need no presence, typing or receipts; members are loaded lazily to
 * keep responses small. The timeline limit is a trade-off, not a cap on what
 * is seen: a room with more new events than this arrives `limited` and the
 * caller fetches the gap with /messages. 100 covers an ordinary busy room in
 * one round trip while a catch-up over many rooms stays a few MB per response.
 */
export const DEFAULT_SYNC_FILTER: SyncFilter = {
  presence: { not_types: ['*'] },
  room: {
    timeline: { limit: 100 },
    state: { lazy_load_members: true },
    ephemeral: { not_types: ['m.typing', 'm.receipt'] },
  },
};

const SILENT_LOGGER: SyncLogger = { info() {}, warn() {}, error() {} };

export class SyncLoop {
  readonly #opts: SyncLoopOptions;
  readonly #log: SyncLogger;
  readonly #filter: SyncFilter;
  readonly #initialFilter: SyncFilter;
  readonly #backoff: { initialMs: number; maxMs: number };
  #status: SyncStatus = { state: 'idle', lastSuccessAt: null, lastError: null, consecutiveFailures: 0 };
  #controller: AbortController | null = null;
  #running: Promise<void> | null = null;
  /** Set when stop() stopped waiting for a batch: its token must not be saved when it finishes later. */
  #abandoned = false;

  constructor(opts: SyncLoopOptions) {
    this.#opts = opts;
    this.#log = opts.logger ?? SILENT_LOGGER;
    this.#filter = opts.filter ?? DEFAULT_SYNC_FILTER;
    // The first sync only establishes a position; its history is skipped, so fetch as little as possible.
    this.#initialFilter = { ...this.#filter, room: { ...this.#filter.room, timeline: { ...this.#filter.room?.timeline, limit: 1 } } };
    this.#backoff = opts.backoff ?? { initialMs: 250, maxMs: 4000 };
  }

  get status(): SyncStatus {
    return { ...this.#status };
  }

  get running(): boolean {
    return this.#running !== null;
  }

  start(): void {
    if (this.#running) return;
    const controller = new AbortController();
    this.#controller = controller;
    this.#running = this.#run(controller.signal)
      .catch((err: unknown) => {
        // Only reachable through a bug or a throwing loadToken: report it instead of dying silently.
        const message = errorMessage(err);
        this.#log.error('sync loop crashed', { userId: this.#opts.client.userId, error: message });
        this.#update({ state: 'failed', lastError: `sync loop crashed: ${message}` });
      })
      .finally(() => {
        this.#running = null;
      });
  }

  /**
   * Takes no new batch: aborts the long poll and waits for the batch being
   * handled (if any) to finish and its token to be saved, for at most
   * `graceMs`. Returns false when it stopped waiting: that batch's token is
   * then never saved, so the next start fetches it again.
   */
  async stop(graceMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    this.#controller?.abort(new DOMException('sync loop stopped', 'AbortError'));
    const running = this.#running;
    let finished = true;
    if (running) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = Number.isFinite(graceMs) ? new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))) : new Promise<false>(() => {});
      finished = await Promise.race([running.then(() => true), gaveUp]);
      clearTimeout(timer);
      if (!finished) this.#abandoned = true;
    }
    if (this.#status.state !== 'failed') this.#update({ state: 'stopped' });
    return finished;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const { client } = this.#opts;
    let token = await this.#opts.loadToken();

    while (!signal.aborted) {
      const initial = token === null;
      this.#update({ state: 'syncing' });
      let response: SyncResponse;
      try {
        response = await client.sync({
          ...(token !== null ? { since: token } : {}),
          timeoutMs: initial ? 0 : (this.#opts.timeoutMs ?? 30_000),
          filter: initial ? this.#initialFilter : this.#filter,
          signal,
        });
      } catch (err) {
        if (signal.aborted) break;
        const fatal = this.#fatalMessage(err);
        if (fatal) {
          this.#log.error(fatal, { userId: client.userId });
          this.#update({ state: 'failed', lastError: fatal, consecutiveFailures: this.#status.consecutiveFailures + 1 });
          return;
        }
        await this.#backoffAfter(err, signal);
        continue;
      }

      if (this.#status.consecutiveFailures > 0) {
        this.#log.info('sync resumed', { userId: client.userId, afterFailures: this.#status.consecutiveFailures });
      }
      this.#update({ lastSuccessAt: Date.now(), consecutiveFailures: 0, lastError: null });

      // A batch is handled until it succeeds, never skipped (that would lose its events). Handling it
      // again is safe: handled events are recorded and answers carry replay-stable transaction ids.
      this.#update({ handlingSince: Date.now() });
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#opts.onSync(response, { initial });
          break;
        } catch (err) {
          if (this.#abandoned) return;
          const message = errorMessage(err);
          if (attempt === 1 || attempt % 20 === 0) {
            this.#log.error('handling a sync batch failed; handling it again', { userId: client.userId, attempt, error: message });
          }
          this.#update({ lastError: `handling a sync batch failed: ${message}` });
          // Not aborted by stop(): a batch that began is finished (or abandoned by stop's grace period).
          await sleep(jitter(Math.min(this.#backoff.initialMs * 2 ** attempt, this.#backoff.maxMs)));
        }
      }
      if (this.#abandoned) return;
      this.#update({ handlingSince: null, lastSuccessAt: Date.now() });
      try {
        await this.#opts.saveToken(response.next_batch);
      } catch (err) {
        // Only when shutting down: the batch is fetched again after the restart and its events deduplicated.
        this.#log.warn('sync token not saved; the last batch is fetched again at the next start', { userId: client.userId, error: errorMessage(err) });
        return;
      }
      token = response.next_batch;
    }
  }

  /** Errors that retrying cannot fix, as the message to show the admin; null for transient ones. */
  #fatalMessage(err: unknown): string | null {
    if (!(err instanceof MatrixApiError)) return null;
    const who = this.#opts.client.userId;
    if (err.status === 401 || err.errcode === 'M_UNKNOWN_TOKEN' || err.errcode === 'M_MISSING_TOKEN') {
      const softLogout = err.data.soft_logout === true ? ' (soft logout)' : '';
      return `access token for ${who} was rejected (${err.errcode})${softLogout}; log the client in again`;
    }
    if (err.errcode === 'M_USER_DEACTIVATED') return `the account ${who} has been deactivated on its homeserver; remove the client or reactivate the account`;
    return null;
  }

  async #backoffAfter(err: unknown, signal: AbortSignal): Promise<void> {
    const failures = this.#status.consecutiveFailures + 1;
    const message = errorMessage(err);
    let delay: number;
    if (err instanceof MatrixApiError && err.status === 429) {
      delay = err.retryAfterMs ?? this.#backoff.maxMs;
    } else {
      delay = jitter(Math.min(this.#backoff.initialMs * 2 ** (failures - 1), this.#backoff.maxMs));
    }
    this.#update({ state: 'backoff', lastError: message, consecutiveFailures: failures });
    const context = { userId: this.#opts.client.userId, failures, retryInMs: delay, error: message };
    // One warning when the outage starts, then only occasionally: an hour-long outage must not flood the logs.
    if (failures === 1 || failures % 50 === 0) {
      if (err instanceof HomeserverUnreachableError || (err instanceof MatrixApiError && err.status >= 500)) this.#log.warn('sync failed; retrying', context);
      else this.#log.error('sync failed; retrying', context);
    }
    try {
      await sleep(delay, signal);
    } catch {
      // aborted: the loop condition ends it
    }
  }

  #update(patch: Partial<SyncStatus>): void {
    const previous = this.#status;
    this.#status = { ...previous, ...patch };
    if (this.#status.state !== previous.state || this.#status.consecutiveFailures !== previous.consecutiveFailures) {
      this.#opts.onStateChange?.({ ...this.#status });
    }
  }
}
