/**
 * One long-poll /sync loop for a test user that notes when each reply (an
 * event with `m.in_reply_to`) arrives: the benchmarks' clock for "the person
 * saw the bot's answer".
 */
import { performance } from 'node:perf_hooks';
import type { TestUser } from '../test/harness/matrix-user.ts';

const LONG_POLL_MS = 30_000;

interface SyncEvent {
  type: string;
  content?: { body?: unknown; 'm.relates_to'?: { 'm.in_reply_to'?: { event_id?: unknown } } };
}
interface SyncResponse {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: SyncEvent[] } }> };
}

/**
 * One long-poll /sync loop for the user, so a reply is seen as soon as the
 * homeserver hands it out (no /messages polling, no per-ping requests).
 * Replies can arrive before the send call returns the event id, hence `seen`.
 */
export interface Reply {
  /** performance.now() when the sync response carrying the reply arrived. */
  at: number;
  body: string;
}

export class ReplyWatcher {
  readonly #user: TestUser;
  readonly #filter: string;
  readonly #seen = new Map<string, Reply>();
  readonly #waiters = new Map<string, (reply: Reply) => void>();
  readonly #abort = new AbortController();
  #since = '';
  #loop: Promise<void> | undefined;
  #lastError: string | undefined;

  constructor(user: TestUser, roomId: string) {
    this.#user = user;
    // Only this room's messages: the response stays small and nothing else wakes the poll.
    this.#filter = JSON.stringify({
      presence: { types: [] },
      account_data: { types: [] },
      room: {
        rooms: [roomId],
        timeline: { limit: 50, types: ['m.room.message'] },
        state: { types: [] },
        ephemeral: { types: [] },
        account_data: { types: [] },
      },
    });
  }

  async start(): Promise<void> {
    // Establishes the since-token so only events after this point are considered.
    this.#since = (await this.#sync(0)).next_batch;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  waitForReply(eventId: string, timeoutMs: number): Promise<Reply> {
    const seen = this.#seen.get(eventId);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(eventId);
        reject(new Error(`no reply to ${eventId} within ${timeoutMs} ms${this.#lastError ? ` (last sync error: ${this.#lastError})` : ''}; is the instance running and the bot in the room?`));
      }, timeoutMs);
      this.#waiters.set(eventId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  async #run(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        const res = await this.#sync(LONG_POLL_MS);
        const at = performance.now();
        this.#since = res.next_batch;
        for (const room of Object.values(res.rooms?.join ?? {})) {
          for (const ev of room.timeline?.events ?? []) {
            const target = ev.content?.['m.relates_to']?.['m.in_reply_to']?.event_id;
            if (typeof target !== 'string') continue;
            const reply = { at, body: typeof ev.content?.body === 'string' ? ev.content.body : '' };
            this.#seen.set(target, reply);
            this.#waiters.get(target)?.(reply);
            this.#waiters.delete(target);
          }
        }
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.#lastError = err instanceof Error ? err.message : String(err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  #sync(timeoutMs: number): Promise<SyncResponse> {
    const params = new URLSearchParams({ timeout: String(timeoutMs), filter: this.#filter });
    if (this.#since) params.set('since', this.#since);
    return fetch(`${this.#user.baseUrl}/_matrix/client/v3/sync?${params}`, {
      headers: { authorization: `Bearer ${this.#user.accessToken}` },
      signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(timeoutMs + 30_000)]),
    }).then(async (res) => {
      if (!res.ok) throw new Error(`GET /sync → HTTP ${res.status}`);
      return (await res.json()) as SyncResponse;
    });
  }
}
