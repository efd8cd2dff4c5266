/**
 * Reading a maubot (0.3–0.6) installation for `trellis import-maubot`: its
 * config file (only `database` and `server` matter) and the `client` and
 * `instance` tables of its database. Read-only: maubot's files are never
 * written. Every failure is a {@link MaubotImportError} whose message says
 * what to do.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { errorMessage } from '../shared/error-message.ts';

export class MaubotImportError extends Error {}

/**
 * The schema versions of maubot's main database (mautrix `version` table):
 * 1 = maubot 0.3, 2 = maubot 0.4 up to 0.6 (adds `instance.database_engine`,
 * which the import does not need). Older maubot (0.1/0.2) used alembic.
 */
export const MAUBOT_SCHEMA_VERSIONS = [1, 2] as const;
export const MAUBOT_LATEST_SCHEMA = 2;

export type MaubotDatabaseLocation =
  /** `path` is where the file was found (or the first place tried); `tried` every place looked at. */
  { kind: 'sqlite'; url: string; path: string; tried: string[] } | { kind: 'postgres'; url: string };

export interface MaubotConfigInfo {
  /** Absolute path of maubot's config file. */
  path: string;
  database: MaubotDatabaseLocation;
  /** maubot's management listener (to tell whether maubot still runs). */
  server: { host: string; port: number } | null;
}

export interface MaubotClient {
  id: string;
  homeserver: string;
  accessToken: string;
  deviceId: string;
  enabled: boolean;
  sync: boolean;
  autojoin: boolean;
  online: boolean;
  /** null: maubot's "disable" (not managed by maubot, the homeserver profile stays as it is). */
  displayName: string | null;
  avatarUrl: string | null;
}

export interface MaubotInstance {
  id: string;
  /** The maubot plugin id, e.g. `xyz.maubot.echo`. */
  type: string;
  enabled: boolean;
  primaryUser: string;
  /** The instance config as maubot stores it: a YAML document. */
  config: string;
}

export interface MaubotData {
  /** For messages: the file or the database URL without its password. */
  source: string;
  schemaVersion: number;
  clients: MaubotClient[];
  instances: MaubotInstance[];
}

type Row = Record<string, unknown>;

function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A postgres URL with its password hidden, for messages. */
export function safeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

/**
 * Where maubot's database is, read from its config. SQLite (`sqlite:path`,
 * also `sqlite:///path` and `sqlite3:`) is a path relative to maubot's
 * working directory; we try the config's folder first (where a
 * service's WorkingDirectory usually is, and maubot's Docker image keeps
 * both), then the current directory.
 */
export function readMaubotConfig(configPath: string, cwd: string = process.cwd()): MaubotConfigInfo {
  const path = resolve(cwd, configPath);
  if (!existsSync(path))
    throw new MaubotImportError(`maubot config ${path} not found; pass the file maubot runs with (its -c option, e.g. /opt/maubot/config.yaml or /data/config.yaml in its Docker image)`);
  let document: unknown;
  try {
    document = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MaubotImportError(`cannot read maubot config ${path}: ${errorMessage(err)}`);
  }
  if (!plainObject(document)) throw new MaubotImportError(`maubot config ${path} is not a YAML mapping; pass maubot's config.yaml`);
  const database = document.database;
  if (typeof database !== 'string' || database.trim() === '') {
    throw new MaubotImportError(`maubot config ${path} has no "database:" line (e.g. database: sqlite:maubot.db); is it maubot's config.yaml?`);
  }
  const server = plainObject(document.server) && typeof document.server.port === 'number' ? { host: String(document.server.hostname ?? '127.0.0.1'), port: document.server.port } : null;
  return { path, database: locateDatabase(database.trim(), dirname(path), cwd, path), server };
}

function locateDatabase(url: string, configDir: string, cwd: string, configPath: string): MaubotDatabaseLocation {
  const scheme = /^([a-z0-9+]+):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'postgres', url };
  if (scheme !== 'sqlite' && scheme !== 'sqlite3') {
    throw new MaubotImportError(`maubot config ${configPath}: database "${url}" is neither sqlite: nor postgres://; maubot supports only those two`);
  }
  // maubot's own config upgrade turns sqlite:///x into sqlite:x; then the URL's path is the file (a query string is not part of it).
  let file = url.slice(scheme.length + 1).replace(/^\/\/\//, '');
  if (file.startsWith('//')) file = file.replace(/^\/\/[^/]*/, '');
  file = decodeURIComponent(file.split('?')[0] ?? '');
  if (file === '' || file === ':memory:') throw new MaubotImportError(`maubot config ${configPath}: database "${url}" names no file`);
  if (isAbsolute(file)) return { kind: 'sqlite', url, path: file, tried: [file] };
  const tried = [...new Set([resolve(configDir, file), resolve(cwd, file)])];
  return { kind: 'sqlite', url, path: tried.find((p) => existsSync(p)) ?? tried[0]!, tried };
}

function bool(value: unknown): boolean {
  if (typeof value === 'string') return value === 't' || value === 'true' || value === '1';
  return Boolean(Number(value));
}

/** maubot's "disable" (or nothing) means the profile field is not managed. */
function managed(value: unknown): string | null {
  return typeof value === 'string' && value !== '' && value !== 'disable' ? value : null;
}

/** Turns the tables' rows into the import's records (shared by SQLite and PostgreSQL). */
export function toMaubotData(source: string, schemaVersion: number, clientRows: Row[], instanceRows: Row[]): MaubotData {
  const clients = clientRows.map(
    (r): MaubotClient => ({
      id: String(r.id),
      homeserver: String(r.homeserver ?? ''),
      accessToken: String(r.access_token ?? ''),
      deviceId: String(r.device_id ?? ''),
      enabled: bool(r.enabled),
      sync: bool(r.sync),
      autojoin: bool(r.autojoin),
      online: bool(r.online),
      displayName: managed(r.displayname),
      avatarUrl: managed(r.avatar_url),
    }),
  );
  const instances = instanceRows.map(
    (r): MaubotInstance => ({
      id: String(r.id),
      type: String(r.type),
      enabled: bool(r.enabled),
      primaryUser: String(r.primary_user),
      config: typeof r.config === 'string' ? r.config : '',
    }),
  );
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return { source, schemaVersion, clients: clients.sort(byId), instances: instances.sort(byId) };
}

/** The checks on the schema, shared by both databases: which tables exist, whose they are, which version. */
export function checkSchema(source: string, tables: Set<string>, owner: string | null, version: number | null): number {
  const upgrade = `start maubot 0.6 on it once (it upgrades the schema when it starts), stop it, and run the import again`;
  if (tables.has('alembic_version')) throw new MaubotImportError(`${source} is a database of maubot 0.2 or older (alembic schema); ${upgrade}`);
  if (owner !== null && owner !== 'maubot') throw new MaubotImportError(`${source} belongs to ${owner}, not maubot; check the database: line of maubot's config`);
  if (!tables.has('client') || !tables.has('instance')) {
    throw new MaubotImportError(`${source} has no maubot client and instance tables: it is not maubot's database, or maubot never started on it (it creates them at start)`);
  }
  if (version === null || version === 0) throw new MaubotImportError(`${source} has no maubot schema version (table "version"); ${upgrade}`);
  if (version > MAUBOT_LATEST_SCHEMA) {
    throw new MaubotImportError(
      `${source} has maubot schema version ${version}, newer than maubot 0.6's (${MAUBOT_LATEST_SCHEMA}); this Trellis reads the schema of maubot 0.3 to 0.6: upgrade Trellis, or report the maubot version you run`,
    );
  }
  return version;
}

/** Reads a maubot SQLite database, read-only. */
export function readMaubotSqlite(path: string): MaubotData {
  if (!existsSync(path)) throw new MaubotImportError(`maubot database ${path} not found`);
  if (statSync(path).isDirectory()) throw new MaubotImportError(`maubot database ${path} is a folder, not a SQLite file`);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true });
  } catch (err) {
    throw new MaubotImportError(`cannot open maubot database ${path}: ${errorMessage(err)} (check that this user may read it)`);
  }
  try {
    let tables: Set<string>;
    try {
      tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Row[]).map((r) => String(r.name)));
    } catch (err) {
      throw new MaubotImportError(`cannot read maubot database ${path}: ${errorMessage(err)}; is it maubot's SQLite file, and may this user read it?`);
    }
    const owner = tables.has('database_owner') ? ((db.prepare('SELECT owner FROM database_owner LIMIT 1').get() as Row | undefined)?.owner ?? null) : null;
    const version = tables.has('version') ? Number((db.prepare('SELECT version FROM version LIMIT 1').get() as Row | undefined)?.version ?? 0) : null;
    const schemaVersion = checkSchema(`maubot database ${path}`, tables, owner === null ? null : String(owner), version);
    try {
      const clients = db.prepare('SELECT id, homeserver, access_token, device_id, enabled, sync, autojoin, online, displayname, avatar_url FROM client').all() as Row[];
      const instances = db.prepare('SELECT id, type, enabled, primary_user, config FROM instance').all() as Row[];
      return toMaubotData(path, schemaVersion, clients, instances);
    } catch (err) {
      throw new MaubotImportError(`maubot database ${path} (schema version ${schemaVersion}) does not have the expected columns: ${errorMessage(err)}`);
    }
  } finally {
    db.close();
  }
}
