/** Adapts Node's built-in `node:sqlite` to Kysely's SQLite dialect. */
import { DatabaseSync, type StatementSync, type SQLInputValue } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Adapts Node's built-in `node:sqlite` to the better-sqlite3 shape Kysely's
 * SqliteDialect expects, so the project needs no native SQLite addon (npm
 * install scripts do not run here, and prebuilt downloads are unreachable).
 */
export function openNodeSqlite(path: string): SqliteDatabase {
  const db = new DatabaseSync(path);
  // WAL lets the API read while a sync batch writes; NORMAL is durable across process crashes.
  // node:sqlite is synchronous: while it waits for a lock another process holds (a backup, the
  // sqlite3 shell) the whole daemon stands still. So it waits briefly; the message path retries
  // failed writes asynchronously (core/storage-guard.ts) instead of blocking for seconds.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 200;');
  return {
    close: () => db.close(),
    prepare: (sql: string) => adaptStatement(db.prepare(sql)),
  };
}

function toSqlValue(value: unknown): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  return value as SQLInputValue;
}

function adaptStatement(statement: StatementSync): SqliteStatement {
  const reader = statement.columns().length > 0;
  const params = (parameters: ReadonlyArray<unknown>) => parameters.map(toSqlValue);
  return {
    reader,
    all: (parameters) => statement.all(...params(parameters)),
    run: (parameters) => {
      const result = statement.run(...params(parameters));
      return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
    },
    iterate: (parameters) => statement.iterate(...params(parameters)) as IterableIterator<unknown>,
  };
}
