/** The `plugins` table: uploaded plugin archives and where they are installed. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, PluginTable } from './schema.ts';

export interface PluginRecord {
  id: string;
  version: string;
  source: 'bundled' | 'uploaded';
  dir: string;
  manifest: Record<string, unknown>;
}

function fromRow(row: Selectable<PluginTable>): PluginRecord {
  return { id: row.id, version: row.version, source: row.source, dir: row.dir, manifest: JSON.parse(row.manifest) as Record<string, unknown> };
}

export class PluginRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(): Promise<PluginRecord[]> {
    return (await this.#db.selectFrom('plugins').selectAll().orderBy('id').execute()).map(fromRow);
  }

  async upsert(plugin: PluginRecord): Promise<void> {
    const values = { version: plugin.version, source: plugin.source, dir: plugin.dir, manifest: JSON.stringify(plugin.manifest), updated_at: Date.now() };
    await this.#db
      .insertInto('plugins')
      .values({ id: plugin.id, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
  }

  async delete(id: string): Promise<void> {
    await this.#db.deleteFrom('plugins').where('id', '=', id).execute();
  }
}
