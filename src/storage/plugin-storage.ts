/** Per-instance key/value storage behind the SDK's `ctx.storage`. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * The smallest string above every string that starts with prefix, in code
 * point order (SQLite's BINARY collation compares UTF-8, which sorts the
 * same). Appending '\uffff' instead would miss keys with characters beyond
 * the BMP, such as emoji.
 */
function prefixUpperBound(prefix: string): string | null {
  const chars = [...prefix];
  while (chars.length > 0) {
    const cp = (chars.pop() as string).codePointAt(0) as number;
    if (cp < 0x10ffff) return chars.join('') + String.fromCodePoint(cp === 0xd7ff ? 0xe000 : cp + 1);
  }
  return null;
}

/**
 * Key-value rows of every instance. Each method takes the instance id first;
 * the core binds it per instance, so a plugin can only ever reach its own rows.
 */
export class PluginStorageRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(instanceId: string, key: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('plugin_storage').select('value').where('instance_id', '=', instanceId).where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async set(instanceId: string, key: string, value: string): Promise<void> {
    const now = Date.now();
    await this.#db
      .insertInto('plugin_storage')
      .values({ instance_id: instanceId, key, value, updated_at: now })
      .onConflict((oc) => oc.columns(['instance_id', 'key']).doUpdateSet({ value, updated_at: now }))
      .execute();
  }

  async delete(instanceId: string, key: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('plugin_storage').where('instance_id', '=', instanceId).where('key', '=', key).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async list(instanceId: string, prefix = ''): Promise<Array<{ key: string; value: string; updatedAt: number }>> {
    // Range scan instead of LIKE so '%' and '_' in keys are not wildcards.
    let query = this.#db.selectFrom('plugin_storage').select(['key', 'value', 'updated_at']).where('instance_id', '=', instanceId);
    if (prefix) {
      query = query.where('key', '>=', prefix);
      const upper = prefixUpperBound(prefix);
      if (upper !== null) query = query.where('key', '<', upper);
    }
    const rows = await query.orderBy('key').execute();
    return rows.map((r) => ({ key: r.key, value: r.value, updatedAt: Number(r.updated_at) }));
  }

  async deleteAll(instanceId: string): Promise<void> {
    await this.#db.deleteFrom('plugin_storage').where('instance_id', '=', instanceId).execute();
  }
}
