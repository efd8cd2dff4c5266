/**
 * Which events every instance has handled, so a replay after a crash never
 * answers twice.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** How long handled event ids are remembered for de-duplication across restarts. */
const RETENTION_MS = 7 * 24 * 3600 * 1000;

export class HandledEventRepository {
  readonly #db: Kysely<Database>;
  #lastPrune = 0;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async wasHandled(clientId: string, eventId: string): Promise<boolean> {
    const row = await this.#db.selectFrom('handled_events').select('event_id').where('client_id', '=', clientId).where('event_id', '=', eventId).executeTakeFirst();
    return row !== undefined;
  }

  async markHandled(clientId: string, eventId: string): Promise<void> {
    const now = Date.now();
    await this.#db
      .insertInto('handled_events')
      .values({ client_id: clientId, event_id: eventId, handled_at: now })
      .onConflict((oc) => oc.doNothing())
      .execute();
    if (now - this.#lastPrune > 3600_000) {
      this.#lastPrune = now;
      await this.#db
        .deleteFrom('handled_events')
        .where('handled_at', '<', now - RETENTION_MS)
        .execute();
    }
  }
}
