/**
 * Opens the database (SQLite by default), runs migrations and hands out one
 * repository per table.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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
import { RevokedTokenRepository } from './revoked-tokens.ts';
import { ApiTokenRepository } from './api-tokens.ts';
import { errorMessage } from '../shared/error-message.ts';

export interface StorageOptions {
  type: 'sqlite' | 'postgres';
  /** SQLite file path (absolute), or ':memory:'. */
  path?: string;
  /** PostgreSQL connection URL. */
  url?: string;
  /** How many log records to keep. */
  keepLogRecords?: number;
  /**
   * Folder of the bot accounts' end-to-end crypto stores. Stores there mean
   * bot accounts existed, so a missing or empty database file is a lost
   * database, not a fresh install.
   */
  cryptoDir?: string;
}

export interface Storage {
  readonly db: Kysely<Database>;
  readonly clients: ClientRepository;
  readonly instances: InstanceRepository;
  readonly plugins: PluginRepository;
  readonly pluginStorage: PluginStorageRepository;
  readonly handledEvents: HandledEventRepository;
  readonly logs: LogRecordRepository;
  readonly revokedTokens: RevokedTokenRepository;
  readonly apiTokens: ApiTokenRepository;
  close(): Promise<void>;
}

// SQLite result codes (https://sqlite.org/rescode.html) that mean the file's content is broken, not its permissions.
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

function isCorruption(err: unknown): boolean {
  const code = (err as { errcode?: unknown }).errcode;
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB || /file is not a database|database disk image is malformed/i.test(String(errorMessage(err)));
}

function corruptMessage(path: string, err: unknown): string {
  return `SQLite database ${path} is corrupt or not a SQLite database (${errorMessage(err)}); restore it from a backup (together with <data_dir>/crypto and the pickle key), or move it away to start with an empty database`;
}

/** Refuses to start on a lost database while crypto stores show that bot accounts existed. */
function checkNotLost(path: string, cryptoDir: string | undefined): void {
  if (!cryptoDir || !existsSync(cryptoDir)) return;
  const empty = !existsSync(path) || statSync(path).size === 0;
  const stores = readdirSync(cryptoDir).filter((name) => name.endsWith('.cryptostore'));
  if (empty && stores.length > 0) {
    throw new Error(
      `SQLite database ${path} is ${existsSync(path) ? 'empty (0 bytes)' : 'missing'} but ${cryptoDir} holds ${stores.length} crypto store(s) of bot accounts: ` +
        'the database was lost or truncated. Restore it from a backup; to really start from scratch, move the crypto folder away as well',
    );
  }
}

export async function openStorage(options: StorageOptions): Promise<Storage> {
  if (options.type !== 'sqlite') {
    throw new Error(`database.type "${options.type}" is not supported yet; use "sqlite"`);
  }
  const path = options.path ?? ':memory:';
  if (path !== ':memory:') {
    checkNotLost(path, options.cryptoDir);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // The database holds access tokens: create it private; SQLite gives -wal/-shm the same mode.
    if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600 });
  }
  let sqlite;
  try {
    sqlite = openNodeSqlite(path);
  } catch (err) {
    if (isCorruption(err)) throw new Error(corruptMessage(path, err));
    throw new Error(`cannot open SQLite database ${path}: ${errorMessage(err)}; check that the folder exists and is writable by this user`);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const migrator = new Migrator({ db, provider: migrationProvider('sqlite') });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    await db.destroy();
    if (isCorruption(error)) throw new Error(corruptMessage(path, error));
    throw new Error(`database migration ${failed} failed: ${errorMessage(error)}`);
  }
  return {
    db,
    clients: new ClientRepository(db),
    instances: new InstanceRepository(db),
    plugins: new PluginRepository(db),
    pluginStorage: new PluginStorageRepository(db),
    handledEvents: new HandledEventRepository(db),
    logs: new LogRecordRepository(db, options.keepLogRecords ?? 5000),
    revokedTokens: new RevokedTokenRepository(db),
    apiTokens: new ApiTokenRepository(db),
    close: () => db.destroy(),
  };
}
