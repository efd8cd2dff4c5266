import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { openNodeSqlite } from './sqlite-driver.ts';
import { migrationProvider } from './migrations.ts';
import type { Database } from './schema.ts';
import { ClientRepository } from './clients.ts';
import { InstanceRepository } from './instances.ts';
import { PluginRepository } from './plugins.ts';
import { PluginStorageRepository } from './plugin-storage.ts';
import { HandledEventRepository } from './handled-events.ts';
import { LogRecordRepository } from './log-records.ts';

export interface StorageOptions {
  type: 'sqlite' | 'postgres';
  /** SQLite file path (absolute), or ':memory:'. */
  path?: string;
  /** PostgreSQL connection URL. */
  url?: string;
  /** How many log records to keep. */
  keepLogRecords?: number;
}

export interface Storage {
  readonly db: Kysely<Database>;
  readonly clients: ClientRepository;
  readonly instances: InstanceRepository;
  readonly plugins: PluginRepository;
  readonly pluginStorage: PluginStorageRepository;
  readonly handledEvents: HandledEventRepository;
  readonly logs: LogRecordRepository;
  close(): Promise<void>;
}

export async function openStorage(options: StorageOptions): Promise<Storage> {
  if (options.type !== 'sqlite') {
    throw new Error(`database.type "${options.type}" is not supported yet; use "sqlite"`);
  }
  const path = options.path ?? ':memory:';
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // The database holds access tokens: create it private; SQLite gives -wal/-shm the same mode.
    if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600 });
  }
  let sqlite;
  try {
    sqlite = openNodeSqlite(path);
  } catch (err) {
    throw new Error(`cannot open SQLite database ${path}: ${(err as Error).message}; check that the folder exists and is writable by this user`);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const migrator = new Migrator({ db, provider: migrationProvider('sqlite') });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    await db.destroy();
    throw new Error(`database migration ${failed} failed: ${(error as Error).message}`);
  }
  return {
    db,
    clients: new ClientRepository(db),
    instances: new InstanceRepository(db),
    plugins: new PluginRepository(db),
    pluginStorage: new PluginStorageRepository(db),
    handledEvents: new HandledEventRepository(db),
    logs: new LogRecordRepository(db, options.keepLogRecords ?? 5000),
    close: () => db.destroy(),
  };
}
