/** Schema migrations, in order, for Kysely's migrator. */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

/**
 * Schema migrations, applied in name order at start. Never edit a released
 * migration; add a new one.
 */
function migrations(dialect: Dialect): Record<string, Migration> {
  const autoId = dialect === 'postgres' ? 'bigserial' : 'integer';
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('clients')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('homeserver', 'text', (c) => c.notNull())
          .addColumn('homeserver_url', 'text', (c) => c.notNull())
          .addColumn('access_token', 'text', (c) => c.notNull())
          .addColumn('device_id', 'text')
          .addColumn('display_name', 'text')
          .addColumn('avatar_url', 'text')
          .addColumn('sync_token', 'text')
          .addColumn('autojoin', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('autojoin_allow', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('managed_by', 'text', (c) => c.notNull().defaultTo('api'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('plugins')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('dir', 'text', (c) => c.notNull())
          .addColumn('manifest', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('instances')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('plugin_id', 'text', (c) => c.notNull())
          .addColumn('client_id', 'text', (c) => c.notNull())
          .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
          .addColumn('config', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('rooms', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('managed_by', 'text', (c) => c.notNull().defaultTo('api'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('plugin_storage')
          .addColumn('instance_id', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('plugin_storage_pk', ['instance_id', 'key'])
          .execute();
        await db.schema
          .createTable('handled_events')
          .addColumn('client_id', 'text', (c) => c.notNull())
          .addColumn('event_id', 'text', (c) => c.notNull())
          .addColumn('handled_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('handled_events_pk', ['client_id', 'event_id'])
          .execute();
        await db.schema.createIndex('handled_events_time').on('handled_events').column('handled_at').execute();
        await db.schema
          .createTable('log_records')
          .addColumn('id', sql.raw(autoId) as never, (c) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('time', 'bigint', (c) => c.notNull())
          .addColumn('level', 'text', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('instance_id', 'text')
          .addColumn('client_id', 'text')
          .addColumn('context', 'text')
          .execute();
        await db.schema.createIndex('log_records_time').on('log_records').column('time').execute();
      },
    },
    '0002_client_encryption': {
      async up(db: Kysely<unknown>) {
        // Existing accounts get end-to-end encryption too: it is the default for every client.
        await db.schema
          .alterTable('clients')
          .addColumn('encryption', 'integer', (c) => c.notNull().defaultTo(1))
          .execute();
      },
    },
    '0003_revoked_tokens': {
      async up(db: Kysely<unknown>) {
        // Logout must outlive a restart: the token itself stays valid by signature until it expires.
        await db.schema
          .createTable('revoked_tokens')
          .addColumn('jti', 'text', (c) => c.primaryKey())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0004_instance_plugin_version': {
      async up(db: Kysely<unknown>) {
        // The plugin version an instance's config was last accepted by: a new version may upgrade it.
        // Null for configs stored before: they are upgraded only if the installed version rejects them.
        await db.schema.alterTable('instances').addColumn('plugin_version', 'text').execute();
      },
    },
    '0005_api_tokens': {
      async up(db: Kysely<unknown>) {
        // Named, long-lived management API tokens for scripts and mbc (`trellis token create`): only a hash is stored.
        await db.schema
          .createTable('api_tokens')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .execute();
      },
    },
    '0006_instance_senders': {
      async up(db: Kysely<unknown>) {
        // Other bot accounts an instance may send as (ctx.matrixAs): a JSON array of user ids.
        await db.schema
          .alterTable('instances')
          .addColumn('senders', 'text', (c) => c.notNull().defaultTo('[]'))
          .execute();
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
