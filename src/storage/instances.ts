/**
 * The `instances` table: plugin, bot account, rooms, config and state of each
 * instance.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, InstanceTable } from './schema.ts';

export interface InstanceRecord {
  id: string;
  pluginId: string;
  clientId: string;
  enabled: boolean;
  config: Record<string, unknown>;
  rooms: string[];
  /** Other bot accounts of this daemon the instance may send as (`ctx.matrixAs`); the operator's choice. */
  senders: string[];
  managedBy: 'api' | 'config';
  /**
   * The plugin version the config was last accepted by (validated when the
   * operator set it, or upgraded to it); null when not known (stored before
   * Trellis recorded it). Left out on upsert: the stored one is kept.
   */
  pluginVersion?: string | null;
}

function fromRow(row: Selectable<InstanceTable>): InstanceRecord {
  return {
    id: row.id,
    pluginId: row.plugin_id,
    clientId: row.client_id,
    enabled: row.enabled === 1,
    config: JSON.parse(row.config) as Record<string, unknown>,
    rooms: JSON.parse(row.rooms) as string[],
    senders: JSON.parse(row.senders) as string[],
    managedBy: row.managed_by,
    pluginVersion: row.plugin_version,
  };
}

export class InstanceRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(): Promise<InstanceRecord[]> {
    const rows = await this.#db.selectFrom('instances').selectAll().orderBy('id').execute();
    return rows.map(fromRow);
  }

  async get(id: string): Promise<InstanceRecord | undefined> {
    const row = await this.#db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async upsert(instance: InstanceRecord): Promise<void> {
    const now = Date.now();
    const values = {
      plugin_id: instance.pluginId,
      client_id: instance.clientId,
      enabled: instance.enabled ? 1 : 0,
      config: JSON.stringify(instance.config),
      rooms: JSON.stringify(instance.rooms),
      senders: JSON.stringify(instance.senders),
      managed_by: instance.managedBy,
      ...(instance.pluginVersion !== undefined ? { plugin_version: instance.pluginVersion } : {}),
      updated_at: now,
    };
    await this.#db
      .insertInto('instances')
      .values({ id: instance.id, ...values, created_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
  }

  /**
   * Stores an upgraded config, only if the stored one is still `from` (an
   * operator's change made meanwhile wins). Returns whether it was stored.
   */
  async replaceConfig(id: string, from: Record<string, unknown>, to: Record<string, unknown>, pluginVersion: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('instances')
      .set({ config: JSON.stringify(to), plugin_version: pluginVersion, updated_at: Date.now() })
      .where('id', '=', id)
      .where('config', '=', JSON.stringify(from))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('instances').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
