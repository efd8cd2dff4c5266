/** Named, long-lived management API tokens (hashes only). */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export interface ApiTokenRow {
  name: string;
  hash: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** The `api_tokens` table: one row per named token, keyed by name, the token's SHA-256 unique. */
export class ApiTokenRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** False when a token of that name exists already (nothing is written then). */
  async create(name: string, hash: string, createdAt: number): Promise<boolean> {
    const result = await this.#db
      .insertInto('api_tokens')
      .values({ name, hash, created_at: createdAt, last_used_at: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async byHash(hash: string): Promise<ApiTokenRow | null> {
    const row = await this.#db.selectFrom('api_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row ? toRow(row) : null;
  }

  /** Every token, oldest first. */
  async list(): Promise<ApiTokenRow[]> {
    const rows = await this.#db.selectFrom('api_tokens').selectAll().orderBy('created_at').orderBy('name').execute();
    return rows.map(toRow);
  }

  /** False when there was no token of that name. */
  async remove(name: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('api_tokens').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async touch(name: string, at: number): Promise<void> {
    await this.#db.updateTable('api_tokens').set({ last_used_at: at }).where('name', '=', name).execute();
  }
}

function toRow(row: { name: string; hash: string; created_at: number; last_used_at: number | null }): ApiTokenRow {
  return { name: row.name, hash: row.hash, createdAt: Number(row.created_at), lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at) };
}
