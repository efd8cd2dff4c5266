/**
 * The `clients` table: bot accounts' stored settings and credentials (named
 * after maubot's API).
 */
import type { Kysely, Selectable } from 'kysely';
import type { ClientTable, Database } from './schema.ts';

export interface AccountRecord {
  id: string;
  homeserver: string;
  homeserverUrl: string;
  accessToken: string;
  deviceId: string | null;
  displayName: string | null;
  avatarUrl: string | null;
  syncToken: string | null;
  autojoin: boolean;
  autojoinAllow: string[];
  enabled: boolean;
  managedBy: 'api' | 'config';
  /** End-to-end encryption for this account; absent means the default (on). */
  encryption?: boolean;
}

function fromRow(row: Selectable<ClientTable>): AccountRecord {
  return {
    id: row.id,
    homeserver: row.homeserver,
    homeserverUrl: row.homeserver_url,
    accessToken: row.access_token,
    deviceId: row.device_id,
    displayName: row.display_name,
    avatarUrl: row.avatar_url,
    syncToken: row.sync_token,
    autojoin: row.autojoin === 1,
    autojoinAllow: JSON.parse(row.autojoin_allow) as string[],
    enabled: row.enabled === 1,
    managedBy: row.managed_by,
    encryption: row.encryption === 1,
  };
}

export class ClientRepository {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async list(): Promise<AccountRecord[]> {
    const rows = await this.#db.selectFrom('clients').selectAll().orderBy('id').execute();
    return rows.map(fromRow);
  }

  async get(id: string): Promise<AccountRecord | undefined> {
    const row = await this.#db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async upsert(client: Omit<AccountRecord, 'syncToken'> & { syncToken?: string | null }): Promise<void> {
    const now = Date.now();
    const values = {
      homeserver: client.homeserver,
      homeserver_url: client.homeserverUrl,
      access_token: client.accessToken,
      device_id: client.deviceId,
      display_name: client.displayName,
      avatar_url: client.avatarUrl,
      autojoin: client.autojoin ? 1 : 0,
      autojoin_allow: JSON.stringify(client.autojoinAllow),
      enabled: client.enabled ? 1 : 0,
      managed_by: client.managedBy,
      // Absent keeps the stored flag (new rows get the column default, on).
      ...(client.encryption === undefined ? {} : { encryption: client.encryption ? 1 : 0 }),
      updated_at: now,
    };
    await this.#db
      .insertInto('clients')
      .values({ id: client.id, ...values, sync_token: client.syncToken ?? null, created_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet(client.syncToken === undefined ? values : { ...values, sync_token: client.syncToken }))
      .execute();
  }

  async setSyncToken(id: string, token: string | null): Promise<void> {
    await this.#db.updateTable('clients').set({ sync_token: token }).where('id', '=', id).execute();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('clients').where('id', '=', id).executeTakeFirst();
    await this.#db.deleteFrom('handled_events').where('client_id', '=', id).execute();
    return Number(result.numDeletedRows) > 0;
  }
}
