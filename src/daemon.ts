/**
 * The composition root: wires config, storage, the core, the API and the
 * console; boot, SIGHUP reload and clean stop.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type LoadedConfig } from './config/load.ts';
import { openStorage, type Storage } from './storage/database.ts';
import { createApiServer } from './api/server.ts';
import { loadConsoleAssets, type ConsoleAsset } from './api/console.ts';
import { SessionTokens } from './api/session-tokens.ts';
import { ApiTokens } from './api/api-tokens.ts';
import { LogHub, wrapLogger, type Logger } from './core/logging.ts';
import { registerSecret } from './core/redact.ts';
import { Metrics } from './core/metrics.ts';
import { AdminNotifier } from './core/notifier.ts';
import { PluginRegistry } from './core/plugin-registry.ts';
import { Supervisor } from './core/supervisor.ts';
import { Management } from './core/management.ts';
import { reconcileDeclarative } from './core/declarative.ts';
import { ErrorCounter } from './core/health.ts';
import { currentInstance } from './core/plugin-scope.ts';
import { watchEventLoop } from './core/loop-lag.ts';
import { errorMessage } from './shared/error-message.ts';
import { CODE_ROOT, PROJECT_ROOT } from './shared/paths.ts';
import { WebRoutes } from './sdk/web-routes.ts';
import { defaultHostSettings } from './mbp/adapter.ts';
import { createPublicServer } from './public/server.ts';
import type { PublicListenerConfig } from './config/schema.ts';

export const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface DaemonOptions {
  /** Where log lines go (default stdout). */
  write?: (line: string) => void;
  /** Folder of bundled plugins (default: plugins/ in the repo). */
  bundledPluginsDir?: string;
}

/**
 * The running platform: storage, plugins, bot accounts, instances and the
 * management API, wired together. `start()` is the whole boot sequence;
 * `reload()` is what SIGHUP does; `stop()` what SIGTERM does.
 */
export class Daemon {
  loaded: LoadedConfig;
  readonly hub: LogHub;
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly errors = new ErrorCounter();
  storage!: Storage;
  registry!: PluginRegistry;
  supervisor!: Supervisor;
  management!: Management;
  api!: FastifyInstance;
  /** The public listener for plugin web endpoints; null without `public:` in the config. */
  publicApi: FastifyInstance | null = null;
  readonly startedAt = Date.now();
  #notifier: AdminNotifier | null = null;
  readonly #options: DaemonOptions;
  #pendingLogWrites: Promise<unknown> = Promise.resolve();
  #stopLoopWatch: (() => void) | null = null;

  constructor(loaded: LoadedConfig, options: DaemonOptions = {}) {
    this.loaded = loaded;
    this.#options = options;
    for (const secret of loaded.secrets) registerSecret(secret);
    this.hub = new LogHub({ level: loaded.config.logging.level, write: options.write });
    this.log = wrapLogger(this.hub.root);
  }

  get config() {
    return this.loaded.config;
  }

  async start(): Promise<{ url: string }> {
    const config = this.config;
    this.storage = await openStorage({
      type: config.database.type,
      path: config.database.path,
      url: config.database.url,
      keepLogRecords: config.logging.keep_records,
      cryptoDir: join(config.data_dir, 'crypto'),
    });
    this.hub.subscribe((entry) => {
      this.metrics.logRecords.inc({ level: entry.level });
      if (entry.level === 'error' || entry.level === 'critical') this.errors.record(entry.time);
      if (entry.level === 'debug') return;
      // Serialised so records keep their order; a failing write must not recurse into logging.
      // While storage is failing, records still go to stdout and the admin room; storing them would only block on the lock again.
      if (!this.supervisor?.storageGuard.failure) this.#pendingLogWrites = this.#pendingLogWrites.then(() => this.storage.logs.append(entry)).catch(() => undefined);
      void this.#notifier?.handle(entry).catch(() => undefined);
    });
    this.registry = new PluginRegistry({
      storage: this.storage,
      pluginsDir: join(config.data_dir, 'plugins'),
      bundledDir: this.#options.bundledPluginsDir ?? join(CODE_ROOT, 'plugins'),
      log: this.log.child({ component: 'plugins' }),
      maubotHost: {
        ...defaultHostSettings(config.data_dir),
        reportMemory: (instance, bytes) => (bytes === null ? this.metrics.mbpHostMemory.remove({ instance }) : this.metrics.mbpHostMemory.set({ instance }, bytes)),
      },
    });
    await this.registry.loadAll();
    this.supervisor = new Supervisor({
      storage: this.storage,
      registry: this.registry,
      log: this.log,
      metrics: this.metrics,
      web: new WebRoutes(config.public ? (config.public.base_url ?? httpUrl(config.public.host, config.public.port)) : null),
      crypto: {
        storeDir: join(config.data_dir, 'crypto'),
        pickleKey: config.crypto.pickle_key,
        // Read on every key share, so a SIGHUP applies it to the next message.
        keySharing: (userId) => this.config.clients[userId]?.key_sharing ?? this.config.crypto.key_sharing,
      },
      catchUp: { maxAgeMs: config.sync.catch_up.max_age_hours * 3600_000, maxEvents: config.sync.catch_up.max_events },
      configFile: this.loaded.path,
    });
    this.management = new Management({ storage: this.storage, registry: this.registry, supervisor: this.supervisor, log: this.log, config });
    this.#configureNotifier();
    await this.supervisor.loadAll();
    await reconcileDeclarative(config, { storage: this.storage, management: this.management, supervisor: this.supervisor, log: this.log, configFile: this.loaded.path });
    this.supervisor.startSyncing();
    this.#stopLoopWatch = watchEventLoop(
      this.log,
      () => this.supervisor.runningHandlers(),
      (lagMs) => this.metrics.eventLoopLag.set(lagMs / 1000),
    );

    // The console is optional: a failed bundle leaves the API fully usable.
    let consoleAssets: Map<string, ConsoleAsset> | undefined;
    try {
      const loaded = await loadConsoleAssets();
      consoleAssets = loaded.assets;
      if (loaded.source === 'memory') this.log.info('web console built from console/src (console/dist missing or older than the sources)');
    } catch (err) {
      this.log.warn(`web console unavailable: ${errorMessage(err)}; run npm run build:console to see the build errors`);
    }
    this.api = await createApiServer(
      {
        config: () => this.config,
        storage: this.storage,
        registry: this.registry,
        supervisor: this.supervisor,
        management: this.management,
        logHub: this.hub,
        log: this.log.child({ component: 'api' }),
        metrics: this.metrics,
        errors: this.errors,
        // Read from the current config on every check: a SIGHUP with a new token_secret or admin username logs everyone out.
        tokens: new SessionTokens(
          () => ({ secret: this.config.server.token_secret, ttlSeconds: this.config.server.token_ttl_seconds, subject: this.config.admin.username }),
          this.storage.revokedTokens,
          // Named long-lived tokens (`trellis token create`, POST /tokens): checked with the database, so the CLI's changes count at once.
          new ApiTokens(this.storage.apiTokens),
        ),
        startedAt: this.startedAt,
        version: VERSION,
      },
      consoleAssets,
      // A development check (the test daemons set it): every API response is compared with its schema.
      { checkResponses: process.env.TRELLIS_CHECK_API_RESPONSES === '1' },
    );
    await listen(this.api, config.server.host, config.server.port, '', ' (another trellis or maubot?); set server.port or TRELLIS_PORT');
    const url = httpUrl(config.server.host, config.server.port);
    if (config.public) await this.#listenPublic(config.public);
    this.log.info(`trellis ${VERSION} listening on ${url}`, { instances: this.supervisor.instanceIds.length, clients: this.supervisor.clients.size });
    return { url };
  }

  async #listenPublic(settings: PublicListenerConfig): Promise<void> {
    const log = this.log.child({ component: 'public' });
    this.publicApi = createPublicServer({ routes: this.supervisor.web, log, maxBodyBytes: settings.max_body_bytes });
    await listen(this.publicApi, settings.host, settings.port, ' (public listener)', '; set public.port or TRELLIS_PUBLIC_PORT');
    log.info(`public listener for plugin web endpoints on ${httpUrl(settings.host, settings.port)}, reached as ${this.supervisor.web.publicUrl('/')}`);
  }

  #configureNotifier(): void {
    const n = this.config.notifications;
    if (!n) {
      this.#notifier = null;
      return;
    }
    const notifyLog = this.log.child({ component: 'notifier' });
    this.#notifier = new AdminNotifier(
      { adminRoom: n.admin_room, clientId: n.client, minLevel: n.min_level, dedupeSeconds: n.dedupe_seconds, maxPerMinute: n.max_per_minute },
      async (clientId, roomId, text, html) => {
        const client = this.supervisor.clients.get(clientId);
        if (!client) {
          notifyLog.warn(`notifications.client ${clientId} is not a configured bot account; admin notification dropped`);
          return;
        }
        try {
          await client.actions.sendText(roomId, text, html, { notice: true });
        } catch (err) {
          notifyLog.warn(`could not post to the admin room ${roomId}: ${errorMessage(err)}`);
        }
      },
    );
  }

  /** One line for the service manager's status (systemctl status): accounts and instances. */
  statusLine(): string {
    const states = this.supervisor.instanceIds.map((id) => this.supervisor.instanceStatus(id)?.state);
    const running = states.filter((s) => s === 'running').length;
    const failed = states.filter((s) => s === 'failed').length;
    return `${this.supervisor.clients.size} bot accounts, ${running} of ${states.length} instances running${failed ? `, ${failed} failed` : ''}`;
  }

  /** SIGHUP: re-read the config file and reconcile declarative clients and instances. */
  async reload(): Promise<void> {
    let loaded: LoadedConfig;
    try {
      loaded = await loadConfig(this.loaded.path);
    } catch (err) {
      this.log.error(`reload refused, keeping the running configuration: ${errorMessage(err)}`);
      return;
    }
    for (const secret of loaded.secrets) registerSecret(secret);
    this.loaded = loaded;
    this.management.setConfig(loaded.config);
    this.#configureNotifier();
    const report = await reconcileDeclarative(loaded.config, { storage: this.storage, management: this.management, supervisor: this.supervisor, log: this.log, configFile: loaded.path });
    this.log.info('configuration reloaded', { instances: report.instances, clients: report.clients });
  }

  /**
   * For process-level 'uncaughtException'/'unhandledRejection': when plugin
   * code threw (its own timer, a promise nobody awaited), the instance is
   * blamed and the daemon goes on; returns false for anything else, which
   * the caller treats as fatal.
   */
  blamePlugin(err: unknown): boolean {
    const instanceId = currentInstance();
    return instanceId !== undefined && this.supervisor !== undefined && this.supervisor.reportEscapedError(instanceId, err);
  }

  async stop(): Promise<void> {
    this.log.info('shutting down');
    this.#stopLoopWatch?.();
    await this.publicApi?.close();
    await this.api?.close();
    await this.supervisor?.stopAll();
    await this.#pendingLogWrites;
    await this.storage?.close();
  }
}

function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Listens, or throws a message naming the address and, for a taken port, what to change. */
async function listen(app: FastifyInstance, host: string, port: number, what: string, whenTaken: string): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const hint = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `port ${port} is already in use${whenTaken}` : errorMessage(err);
    throw new Error(`cannot listen on ${host}:${port}${what}: ${hint}`);
  }
}
