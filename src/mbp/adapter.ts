/**
 * A maubot plugin (.mbp) as a Trellis plugin: each instance runs the
 * plugin's Python code in its own host process (host.py, maubot's framework
 * from PyPI), so it has the same instance life as a TypeScript plugin —
 * ordered events, the room allowlist, replay-safe sends, restarts with
 * backoff — and a crash, a hang or os._exit in the plugin costs only its own
 * process. The host's Matrix calls are carried out by matrix-requests.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
import { stringify } from 'yaml';
import type { HttpMethod, PluginContext, PluginDefinition, PluginLogger, WebRequest, WebResponse } from '../sdk/index.ts';
import type { MaubotMeta } from '../plugin-package/maubot-manifest.ts';
import { errorMessage } from '../shared/error-message.ts';
import { CODE_ROOT, PROJECT_ROOT } from '../shared/paths.ts';
import { carryOut, RequestRefused } from './matrix-requests.ts';
import type { FromHost, HostRequest, ToHost } from './protocol.ts';

export interface HostSettings {
  /** The Python with maubot and mautrix (the project's .venv-maubot). */
  python: string;
  /** host.py. */
  script: string;
  /** Where instances with `database: true` keep their SQLite files. */
  databaseDir: string;
  /** Told each host process's resident memory every few seconds (null when it ends): the daemon's /metrics. */
  reportMemory?(instanceId: string, bytes: number | null): void;
}

/** Where the daemon finds Python and host.py; `TRELLIS_MBP_PYTHON` overrides the Python. */
export function defaultHostSettings(dataDir: string): HostSettings {
  return {
    python: process.env.TRELLIS_MBP_PYTHON ?? join(PROJECT_ROOT, '.venv-maubot', 'bin', 'python'),
    script: join(CODE_ROOT, 'src', 'mbp', 'host.py'),
    databaseDir: join(dataDir, 'plugin-databases'),
  };
}

/** How long the plugin's import and start may take. */
const START_TIMEOUT_MS = 60_000;
/** The host answers a ping at least this often unless its event loop is blocked. */
const PING_EVERY_MS = 5_000;
const PING_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

const LEVELS: Record<string, keyof PluginLogger> = { TRACE: 'debug', DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', CRITICAL: 'critical' };

/** One running host process and its line protocol. */
class HostProcess {
  readonly #child: ChildProcess;
  readonly #channel: Socket;
  readonly #waiting = new Map<number, (message: FromHost) => void>();
  #exited: string | null = null;
  readonly #stderr: string[] = [];
  onMessage: (message: FromHost) => void = () => {};
  onExit: (why: string) => void = () => {};

  constructor(settings: HostSettings, log: PluginLogger) {
    this.#child = spawn(settings.python, ['-u', settings.script], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    this.#channel = this.#child.stdio[3] as Socket;
    createInterface({ input: this.#channel }).on('line', (line) => {
      let message: FromHost;
      try {
        message = JSON.parse(line) as FromHost;
      } catch {
        log.warn(`the Python host sent an unreadable line: ${line.slice(0, 200)}`);
        return;
      }
      const waiter = 'id' in message && message.type !== 'request' ? this.#waiting.get(message.id) : undefined;
      if (waiter) {
        this.#waiting.delete((message as { id: number }).id);
        waiter(message);
      } else this.onMessage(message);
    });
    // Plugins print; Python writes tracebacks there before logging is set up.
    createInterface({ input: this.#child.stdout! }).on('line', (line) => log.info(line));
    createInterface({ input: this.#child.stderr! }).on('line', (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 20) this.#stderr.shift();
      log.warn(line);
    });
    this.#channel.on('error', () => undefined); // the exit handler says what happened
    this.#child.on('error', (err) => this.#exit(`could not run ${settings.python}: ${err.message}`));
    this.#child.on('exit', (code, signal) => this.#exit(signal ? `the Python host was killed by ${signal}` : `the Python host exited with code ${code}`));
  }

  #exit(why: string): void {
    if (this.#exited !== null) return;
    const tail = this.#stderr
      .filter((l) => l.trim())
      .slice(-3)
      .join(' | ');
    this.#exited = tail ? `${why} (${tail})` : why;
    for (const waiter of this.#waiting.values()) waiter({ type: 'done', id: -1, error: this.#exited });
    this.#waiting.clear();
    this.onExit(this.#exited);
  }

  get exited(): string | null {
    return this.#exited;
  }

  /** Resident memory in bytes (Linux /proc), or null when it cannot be read. */
  rssBytes(): number | null {
    try {
      const kib = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${this.#child.pid}/status`, 'utf8'))?.[1];
      return kib ? Number(kib) * 1024 : null;
    } catch {
      return null;
    }
  }

  send(message: ToHost): void {
    if (this.#exited === null) this.#channel.write(`${JSON.stringify(message)}\n`);
  }

  /** Sends a message that is answered by id (event → done, ping → pong); resolves with the answer or the exit. */
  ask(message: Extract<ToHost, { id: number }>): Promise<FromHost> {
    return new Promise((resolve) => {
      if (this.#exited !== null) return resolve({ type: 'done', id: -1, error: this.#exited });
      this.#waiting.set(message.id, resolve);
      this.send(message);
    });
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

/** The PluginDefinition of one installed .mbp. */
export function maubotPluginDefinition(pluginDir: string, meta: MaubotMeta, settings: HostSettings): PluginDefinition {
  return {
    async setup(ctx: PluginContext) {
      if (!existsSync(settings.python)) {
        throw new Error(`maubot plugins need Python with maubot installed (${settings.python} is missing): run npm run setup:maubot`);
      }
      const host = new HostProcess(settings, ctx.log);
      let stopping = false;
      let ids = 0;
      const config = () => (Object.keys(ctx.config).length === 0 ? '' : stringify(ctx.config));

      const started = new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the plugin did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
        host.onExit = (why) => {
          clearTimeout(timer);
          reject(new Error(why));
          if (!stopping) ctx.fail(why);
        };
        host.onMessage = (message) => {
          if (message.type === 'started') {
            clearTimeout(timer);
            resolve(message.webapp_port);
          } else if (message.type === 'failed') {
            clearTimeout(timer);
            reject(new Error(`${message.error}${message.traceback ? `\n${message.traceback}` : ''}`));
          } else handle(message);
        };
      });

      /** The plugin's own messages: its Matrix calls and its log lines. */
      function handle(message: FromHost): void {
        if (message.type === 'request') void answer(message);
        else if (message.type === 'log') ctx.log[LEVELS[message.level] ?? 'info'](`${message.logger}: ${message.message}`);
        else if (message.type === 'config_saved') ctx.log.debug('the plugin updated its config (base-config.yaml defaults, do_update)');
      }

      async function answer(req: HostRequest): Promise<void> {
        const run = () => carryOut(ctx.matrix, req);
        try {
          // A call made by an event's handler gets a transaction id from that event and its place, as TypeScript handlers' sends do.
          const result = req.event_id ? await ctx.idempotent(`mbp:${req.event_id}:${req.seq ?? 0}`, run) : await run();
          host.send({ type: 'response', id: req.id, result });
        } catch (err) {
          const error = err instanceof RequestRefused ? err.answer : { status: 500, errcode: 'M_UNKNOWN', error: errorMessage(err) };
          if (!(err instanceof RequestRefused)) ctx.log.warn(`${req.method} ${req.path} for the plugin failed: ${error.error}`);
          host.send({ type: 'response', id: req.id, error });
        }
      }

      host.send({
        type: 'start',
        instance_id: ctx.instanceId,
        plugin_dir: pluginDir,
        meta,
        user_id: ctx.matrix.userId,
        config: config(),
        database: meta.database ? databaseFile(settings.databaseDir, ctx.instanceId) : null,
        webapp_url: meta.webapp && ctx.web.baseUrl ? `${ctx.web.baseUrl}/` : null,
      });
      let webappPort: number | null;
      try {
        webappPort = await started;
      } catch (err) {
        stopping = true;
        host.kill();
        throw err;
      }

      // A blocked event loop (time.sleep in a handler, a busy loop) answers no ping: the process is replaced.
      const watchdog = ctx.timers.setInterval(async () => {
        const rss = host.rssBytes();
        if (rss !== null) settings.reportMemory?.(ctx.instanceId, rss);
        const id = ++ids;
        const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), PING_TIMEOUT_MS).unref());
        const pong = await Promise.race([host.ask({ type: 'ping', id }), timeout]);
        if (pong === null && !stopping && host.exited === null) {
          stopping = true;
          host.kill();
          ctx.fail(`the plugin's Python process stopped answering for ${PING_TIMEOUT_MS / 1000} s (a handler blocks its event loop?) and was killed`);
        }
      }, PING_EVERY_MS);

      const rss = host.rssBytes();
      if (rss !== null) settings.reportMemory?.(ctx.instanceId, rss);

      if (webappPort !== null) {
        if (!ctx.web.baseUrl) ctx.log.warn(`${meta.id} has a web app, but no public listener is configured (public: in the config file): its routes cannot be reached`);
        const port = webappPort;
        for (const path of ['/', '/*']) ctx.web.route(WEB_METHODS, path, (request) => proxyToWebapp(port, request));
      }

      ctx.onEvent('*', async ({ roomId, event }) => {
        const done = await host.ask({ type: 'event', id: ++ids, event: { ...event, room_id: roomId } });
        if (done.type === 'done' && done.error) throw new Error(`the plugin could not handle ${event.type} ${event.event_id}: ${done.error}`);
      });
      ctx.onConfigChange(() => host.send({ type: 'config', config: config() }));
      ctx.onStop(async () => {
        stopping = true;
        watchdog();
        settings.reportMemory?.(ctx.instanceId, null);
        if (host.exited !== null) return;
        const stopped = new Promise<void>((resolve) => {
          host.onExit = () => resolve();
          host.onMessage = (message) => (message.type === 'stopped' ? resolve() : handle(message));
        });
        host.send({ type: 'stop' });
        await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref())]);
        host.kill();
      });
    },
  };
}

const WEB_METHODS: HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** Hop-by-hop and length headers: the proxy's own connection sets them. */
const NOT_FORWARDED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect']);

/** A request on the public listener, passed to the plugin's aiohttp routes in its host process (maubot's webapp). */
async function proxyToWebapp(port: number, request: WebRequest): Promise<WebResponse> {
  const query = new URLSearchParams(request.query).toString();
  const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !NOT_FORWARDED.has(name)));
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  const res = await fetch(`http://127.0.0.1:${port}${request.path}${query ? `?${query}` : ''}`, { method: request.method, headers, body: hasBody ? request.body : undefined, redirect: 'manual' });
  const responseHeaders: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!NOT_FORWARDED.has(name) && name !== 'content-encoding' && name !== 'date' && name !== 'server') responseHeaders[name] = value;
  });
  return { status: res.status, headers: responseHeaders, body: new Uint8Array(await res.arrayBuffer()) };
}

function databaseFile(dir: string, instanceId: string): string {
  mkdirSync(dir, { recursive: true });
  return join(dir, `${instanceId}.db`);
}
