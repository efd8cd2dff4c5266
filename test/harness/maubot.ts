/**
 * The real maubot 0.6.0 daemon for tests and benchmarks (`trellis
 * import-maubot` is tested against what maubot itself wrote): a generated
 * config (SQLite database in a temp dir, or the PostgreSQL URL given as
 * `database`, which maubot reaches with its asyncpg; management API on a
 * free loopback port, one admin), `python -m maubot -c <config>` from `.venv-maubot` (see
 * scripts/python-tools.ts `installMaubot`; scripts/test.ts installs it when
 * a test file needing it runs), and a small client for its management API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { MAUBOT_VENV_DIR, MAUBOT_VENV_PYTHON, MAUBOT_VERSION, installedVersion } from '../../scripts/python-tools.ts';
import { apiResponse, freePort, type ApiResponse } from './daemon.ts';
import { killOnExit } from './synapse.ts';

/** maubot plugin sources the tests build into `.mbp` archives with the real `mbc build`. */
export const MAUBOT_FIXTURE_PLUGINS = resolve(fileURLToPath(import.meta.url), '../../fixtures/maubot-plugins');

export const MAUBOT_ADMIN = 'admin';
export const MAUBOT_ADMIN_PASSWORD = 'maubot-admin-password-123';

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

/** Same as Synapse's launcher: the kernel sends maubot SIGTERM if the test process dies without exit hooks. */
const LAUNCHER = [
  'import ctypes, os, signal, sys',
  'ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)',
  "if os.getppid() != int(os.environ['TRELLIS_PARENT_PID']): sys.exit(1)",
  "os.execv(sys.executable, [sys.executable, '-m', 'maubot', '-c', sys.argv[1]])",
].join('\n');

function ensureMaubotInstalled(): void {
  const version = installedVersion('maubot', MAUBOT_VENV_DIR);
  if (version !== MAUBOT_VERSION) {
    throw new Error(
      `maubot ${MAUBOT_VERSION} is not installed in ${MAUBOT_VENV_DIR} (found: ${version ?? 'none'}); run \`node scripts/python-tools.ts maubot\` (npm test does this for the tests that need it)`,
    );
  }
}

/** The real `mbc` (maubot's CLI) of `.venv-maubot`; throws if maubot is not installed there. */
export function mbcPath(): string {
  ensureMaubotInstalled();
  return join(MAUBOT_VENV_DIR, 'bin', 'mbc');
}

function runToCompletion(command: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolveRun(output) : reject(new Error(`${what} failed (exit ${code}):\n${output.trim().slice(-3000)}`))));
  });
}

/** maubot's built management web app in its package in `.venv-maubot` (index.html, static/…); throws if maubot is not installed there. */
export function maubotWebAppDir(): string {
  ensureMaubotInstalled();
  const lib = join(MAUBOT_VENV_DIR, 'lib');
  const python = readdirSync(lib).find((d) => d.startsWith('python3'));
  if (!python) throw new Error(`no python3.* in ${lib}; run \`node scripts/python-tools.ts maubot\``);
  return join(lib, python, 'site-packages', 'maubot', 'management', 'frontend', 'build');
}

/**
 * Builds a maubot plugin folder (with `maubot.yaml`) into an `.mbp` with the
 * real `mbc build`; returns the archive's bytes.
 */
export async function buildMaubotPlugin(sourceDir: string): Promise<Buffer> {
  ensureMaubotInstalled();
  const work = mkdtempSync(join(tmpdir(), 'trellis-mbc-'));
  try {
    const out = join(work, 'plugin.mbp');
    // mbc reads its login config from $XDG_CONFIG_HOME even for build; the folder must exist.
    await runToCompletion(join(MAUBOT_VENV_DIR, 'bin', 'mbc'), ['build', sourceDir, '--output', out], { ...process.env, XDG_CONFIG_HOME: work, HOME: work }, `mbc build ${sourceDir}`);
    return readFileSync(out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface MaubotOptions {
  /**
   * The `database` line of maubot's config: default `sqlite:maubot.db`, relative to maubot's working directory (the config's folder),
   * or a PostgreSQL URL such as `postgresql://maubot:pw@127.0.0.1:5432/maubot` (test/harness/postgres.ts makes one).
   */
  database?: string;
}

/** One real maubot daemon with its own folder (config, database, plugins, log). */
export class TestMaubot {
  readonly dir: string;
  readonly configPath: string;
  readonly port: number;
  readonly homeserverUrl: string;
  #child: ChildProcess | null = null;
  #exit: Promise<void> | null = null;
  #token: string | null = null;

  private constructor(dir: string, port: number, homeserverUrl: string) {
    this.dir = dir;
    this.configPath = join(dir, 'config.yaml');
    this.port = port;
    this.homeserverUrl = homeserverUrl;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The maubot process (for /proc readings in benchmarks), while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** maubot's console output (its log handler writes to stdout/stderr, captured here). */
  get logPath(): string {
    return join(this.dir, 'console.log');
  }

  /** Writes a config for the homeserver (registered in maubot's `homeservers` as `test`) and starts maubot. */
  static async create(hs: { url: string; sharedSecret: string }, options: MaubotOptions = {}): Promise<TestMaubot> {
    ensureMaubotInstalled();
    const dir = mkdtempSync(join(tmpdir(), 'trellis-maubot-'));
    const maubot = new TestMaubot(dir, await freePort(), hs.url);
    mkdirSync(join(dir, 'plugins'), { recursive: true });
    mkdirSync(join(dir, 'trash'), { recursive: true });
    const config = {
      database: options.database ?? 'sqlite:maubot.db',
      crypto_database: 'default',
      crypto_db_pickle_key: 'mau.crypto',
      database_opts: { min_size: 1, max_size: 1 },
      plugin_directories: { upload: './plugins', load: ['./plugins'], trash: './trash' },
      plugin_databases: { sqlite: './plugins', postgres: null },
      server: {
        hostname: '127.0.0.1',
        port: maubot.port,
        public_url: maubot.url,
        ui_base_path: '/_matrix/maubot',
        plugin_base_path: '/_matrix/maubot/plugin/',
        override_resource_path: false,
        unshared_secret: randomBytes(24).toString('hex'),
      },
      homeservers: { test: { url: hs.url, secret: hs.sharedSecret } },
      // A plaintext password: maubot bcrypts it on startup and writes the hash back into the config.
      admins: { root: '', [MAUBOT_ADMIN]: MAUBOT_ADMIN_PASSWORD },
      logging: {
        version: 1,
        formatters: { normal: { format: '[%(asctime)s] [%(levelname)s@%(name)s] %(message)s' } },
        handlers: { console: { class: 'logging.StreamHandler', formatter: 'normal' } },
        loggers: { maubot: { level: 'DEBUG' }, mau: { level: 'DEBUG' }, aiohttp: { level: 'INFO' } },
        root: { level: 'INFO', handlers: ['console'] },
      },
    };
    writeFileSync(maubot.configPath, stringify(config), { mode: 0o600 });
    await maubot.start();
    return maubot;
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error('maubot already running');
    const out = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      // cwd = the config's folder: maubot resolves `sqlite:maubot.db` and ./plugins against its working directory.
      child = spawn(MAUBOT_VENV_PYTHON, ['-c', LAUNCHER, this.configPath], {
        cwd: this.dir,
        stdio: ['ignore', out, out],
        env: { ...process.env, TRELLIS_PARENT_PID: String(process.pid), PYTHONUNBUFFERED: '1' },
      });
    } finally {
      closeSync(out);
    }
    killOnExit(child);
    this.#child = child;
    this.#exit = new Promise((r) => child.once('exit', () => r()));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.#child = null;
        throw new Error(`maubot exited during startup (code ${child.exitCode ?? child.signalCode}).\n${this.logTail()}`);
      }
      try {
        // /features is open and answers once the management API is up.
        const res = await fetch(`${this.url}/_matrix/maubot/v1/features`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
    throw new Error(`maubot did not answer ${this.url} within ${READY_TIMEOUT_MS / 1000} s (last: ${last}).\n${this.logTail()}`);
  }

  /** SIGTERM (maubot saves its sync tokens and closes the database), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await this.#exit;
      clearTimeout(timer);
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (!process.env.TRELLIS_KEEP_MAUBOT_DATA) rmSync(this.dir, { recursive: true, force: true });
  }

  logTail(lines = 30): string {
    if (!existsSync(this.logPath)) return `(no output in ${this.logPath})`;
    return `--- ${this.logPath} (last ${lines} lines) ---\n${readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`;
  }

  /** The database file of the default `sqlite:maubot.db`. */
  get databasePath(): string {
    return join(this.dir, 'maubot.db');
  }

  async login(): Promise<string> {
    const res = await this.api<{ token: string }>('POST', '/auth/login', { username: MAUBOT_ADMIN, password: MAUBOT_ADMIN_PASSWORD }, { auth: false });
    if (res.status !== 200) throw new Error(`maubot login failed: ${res.status} ${res.text}`);
    this.#token = res.body.token;
    return this.#token;
  }

  /** Calls maubot's management API (`/_matrix/maubot/v1` + path), logging in first when needed. */
  async api<T = unknown>(method: string, path: string, body?: unknown, options: { auth?: boolean; raw?: Buffer } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.auth !== false) headers.authorization = `Bearer ${this.#token ?? (await this.login())}`;
    let payload: string | Uint8Array | undefined;
    if (options.raw) {
      headers['content-type'] = 'application/zip';
      payload = new Uint8Array(options.raw);
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return apiResponse<T>(await fetch(`${this.url}/_matrix/maubot/v1${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(30_000) }));
  }

  /** Builds a fixture plugin (test/fixtures/maubot-plugins/<name>) with `mbc build` and uploads it. */
  async uploadFixture(name: string): Promise<{ id: string; version: string }> {
    const raw = await buildMaubotPlugin(join(MAUBOT_FIXTURE_PLUGINS, name));
    const res = await this.api<{ id: string; version: string }>('POST', '/plugins/upload?allow_override=true', undefined, { raw });
    if (res.status !== 200 && res.status !== 201) throw new Error(`maubot refused plugin ${name}: HTTP ${res.status} ${res.text}\n${this.logTail()}`);
    return res.body;
  }

  /** `POST /client/new` with an existing access token, as an operator does in maubot's UI. */
  async addClient(body: { access_token: string; device_id?: string; displayname?: string; avatar_url?: string; autojoin?: boolean; enabled?: boolean }): Promise<{ id: string; device_id: string }> {
    const res = await this.api<{ id: string; device_id: string }>('POST', '/client/new', { homeserver: this.homeserverUrl, ...body });
    if (res.status !== 201) throw new Error(`maubot POST /client/new answered ${res.status}: ${res.text}\n${this.logTail()}`);
    return res.body;
  }

  /** `PUT /instance/{id}`: config is maubot's YAML string. */
  async putInstance(id: string, body: { type: string; primary_user: string; enabled?: boolean; config?: string }): Promise<void> {
    const res = await this.api('PUT', `/instance/${encodeURIComponent(id)}`, body);
    if (res.status !== 201 && res.status !== 200) throw new Error(`maubot PUT /instance/${id} answered ${res.status}: ${res.text}\n${this.logTail()}`);
  }
}

/** Where a fixture file lives relative to this harness (for scripts that regenerate fixtures). */
export function fixturePath(...parts: string[]): string {
  return join(dirname(MAUBOT_FIXTURE_PLUGINS), ...parts);
}
