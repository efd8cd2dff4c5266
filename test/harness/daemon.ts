/**
 * Runs the real `trellis` daemon as a child process, the way an operator
 * does (`bin/trellis start --config …`, which runs the compiled
 * dist/src/cli/main.js), and talks to its API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { buildPlugin } from '../../src/plugin-package/build.ts';
import { distIsCurrent } from '../../scripts/build-server.ts';

const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
/** Test-only plugins (test/fixtures/plugins/<name>), uploaded with {@link TestDaemon.uploadFixture}. */
export const FIXTURE_PLUGINS = resolve(fileURLToPath(import.meta.url), '../../fixtures/plugins');

let checkedDist = false;

/**
 * `bin/trellis`, the production entry point: it runs the JavaScript compiled into dist/
 * with the pinned Node (exec, so the child's pid is the daemon's). `npm test` compiles
 * dist/ first; a stale one would test old code, so it is refused.
 */
export function trellisBin(): string {
  if (!checkedDist && !distIsCurrent()) {
    throw new Error('dist/ is missing or older than src/ or plugins/: run `npm run build` (npm test and npm start do it)');
  }
  checkedDist = true;
  return join(REPO, 'bin', 'trellis');
}

export const ADMIN_PASSWORD = 'test-admin-password-123';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export type ConfigPatch = (config: Record<string, unknown>) => void;

/**
 * The config most integration tests start from: the homeserver's shared secret (bots registered through the
 * daemon) and, when given, the public listener for plugin web endpoints on 127.0.0.1.
 */
export function withSharedSecret(hs: { sharedSecret: string }, publicListener?: { port: number; base_url?: string; max_body_bytes?: number }): ConfigPatch {
  return (config) => {
    (config.homeservers as Record<string, Record<string, unknown>>).main!.shared_secret = hs.sharedSecret;
    if (publicListener) config.public = { host: '127.0.0.1', ...publicListener };
  };
}

/** A request to one of the daemon's listeners: status, headers, the body as text and, when it is JSON, parsed. */
export async function httpRequest(url: string, init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A management API answer: the body parsed as JSON, or kept as text (Prometheus text and the like). */
export async function apiResponse<T>(res: Response): Promise<ApiResponse<T>> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, text };
}

export class TestDaemon {
  readonly dir: string;
  readonly configPath: string;
  readonly port: number;
  /** Every line the daemon printed (stdout and stderr), across restarts. */
  readonly output: string[] = [];
  #child: ChildProcess | null = null;
  #token: string | null = null;
  #exit: Promise<number | null> | null = null;
  /** Extra environment of the daemon process (e.g. NODE_EXTRA_CA_CERTS for a fake HTTPS service). */
  readonly env: Record<string, string>;

  private constructor(dir: string, port: number, env: Record<string, string>) {
    this.env = env;
    this.dir = dir;
    this.configPath = join(dir, 'trellis.yaml');
    this.port = port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The running daemon's process id (for /proc sampling); undefined while stopped. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Writes a config with `trellis init`, lets the test patch it, and starts the daemon. */
  static async create(hs: { url: string }, patch?: ConfigPatch, options: { env?: Record<string, string> } = {}): Promise<TestDaemon> {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-test-'));
    const daemon = new TestDaemon(dir, await freePort(), options.env ?? {});
    await daemon.cli(['init', '--config', daemon.configPath, '--admin-user', 'admin', '--admin-password', ADMIN_PASSWORD, '--homeserver-url', hs.url, '--port', String(daemon.port)]);
    if (patch) await daemon.editConfig(patch);
    await daemon.start();
    return daemon;
  }

  async editConfig(patch: ConfigPatch): Promise<void> {
    const config = parse(await readFile(this.configPath, 'utf8')) as Record<string, unknown>;
    patch(config);
    await writeFile(this.configPath, stringify(config), { mode: 0o600 });
  }

  /** Runs a one-shot CLI command and returns its output; throws with the output on failure. */
  async cli(args: string[]): Promise<string> {
    const { code, output } = await this.cliResult(args);
    if (code !== 0) throw new Error(`trellis ${args[0]} exited ${code}: ${output}`);
    return output;
  }

  /** Runs a one-shot CLI command; its exit code and output (stdout and stderr). */
  async cliResult(args: string[]): Promise<{ code: number | null; output: string }> {
    const child = spawn(trellisBin(), args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d));
    child.stderr!.on('data', (d: Buffer) => (output += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    return { code, output };
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error('daemon already running');
    const child = spawn(trellisBin(), ['start', '--config', this.configPath], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Every API response the tests cause is checked against its schema (src/api/typed-routes.ts).
      env: { ...process.env, TRELLIS_CHECK_API_RESPONSES: '1', ...this.env },
    });
    this.#child = child;
    this.#exit = new Promise((r) => child.on('exit', (code) => r(code)));
    let buffer = '';
    const onData = (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      this.output.push(...lines);
    };
    // Only this start's lines count: the output of an earlier start also says "listening on".
    const firstLine = this.output.length;
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const started = Date.now();
    while (Date.now() - started < 30_000) {
      if (this.output.slice(firstLine).some((l) => l.includes('listening on'))) return;
      const exited = await Promise.race([this.#exit, new Promise((r) => setTimeout(() => r('wait'), 100))]);
      if (exited !== 'wait') {
        this.#child = null;
        throw new Error(`daemon exited with ${String(exited)} during startup:\n${this.output.slice(-20).join('\n')}`);
      }
    }
    throw new Error(`daemon did not start within 30 s:\n${this.output.slice(-20).join('\n')}`);
  }

  /** SIGTERM and wait; returns the exit code and how long shutdown took. */
  async stop(): Promise<{ code: number | null; ms: number }> {
    const child = this.#child;
    if (!child) return { code: null, ms: 0 };
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await this.#exit;
    this.#child = null;
    return { code, ms: Date.now() - t0 };
  }

  signal(sig: NodeJS.Signals): void {
    this.#child?.kill(sig);
  }

  /** `kill -9` the daemon and wait until the process is gone (no shutdown code runs). */
  async kill9(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.#exit;
    this.#child = null;
  }

  /** Whether the daemon process started by start() is still alive (false after it exited on its own). */
  get running(): boolean {
    const child = this.#child;
    return child !== null && child.exitCode === null && child.signalCode === null;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  async login(): Promise<string> {
    const res = await this.api<{ token: string }>('POST', '/_matrix/maubot/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD }, { auth: false });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
    this.#token = res.body.token;
    return this.#token;
  }

  /** Calls the management API; paths without a leading `/_` or `/health|/metrics` get the maubot prefix. */
  async api<T = unknown>(method: string, path: string, body?: unknown, options: { auth?: boolean; raw?: Buffer; contentType?: string } = {}): Promise<ApiResponse<T>> {
    const url = this.url + (path.startsWith('/_') || path === '/health' || path === '/metrics' || path === '/openapi.json' ? path : `/_matrix/maubot/v1${path}`);
    const headers: Record<string, string> = {};
    if (options.auth !== false) {
      if (!this.#token) await this.login();
      headers.authorization = `Bearer ${this.#token}`;
    }
    let payload: string | Uint8Array | undefined;
    if (options.raw) {
      headers['content-type'] = options.contentType ?? 'application/zip';
      payload = new Uint8Array(options.raw);
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return apiResponse<T>(await fetch(url, { method, headers, body: payload }));
  }

  /** Builds a fixture plugin (test/fixtures/plugins/<name>) and uploads it (replacing an older upload). */
  async uploadFixture(name: string): Promise<void> {
    const work = await mkdtemp(join(tmpdir(), 'trellis-fixture-'));
    try {
      const built = await buildPlugin(join(FIXTURE_PLUGINS, name), { outFile: join(work, 'plugin.zip') });
      const raw = await readFile(built.file);
      let res = await this.api('POST', '/plugins/upload?allow_override=true', undefined, { raw });
      if (res.status === 401) {
        // The token may have been revoked or expired since the last login.
        await this.login();
        res = await this.api('POST', '/plugins/upload?allow_override=true', undefined, { raw });
      }
      if (res.status !== 200 && res.status !== 201) throw new Error(`uploading fixture ${name} failed: HTTP ${res.status} ${res.text}`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Creates an instance over the API (`PUT /instance/{id}`) and waits until it runs; throws with the API's answer otherwise. */
  async createInstance(id: string, body: { type: string; primary_user: string; rooms: string[]; config?: Record<string, unknown> }): Promise<void> {
    const put = await this.api('PUT', `/instance/${encodeURIComponent(id)}`, body);
    if (put.status !== 201) throw new Error(`PUT /instance/${id} answered ${put.status}: ${put.text}`);
    await this.waitFor(`instance ${id} running`, async () => (await this.api<{ state: string }>('GET', `/instance/${encodeURIComponent(id)}`)).body.state === 'running' || undefined);
  }

  /** Waits until a condition on the API holds (e.g. an instance is running). */
  async waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
    const t0 = Date.now();
    let last: unknown;
    while (Date.now() - t0 < timeoutMs) {
      try {
        const v = await probe();
        if (v) return v;
        last = v;
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}\n${this.output.slice(-15).join('\n')}`);
  }
}
