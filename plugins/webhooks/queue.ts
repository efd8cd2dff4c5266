/**
 * The durable delivery queue: a request is stored before it is answered, and
 * each hook's messages go out one at a time in the order they arrived. A
 * failed send (homeserver down, bot not in the room) is retried with backoff
 * until it succeeds; what is stored when the instance stops goes out after the
 * next start. One lane per hook, so a stuck hook delays only itself.
 */
import type { JsonValue, PluginLogger, PluginStorage } from 'trellis/sdk';
import { errorMessage } from 'trellis/sdk';
import type { OutgoingMessage } from './message.ts';

/** One stored request, rendered: what delivery posts. */
export interface QueuedDelivery {
  hook: string;
  message: OutgoingMessage;
  /** The payload to attach under hookshot's key, or null. */
  data: JsonValue | null;
  received_at: number;
}

export interface QueueOptions {
  storage: PluginStorage;
  log: PluginLogger;
  signal: AbortSignal;
  /** Posts one delivery; `key` names it for replay-safe sends. Returns the event id; throws to be retried. */
  deliver(entry: QueuedDelivery, key: string): Promise<string>;
  /** After a failed attempt (the entry stays and is retried). */
  onRetry?(entry: QueuedDelivery, err: unknown, attempt: number): void;
}

interface Slot {
  key: string;
  state: 'pending' | 'stored' | 'dropped';
  entry?: QueuedDelivery;
  settle: (eventId: string | null) => void;
  delivered: Promise<string | null>;
}

const PREFIX = 'q:';
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 10_000;

function slot(key: string, state: Slot['state'], entry?: QueuedDelivery): Slot {
  let settle!: (eventId: string | null) => void;
  const delivered = new Promise<string | null>((resolve) => (settle = resolve));
  return { key, state, entry, settle, delivered };
}

/** A handle on a request between its arrival and its storage. */
export interface Reservation {
  readonly key: string;
  /** Resolves with the event id once posted (null if the request was dropped or the instance stopped). */
  readonly delivered: Promise<string | null>;
}

export class DeliveryQueue {
  readonly #options: QueueOptions;
  readonly #lanes = new Map<string, Slot[]>();
  readonly #running = new Set<string>();
  #lastSeq = 0;

  constructor(options: QueueOptions) {
    this.#options = options;
    options.signal.addEventListener('abort', () => {
      for (const lane of this.#lanes.values()) for (const s of lane) s.settle(null);
    });
  }

  /** Loads what an earlier run stored and starts delivering it. */
  async restore(): Promise<number> {
    const stored = await this.#options.storage.list<JsonValue>(PREFIX);
    for (const { key, value } of stored) {
      const entry = value as unknown as QueuedDelivery;
      this.#lastSeq = Math.max(this.#lastSeq, Number(key.slice(key.lastIndexOf(':') + 1)) || 0);
      this.#lane(entry.hook).push(slot(key, 'stored', entry));
    }
    for (const hook of this.#lanes.keys()) this.#kick(hook);
    return stored.length;
  }

  /** Takes the request's place in its hook's order, before anything async happens to it. */
  reserve(hook: string): Reservation {
    // Microseconds since the epoch, strictly increasing: keys sort in arrival order, also after a restart.
    this.#lastSeq = Math.max(Date.now() * 1000, this.#lastSeq + 1);
    const s = slot(`${PREFIX}${hook}:${String(this.#lastSeq).padStart(18, '0')}`, 'pending');
    this.#lane(hook).push(s);
    return s;
  }

  /** Stores the rendered request; once this resolves the request may be acknowledged. */
  async commit(reservation: Reservation, entry: QueuedDelivery): Promise<void> {
    const s = reservation as Slot;
    try {
      await this.#options.storage.set(s.key, entry as unknown as JsonValue);
    } catch (err) {
      this.abandon(reservation);
      throw err;
    }
    s.entry = entry;
    s.state = 'stored';
    this.#kick(entry.hook);
  }

  /** The request will not be delivered (refused after its reservation): later ones need not wait for it. */
  abandon(reservation: Reservation): void {
    const s = reservation as Slot;
    s.state = 'dropped';
    s.settle(null);
    const hook = s.key.slice(PREFIX.length, s.key.lastIndexOf(':'));
    this.#kick(hook);
  }

  /** Stored deliveries not yet posted, per hook. */
  depth(hook: string): number {
    return (this.#lanes.get(hook) ?? []).filter((s) => s.state === 'stored').length;
  }

  /** Forgets a removed hook's waiting deliveries (from memory and storage). */
  async drop(hook: string): Promise<number> {
    const lane = this.#lanes.get(hook) ?? [];
    this.#lanes.delete(hook);
    for (const s of lane) s.settle(null);
    const stored = await this.#options.storage.list(`${PREFIX}${hook}:`);
    for (const { key } of stored) await this.#options.storage.delete(key);
    return stored.length;
  }

  #lane(hook: string): Slot[] {
    let lane = this.#lanes.get(hook);
    if (!lane) this.#lanes.set(hook, (lane = []));
    return lane;
  }

  #kick(hook: string): void {
    if (this.#running.has(hook) || this.#options.signal.aborted) return;
    this.#running.add(hook);
    void this.#drain(hook).finally(() => this.#running.delete(hook));
  }

  async #drain(hook: string): Promise<void> {
    const { signal } = this.#options;
    for (;;) {
      const lane = this.#lanes.get(hook);
      const head = lane?.[0];
      if (!lane || !head || signal.aborted) {
        if (lane && lane.length === 0) this.#lanes.delete(hook);
        return;
      }
      // A request still being rendered or stored holds the line: the ones behind it wait for it.
      if (head.state === 'pending') return;
      if (head.state === 'stored' && head.entry) {
        const eventId = await this.#deliverWithRetry(head.key, head.entry);
        if (eventId === null) return; // stopping: the entry stays stored for the next start
        await this.#forget(head.key);
        head.settle(eventId);
      }
      if (lane[0] === head) lane.shift();
    }
  }

  async #deliverWithRetry(key: string, entry: QueuedDelivery): Promise<string | null> {
    const { signal } = this.#options;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await this.#options.deliver(entry, key);
      } catch (err) {
        if (signal.aborted) return null;
        this.#options.onRetry?.(entry, err, attempt);
        if (attempt === 1) this.#options.log.warn(`webhook delivery failed, retrying until it succeeds: ${errorMessage(err)}`, { hook: entry.hook });
        await sleep(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempt - 1)), signal);
      }
    }
    return null;
  }

  /** Removes a delivered entry; a failing write is retried, since leaving it would post it again after a restart. */
  async #forget(key: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.storage.delete(key);
        return;
      } catch (err) {
        if (this.#options.signal.aborted) return; // the replay after the restart reuses the send's transaction id
        if (attempt === 1) this.#options.log.warn(`could not remove a delivered webhook request from storage, retrying: ${errorMessage(err)}`);
        await sleep(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * attempt), this.#options.signal);
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
