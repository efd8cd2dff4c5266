/** Per-hook counters the console and `!webhook list` show: deliveries, failures, the last error. Kept in storage. */
import type { JsonValue, PluginStorage } from 'trellis/sdk';
import type { HookStatView as HookStat } from './admin-types.ts';

const empty = (): HookStat => ({ delivered: 0, last_delivery_at: null, last_event_id: null, failures: 0, last_error: null, last_error_at: null, transform_failing: false });
const key = (id: string) => `stats:${id}`;

export class HookStats {
  readonly #storage: PluginStorage;
  readonly #stats = new Map<string, HookStat>();

  constructor(storage: PluginStorage) {
    this.#storage = storage;
  }

  async load(): Promise<void> {
    for (const { key: k, value } of await this.#storage.list('stats:')) this.#stats.set(k.slice('stats:'.length), { ...empty(), ...(value as object) });
  }

  get(id: string): HookStat {
    return this.#stats.get(id) ?? empty();
  }

  delivered(id: string, eventId: string): void {
    this.#update(id, (s) => ({ ...s, delivered: s.delivered + 1, last_delivery_at: Date.now(), last_event_id: eventId }));
  }

  failed(id: string, error: string): void {
    this.#update(id, (s) => ({ ...s, failures: s.failures + 1, last_error: error, last_error_at: Date.now() }));
  }

  /** Records a transform failure; true when it is the first since the transform last worked (say it in the room). */
  transformFailed(id: string, error: string): boolean {
    const first = !this.get(id).transform_failing;
    this.#update(id, (s) => ({ ...s, failures: s.failures + 1, last_error: `transform: ${error}`, last_error_at: Date.now(), transform_failing: true }));
    return first;
  }

  transformOk(id: string): void {
    if (this.get(id).transform_failing) this.#update(id, (s) => ({ ...s, transform_failing: false }));
  }

  async forget(id: string): Promise<void> {
    this.#stats.delete(id);
    await this.#storage.delete(key(id));
  }

  #update(id: string, change: (stat: HookStat) => HookStat): void {
    const next = change(this.get(id));
    this.#stats.set(id, next);
    // Counters only: a lost write costs an undercount, never a message, so delivery does not wait for it.
    void this.#storage.set(key(id), next as unknown as JsonValue).catch(() => undefined);
  }
}
