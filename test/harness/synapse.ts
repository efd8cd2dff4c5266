/**
 * A real Synapse homeserver for integration tests: generated config with test
 * overrides (loopback only, SQLite, no rate limits), started as a child
 * process from the project's `.venv` (see scripts/python-tools.ts).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { SYNAPSE_VERSION, VENV_PYTHON, installedSynapseVersion } from '../../scripts/python-tools.ts';

/** What tests need to talk to a homeserver; serialisable into TRELLIS_TEST_HOMESERVER. */
export interface HomeserverInfo {
  url: string;
  serverName: string;
  sharedSecret: string;
  adminToken: string;
  adminUserId: string;
}

export interface Homeserver extends HomeserverInfo {
  dataDir: string;
  port: number;
  /** Stops Synapse; deletes the data directory if the harness created it. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops the process, keeping its data and port: requests are refused until {@link up}. */
  down(): Promise<void>;
  /** Starts it again after {@link down}. */
  up(): Promise<void>;
}

export interface StartOptions {
  /** Reused if it already holds a config from an earlier run; default: a fresh temp dir. */
  dataDir?: string;
  port?: number;
  /** Keep a harness-created temp dir after stop() (for post-mortem of the log). */
  keepData?: boolean;
}

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export const HOMESERVER_ENV = 'TRELLIS_TEST_HOMESERVER';
const SERVER_NAME = 'localhost';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const HIGH = { per_second: 10_000, burst_count: 100_000 };

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test run that crashes or is interrupted must not leave a child (Synapse, maubot) behind: it is killed when this process exits. */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function runToCompletion(command: string, args: string[], what: string): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', (err) => reject(new Error(`${what}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolveRun();
      else reject(new Error(`${what} failed (exit ${code}):\n${output.trim().slice(-3000)}`));
    });
  });
}

function ensureSynapseInstalled(): void {
  const version = installedSynapseVersion();
  if (version !== SYNAPSE_VERSION) {
    throw new Error(`Synapse ${SYNAPSE_VERSION} is not installed in the project venv (found: ${version ?? 'none'}); ` + 'run `node scripts/python-tools.ts` (npm test does this automatically)');
  }
}

async function writeConfig(dataDir: string, port: number): Promise<{ configPath: string; sharedSecret: string }> {
  const configPath = join(dataDir, 'homeserver.yaml');
  if (!existsSync(configPath)) {
    // Generation creates the signing key and random secrets; done once per data dir.
    await runToCompletion(
      VENV_PYTHON,
      ['-m', 'synapse.app.homeserver', '--server-name', SERVER_NAME, '--config-path', configPath, '--data-directory', dataDir, '--generate-config', '--report-stats=no'],
      'generating the Synapse config',
    );
  }
  const config = parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const sharedSecret = config.registration_shared_secret;
  if (typeof sharedSecret !== 'string' || sharedSecret === '') {
    throw new Error(`${configPath} has no registration_shared_secret; delete ${dataDir} and start again`);
  }
  const logConfigPath = join(dataDir, 'log.config.yaml');
  writeFileSync(
    logConfigPath,
    stringify({
      version: 1,
      formatters: { precise: { format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s' } },
      handlers: { file: { class: 'logging.FileHandler', formatter: 'precise', filename: join(dataDir, 'homeserver.log'), encoding: 'utf8' } },
      root: { level: 'WARNING', handlers: ['file'] },
      disable_existing_loggers: false,
    }),
  );
  Object.assign(config, {
    server_name: SERVER_NAME,
    pid_file: join(dataDir, 'homeserver.pid'),
    public_baseurl: `http://127.0.0.1:${port}/`,
    listeners: [
      {
        port,
        bind_addresses: ['127.0.0.1'],
        type: 'http',
        tls: false,
        x_forwarded: false,
        resources: [{ names: ['client'], compress: false }],
      },
    ],
    database: { name: 'sqlite3', args: { database: join(dataDir, 'homeserver.db') } },
    log_config: logConfigPath,
    media_store_path: join(dataDir, 'media_store'),
    max_upload_size: '50M',
    bcrypt_rounds: 4,
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    report_stats: false,
    enable_registration: true,
    registration_requires_token: true,
    enable_registration_without_verification: true,
    presence: { enabled: false },
    url_preview_enabled: false,
    // Tests create users, rooms and messages in bursts no real client would.
    rc_message: HIGH,
    rc_registration: HIGH,
    rc_registration_token_validity: HIGH,
    rc_login: { address: HIGH, account: HIGH, failed_attempts: HIGH },
    rc_joins: { local: HIGH, remote: HIGH },
    rc_joins_per_room: HIGH,
    rc_invites: { per_room: HIGH, per_user: HIGH, per_issuer: HIGH },
    rc_third_party_invite: HIGH,
    rc_admin_redaction: HIGH,
    rc_3pid_validation: HIGH,
    rc_media_create: HIGH,
    rc_room_creation: HIGH,
    rc_reports: HIGH,
    rc_presence: { per_user: HIGH },
    rc_delayed_event_mgmt: HIGH,
    rc_user_directory: HIGH,
    rc_profile: HIGH,
    rc_key_requests: HIGH,
  });
  writeFileSync(configPath, stringify(config));
  return { configPath, sharedSecret };
}

/**
 * A test homeserver's data is thrown away afterwards, so it lives in memory
 * (/dev/shm) where there is one: Synapse commits every event with fsync, and
 * on a virtual disk that, not the bot, sets the pace of the message-count tests.
 */
function scratchDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

function logTail(dataDir: string, lines = 30): string {
  const parts: string[] = [];
  for (const name of ['homeserver.log', 'console.log']) {
    const path = join(dataDir, name);
    if (!existsSync(path)) continue;
    const tail = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    if (tail) parts.push(`--- ${path} (last ${lines} lines) ---\n${tail}`);
  }
  return parts.length > 0 ? parts.join('\n') : `(no log output in ${dataDir})`;
}

/**
 * Linux parent-death signal: if the Node process dies without running exit
 * hooks (SIGKILL, OOM), the kernel still sends Synapse SIGTERM.
 */
const LAUNCHER = [
  'import ctypes, os, signal, sys',
  'ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)',
  "if os.getppid() != int(os.environ['TRELLIS_PARENT_PID']): sys.exit(1)",
  "os.execv(sys.executable, [sys.executable, '-m', 'synapse.app.homeserver', '-c', sys.argv[1]])",
].join('\n');

function spawnSynapse(dataDir: string, configPath: string): ChildProcess {
  const out = openSync(join(dataDir, 'console.log'), 'a');
  try {
    const child = spawn(VENV_PYTHON, ['-c', LAUNCHER, configPath], {
      cwd: dataDir,
      stdio: ['ignore', out, out],
      env: { ...process.env, TRELLIS_PARENT_PID: String(process.pid), PYTHONUNBUFFERED: '1' },
    });
    killOnExit(child);
    return child;
  } finally {
    closeSync(out);
  }
}

async function waitUntilReady(url: string, child: ChildProcess, dataDir: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Synapse exited during startup (code ${child.exitCode ?? child.signalCode}).\n${logTail(dataDir)}`);
    }
    try {
      const res = await fetch(`${url}/_matrix/client/versions`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`Synapse did not answer ${url}/_matrix/client/versions within ${READY_TIMEOUT_MS / 1000} s (last: ${lastError}).\n${logTail(dataDir)}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

async function matrixRequest<T>(method: string, url: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { error: text.slice(0, 200) };
  }
  if (!res.ok) {
    const err = json as { errcode?: string; error?: string };
    // Only the path: query strings and bodies may carry secrets.
    const error = new Error(`${method} ${new URL(url).pathname} → HTTP ${res.status} ${err.errcode ?? ''} ${err.error ?? ''}`.trim()) as Error & { status: number; errcode?: string };
    error.status = res.status;
    error.errcode = err.errcode;
    throw error;
  }
  return json as T;
}

/** Shared-secret registration (Synapse admin API); works even with registration disabled. */
export async function registerUser(hs: { url: string; sharedSecret: string }, localpart: string, password: string, admin = false): Promise<RegisteredUser> {
  const endpoint = `${hs.url}/_synapse/admin/v1/register`;
  const { nonce } = await matrixRequest<{ nonce: string }>('GET', endpoint);
  const mac = createHmac('sha1', hs.sharedSecret)
    .update([nonce, localpart, password, admin ? 'admin' : 'notadmin'].join('\0'))
    .digest('hex');
  const res = await matrixRequest<{ user_id: string; access_token: string; device_id: string }>('POST', endpoint, {
    nonce,
    username: localpart,
    password,
    admin,
    mac,
  });
  return { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id };
}

/** Password login; used when a user from an earlier run already exists. */
export async function loginUser(hsUrl: string, user: string, password: string): Promise<RegisteredUser> {
  const res = await matrixRequest<{ user_id: string; access_token: string; device_id: string }>('POST', `${hsUrl}/_matrix/client/v3/login`, {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user },
    password,
  });
  return { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id };
}

export async function createRegistrationToken(hs: { url: string; adminToken: string }, usesAllowed?: number): Promise<string> {
  const body: Record<string, unknown> = {};
  if (usesAllowed !== undefined) body.uses_allowed = usesAllowed;
  const res = await matrixRequest<{ token: string }>('POST', `${hs.url}/_synapse/admin/v1/registration_tokens/new`, body, hs.adminToken);
  return res.token;
}

/** The shared homeserver started by scripts/test.ts, or null when a test runs standalone. */
export function homeserverFromEnv(): HomeserverInfo | null {
  const raw = process.env[HOMESERVER_ENV];
  if (!raw) return null;
  let info: Partial<HomeserverInfo>;
  try {
    info = JSON.parse(raw) as Partial<HomeserverInfo>;
  } catch {
    throw new Error(`${HOMESERVER_ENV} is not valid JSON; it is set by scripts/test.ts, run tests via npm test`);
  }
  for (const key of ['url', 'serverName', 'sharedSecret', 'adminToken', 'adminUserId'] as const) {
    if (typeof info[key] !== 'string' || info[key] === '') {
      throw new Error(`${HOMESERVER_ENV} lacks "${key}"; it is set by scripts/test.ts, run tests via npm test`);
    }
  }
  return info as HomeserverInfo;
}

/**
 * The homeserver from npm test if there is one, otherwise a private one
 * (so a single test file also runs with plain `node --test file`).
 * `release()` stops only a private homeserver.
 */
export async function sharedOrOwnHomeserver(): Promise<HomeserverInfo & { release(): Promise<void> }> {
  const shared = homeserverFromEnv();
  if (shared) return { ...shared, release: async () => {} };
  const own = await startSynapse();
  return { ...infoOf(own), release: () => own.stop() };
}

export function infoOf(hs: HomeserverInfo): HomeserverInfo {
  return {
    url: hs.url,
    serverName: hs.serverName,
    sharedSecret: hs.sharedSecret,
    adminToken: hs.adminToken,
    adminUserId: hs.adminUserId,
  };
}

export async function startSynapse(options: StartOptions = {}): Promise<Homeserver> {
  ensureSynapseInstalled();
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(scratchDir(), 'trellis-synapse-'));
  mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const { configPath, sharedSecret } = await writeConfig(dataDir, port);

  let child = spawnSynapse(dataDir, configPath);
  try {
    await waitUntilReady(url, child, dataDir);
  } catch (err) {
    await stopChild(child);
    throw err;
  }

  // Derived from the secret so a reused data dir can log the admin back in.
  const adminPassword = createHmac('sha256', sharedSecret).update('trellis-test-admin').digest('hex');
  let admin: RegisteredUser;
  try {
    admin = await registerUser({ url, sharedSecret }, 'admin', adminPassword, true);
  } catch (err) {
    if ((err as { errcode?: string }).errcode !== 'M_USER_IN_USE') {
      await stopChild(child);
      throw err;
    }
    admin = await loginUser(url, 'admin', adminPassword);
  }

  let stopped = false;
  const hs: Homeserver = {
    url,
    serverName: SERVER_NAME,
    sharedSecret,
    adminToken: admin.accessToken,
    adminUserId: admin.userId,
    dataDir,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(child);
      if (ownDir && !options.keepData && !process.env.TRELLIS_KEEP_SYNAPSE_DATA) {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    async restart() {
      await hs.down();
      await hs.up();
    },
    async down() {
      if (stopped) throw new Error('down() after stop(): the homeserver and its data are gone');
      await stopChild(child);
    },
    async up() {
      if (stopped) throw new Error('up() after stop(): the homeserver and its data are gone');
      child = spawnSynapse(dataDir, configPath);
      await waitUntilReady(url, child, dataDir);
    },
  };
  return hs;
}
