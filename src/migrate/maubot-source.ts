/**
 * Reading a maubot (0.3–0.6) installation for `trellis import-maubot`: its
 * config file (only `database` and `server` matter) and the `client` and
 * `instance` tables of its database. Read-only: maubot's files are never
 * written. Every failure is a {@link MaubotImportError} whose message says
 * what to do.
 *
 * PostgreSQL is read with the `pg` package, loaded only when maubot's
 * database is PostgreSQL (a dynamic import: the daemon never loads it).
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

/** A postgres URL with its password hidden (in the user part and a `password=` option), for messages. */
export function safeDatabaseUrl(url: string): string {
  const masked = url.replace(/([?&]password=)[^&#]*/gi, '$1***');
  try {
    const parsed = new URL(masked);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return masked.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
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

/** How long a connection attempt to maubot's PostgreSQL may take, and each query. */
const PG_CONNECT_TIMEOUT_MS = 10_000;
const PG_QUERY_TIMEOUT_MS = 30_000;

/** The passwords in a PostgreSQL URL (the user part's and a `password=` option's; as written and decoded), for scrubbing them from messages. */
export function databaseUrlPasswords(url: string): string[] {
  const raw: string[] = [];
  const userPart = /^[a-z0-9+]+:\/\/[^:/@?#]*:([^@/?#]*)@/i.exec(url)?.[1] ?? /\/\/[^:/@]+:([^@/]*)@/.exec(url)?.[1];
  if (userPart) raw.push(userPart);
  for (const match of url.matchAll(/[?&]password=([^&#]*)/gi)) if (match[1]) raw.push(match[1]);
  const all = new Set<string>();
  for (const value of raw) {
    all.add(value);
    try {
      all.add(decodeURIComponent(value.replaceAll('+', ' ')));
      all.add(decodeURIComponent(value));
    } catch {
      // not percent-encoded as it should be: the raw form is enough
    }
  }
  return [...all].filter((p) => p !== '').sort((a, b) => b.length - a.length);
}

/**
 * The `sslmode` maubot's asyncpg uses for this URL: the URL's, else
 * `PGSSLMODE`, else `prefer` (asyncpg's default, as libpq's).
 */
export function maubotSslMode(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  const fromUrl = new URLSearchParams(query).get('sslmode');
  return (fromUrl ?? env.PGSSLMODE ?? 'prefer').toLowerCase();
}

/**
 * The URL with this `sslmode`, read as libpq (and asyncpg) read it:
 * `require` encrypts without checking the certificate. `pg` 8 alone reads
 * `require` as `verify-full`, hence `uselibpqcompat=true`.
 */
function withSslMode(url: string, mode: string): string {
  const at = url.indexOf('?');
  const base = at < 0 ? url : url.slice(0, at);
  const kept = (at < 0 ? [] : url.slice(at + 1).split('&')).filter((p) => p !== '' && !/^(sslmode|uselibpqcompat)=/i.test(p));
  return `${base}?${[...kept, `sslmode=${mode}`, 'uselibpqcompat=true'].join('&')}`;
}

/**
 * The connections to try, in order, for maubot's sslmode: `pg` has no
 * `prefer` (SSL when the server has it, else plain) nor `allow` (plain,
 * else SSL), so those are two tries; the second only when the first failed
 * for want of (or because of) SSL.
 */
function connectionAttempts(url: string): Array<{ url: string; retryIf?: (err: unknown) => boolean }> {
  const mode = maubotSslMode(url);
  const code = (err: unknown) => (err as { code?: string } | null)?.code;
  if (mode === 'prefer') return [{ url: withSslMode(url, 'prefer'), retryIf: (err) => /does not support SSL/i.test(errorMessage(err)) }, { url: withSslMode(url, 'disable') }];
  if (mode === 'allow') return [{ url: withSslMode(url, 'disable'), retryIf: (err) => code(err) === '28000' }, { url: withSslMode(url, 'require') }];
  return [{ url: withSslMode(url, mode) }];
}

/** Where the client connects (URL, then PG* environment, then defaults), for messages: never the password. */
function pgTarget(client: { host: string; port: number; database?: string | undefined; user?: string | undefined }): string {
  const where = client.host.startsWith('/') ? `socket ${client.host}/.s.PGSQL.${client.port}` : `${client.host}:${client.port}`;
  return `${where}, database "${client.database ?? ''}"${client.user ? `, user "${client.user}"` : ''}`;
}

/** A `pg` failure as what a sysadmin does about it (SQLSTATE codes: PostgreSQL's errcodes appendix). */
function pgProblem(err: unknown, source: string, target: string): string {
  const e = (err ?? {}) as { code?: string; message?: string };
  const message = errorMessage(err);
  const check = `check the database: line of maubot's config`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `cannot connect to maubot's PostgreSQL (${target}): connection refused. Is PostgreSQL running and listening there? Run the import where maubot's database is reachable, or ${check}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot connect to maubot's PostgreSQL (${target}): the host name does not resolve here; run the import on maubot's machine (or in its Docker network), or ${check}`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot connect to maubot's PostgreSQL (${target}): ${message}; check the host, the port and the firewall`;
    case 'ENOENT':
      return `cannot connect to maubot's PostgreSQL (${target}): no socket there. Is PostgreSQL running on this machine? Check the database: line of maubot's config`;
    case '28P01':
      return `maubot's PostgreSQL (${target}) refused the password; use the user and password of maubot's database: line (run the import with the config maubot runs with)`;
    case '28000':
      return `maubot's PostgreSQL (${target}) refused the login: ${message}. Check pg_hba.conf allows this host, user and database; if the server requires SSL, add ?sslmode=require to the URL`;
    case '3D000':
      return `maubot's PostgreSQL (${target}) has no such database (${message}); ${check}`;
    case '42501':
      return `${source}: permission denied (${message}); the user in maubot's database: line owns maubot's tables, so use that one, or GRANT SELECT ON client, instance, version TO the user you connect as`;
    case '57P03':
      return `maubot's PostgreSQL (${target}) is starting up or shutting down; try again in a moment`;
    case '53300':
      return `maubot's PostgreSQL (${target}) has too many connections; try again when fewer clients are connected`;
  }
  if (/password must be a string|no password was provided|client password/i.test(message)) {
    return `maubot's PostgreSQL (${target}) asks for a password and the URL has none; use maubot's database: line with its password (or put it in ~/.pgpass or PGPASSWORD)`;
  }
  if (/SSL|TLS|certificate/i.test(message)) {
    return `cannot connect to maubot's PostgreSQL (${target}) over SSL/TLS: ${message}. Check the URL's sslmode (require: encrypted without checking the certificate; disable: no SSL)`;
  }
  if (/timeout/i.test(message)) return `maubot's PostgreSQL (${target}) did not answer in time (${message}); check the host, the port and the firewall`;
  return `cannot read maubot's PostgreSQL database (${target}): ${message}`;
}

/**
 * Reads maubot's PostgreSQL database (the URL of maubot's `database:` line:
 * postgres:// or postgresql://, with the query options `pg` understands,
 * e.g. ?sslmode=require or ?host=/run/postgresql), in a read-only
 * transaction. The password never appears in a message.
 */
export async function readMaubotPostgres(url: string): Promise<MaubotData> {
  const source = safeDatabaseUrl(url);
  const passwords = databaseUrlPasswords(url);
  const scrub = (text: string) => passwords.reduce((t, p) => t.split(p).join('***'), text);
  const fail = (text: string) => new MaubotImportError(scrub(text));

  const { default: pg } = await import('pg');
  type Client = InstanceType<typeof pg.Client>;
  const open = async (connectionString: string): Promise<Client> => {
    let client: Client;
    try {
      client = new pg.Client({ connectionString, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, query_timeout: PG_QUERY_TIMEOUT_MS, application_name: 'trellis import-maubot' });
    } catch (err) {
      throw fail(`maubot's database URL ${source} is not a PostgreSQL URL (${errorMessage(err)}); it should look like postgresql://user:password@host:5432/maubot`);
    }
    // A connection that breaks later emits 'error' on the client; the pending query rejects with it too.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { target: pgTarget(client) });
    }
  };
  let client: Client | undefined;
  for (const attempt of connectionAttempts(url)) {
    try {
      client = await open(attempt.url);
      break;
    } catch (err) {
      if (err instanceof MaubotImportError) throw err;
      if (attempt.retryIf?.(err)) continue;
      throw fail(pgProblem(err, `maubot database ${source}`, (err as { target?: string }).target ?? source));
    }
  }
  if (!client) throw fail(`cannot connect to maubot's PostgreSQL ${source}`); // not reached: the last attempt throws
  const label = `maubot database ${source}`;
  try {
    await client.query('BEGIN TRANSACTION READ ONLY');
    const tableRows = (await client.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()')).rows;
    const tables = new Set(tableRows.map((r) => r.name));
    const owner = tables.has('database_owner') ? ((await client.query<Row>('SELECT owner FROM database_owner LIMIT 1')).rows[0]?.owner ?? null) : null;
    const version = tables.has('version') ? Number((await client.query<Row>('SELECT version FROM version LIMIT 1')).rows[0]?.version ?? 0) : null;
    const schemaVersion = checkSchema(label, tables, owner === null ? null : String(owner), version);
    let clients: Row[];
    let instances: Row[];
    try {
      clients = (await client.query<Row>('SELECT id, homeserver, access_token, device_id, enabled, sync, autojoin, online, displayname, avatar_url FROM client')).rows;
      instances = (await client.query<Row>('SELECT id, type, enabled, primary_user, config FROM instance')).rows;
    } catch (err) {
      if ((err as { code?: string }).code === '42703') throw fail(`${label} (schema version ${schemaVersion}) does not have the expected columns: ${errorMessage(err)}`);
      throw err;
    }
    await client.query('COMMIT');
    return toMaubotData(source, schemaVersion, clients, instances);
  } catch (err) {
    if (err instanceof MaubotImportError) throw fail(err.message);
    throw fail(pgProblem(err, label, pgTarget(client)));
  } finally {
    await client.end().catch(() => undefined);
  }
}
