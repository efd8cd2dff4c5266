/** Revoked API tokens, kept until they would have expired. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** Ids (`jti`) of logged-out management API tokens; a row is useless once its token has expired. */
export class RevokedTokenRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async add(jti: string, expiresAt: number): Promise<void> {
    await this.#db
      .insertInto('revoked_tokens')
      .values({ jti, expires_at: expiresAt })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  /** Revocations of tokens that have not expired yet (epoch seconds), after deleting the others. */
  async active(nowSeconds: number): Promise<Array<{ jti: string; expiresAt: number }>> {
    await this.#db.deleteFrom('revoked_tokens').where('expires_at', '<=', nowSeconds).execute();
    const rows = await this.#db.selectFrom('revoked_tokens').selectAll().execute();
    return rows.map((r) => ({ jti: r.jti, expiresAt: Number(r.expires_at) }));
  }
}
