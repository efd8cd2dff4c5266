/**
 * Runs instances: starts bot accounts and plugins, restarts failed ones with
 * backoff, routes each room event to the instances allowed in that room.
 */
import { isDeepStrictEqual } from 'node:util';
import type { MatrixActions, MatrixEvent } from '../sdk/index.ts';
import type { Storage } from '../storage/database.ts';
import type { AccountRecord } from '../storage/clients.ts';
import type { InstanceRecord } from '../storage/instances.ts';
import { registerSecret } from './redact.ts';
import { BotAccount, type CryptoSettings, type Delivery } from './bot-account.ts';
import type { CatchUpWindow } from './catch-up.ts';
import { InstanceQueue } from './instance-queue.ts';
import { runAsInstance } from './plugin-scope.ts';
import { StorageGuard } from './storage-guard.ts';
import { WebRoutes } from '../sdk/web-routes.ts';
import { boundStorage, InstanceContext } from './plugin-context.ts';
import type { LoadedPlugin, PluginRegistry } from './plugin-registry.ts';
import { upgradeConfig } from './config-upgrade.ts';
import { secretConfigKeys } from '../plugin-package/manifest.ts';
import type { Logger } from './logging.ts';
import type { Metrics } from './metrics.ts';
import { errorMessage } from '../shared/error-message.ts';

export type InstanceState = 'disabled' | 'stopped' | 'starting' | 'running' | 'failed' | 'restarting';

export interface InstanceStatus {
  state: InstanceState;
  lastError: string | null;
  startedAt: number | null;
  eventsHandled: number;
  errorTimes: number[];
}

interface ManagedInstance {
  record: InstanceRecord;
  status: InstanceStatus;
  context: InstanceContext | null;
  retryTimer: NodeJS.Timeout | null;
  attempts: number;
  /** `ctx.fail`s in a row, each soon after its start: a plugin that crashes again right away backs off further. */
  crashes: number;
  /** Its room events, in order; lives across restarts of the instance. */
  queue: InstanceQueue;
}

/** A handler slower than this stops holding its instance's queue (it keeps running; the next event starts). */
const HANDLER_RELEASE_MS = 10_000;
/** A handler slower than this stops holding the account's sync; other instances on the bot go on. */
const HANDLER_STALL_MS = 2_000;
/** SIGTERM: how long handlers in flight get to finish before the sync state is saved without them. */
const SHUTDOWN_GRACE_MS = 5_000;
const SETUP_TIMEOUT_MS = 30_000;
/** An instance that ran this long before it failed (ctx.fail) starts its backoff over. */
const STABLE_RUN_MS = 5 * 60_000;
const UPGRADE_TIMEOUT_MS = 10_000;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;

const RESTARTING = new Set<InstanceState>(['starting', 'restarting']);
/** How long an event waits for its instance to finish restarting (below HANDLER_RELEASE_MS). */
const RESTART_WAIT_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function roomAllowed(rooms: string[], roomId: string): boolean {
  return rooms.includes('*') || rooms.includes(roomId);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * Runs the bot accounts and the instances on them: starts, stops and
 * restarts instances (with exponential backoff after a failed start), and
 * routes each room event only to the running instances of that account
 * whose room allowlist contains the room. One instance failing never stops
 * another.
 */
export class Supervisor {
  readonly clients = new Map<string, BotAccount>();
  readonly #instances = new Map<string, ManagedInstance>();
  readonly #storage: Storage;
  readonly #registry: PluginRegistry;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #crypto: CryptoSettings | undefined;
  /** The public listener's routes; each instance adds its own through ctx.web. */
  readonly web: WebRoutes;
  readonly #catchUp: CatchUpWindow | undefined;
  /** The config file's path, for messages about file-managed instances. */
  readonly #configFile: string | undefined;
  /** Pauses the message path while storage cannot be written; /health reads its failure. */
  readonly storageGuard: StorageGuard;
  #stopping = false;
  #syncing = false;

  constructor(options: { storage: Storage; registry: PluginRegistry; log: Logger; metrics: Metrics; web?: WebRoutes; crypto?: CryptoSettings; catchUp?: CatchUpWindow; configFile?: string }) {
    this.#storage = options.storage;
    this.web = options.web ?? new WebRoutes(null);
    this.#configFile = options.configFile;
    this.#catchUp = options.catchUp;
    this.storageGuard = new StorageGuard(options.log.child({ component: 'storage' }));
    this.#registry = options.registry;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#crypto = options.crypto;
  }

  /** Prepares every stored account and instance; syncing starts with startSyncing(). */
  async loadAll(): Promise<void> {
    for (const client of await this.#storage.clients.list()) this.applyClient(client);
    for (const instance of await this.#storage.instances.list()) await this.applyInstance(instance);
  }

  /**
   * Starts the sync loops. Called once instances are set up: an event that
   * arrived before its instance was running would be marked handled unseen.
   */
  startSyncing(): void {
    this.#syncing = true;
    for (const client of this.clients.values()) if (client.record.enabled) client.start();
  }

  /** Starts, refreshes or stops the sync of one bot account to match its record. */
  applyClient(record: AccountRecord): BotAccount | undefined {
    registerSecret(record.accessToken);
    const existing = this.clients.get(record.id);
    if (existing && existing.record.accessToken === record.accessToken && existing.record.homeserverUrl === record.homeserverUrl) {
      existing.updateRecord(record);
      if (!record.enabled) void existing.stop();
      else if (this.#syncing) existing.start();
      return existing;
    }
    if (existing) void existing.stop();
    const client = new BotAccount({
      record,
      storage: this.#storage,
      log: this.#log.child({ client: record.id }),
      sink: (c, roomId, event) => this.#dispatch(c, roomId, event),
      guard: this.storageGuard,
      ...(this.#catchUp ? { catchUp: this.#catchUp } : {}),
      ...(this.#crypto ? { crypto: this.#crypto } : {}),
    });
    this.clients.set(record.id, client);
    if (record.enabled && this.#syncing) client.start();
    return client;
  }

  async removeClient(id: string): Promise<void> {
    const client = this.clients.get(id);
    this.clients.delete(id);
    await client?.stop();
  }

  instanceStatus(id: string): InstanceStatus | undefined {
    return this.#instances.get(id)?.status;
  }

  /** The record of every instance the supervisor manages (what the API lists with plugins and accounts). */
  instanceRecords(): InstanceRecord[] {
    return [...this.#instances.values()].map((m) => m.record);
  }

  /** Enabled instances whose room allowlist is empty: they react in no room. */
  instancesHearingNoRoom(): string[] {
    return this.instanceRecords()
      .filter((r) => r.enabled && r.rooms.length === 0)
      .map((r) => r.id);
  }

  instancesUsingPlugin(pluginId: string): string[] {
    return [...this.#instances.values()].filter((m) => m.record.pluginId === pluginId).map((m) => m.record.id);
  }

  instancesUsingClient(clientId: string): string[] {
    return [...this.#instances.values()].filter((m) => m.record.clientId === clientId).map((m) => m.record.id);
  }

  /** (Re)applies an instance record: stops the old runtime and starts a new one if enabled. */
  async applyInstance(record: InstanceRecord): Promise<void> {
    let managed = this.#instances.get(record.id);
    if (managed) await this.#stopRuntime(managed);
    else {
      const log = this.#log.child({ instance: record.id });
      const queue = new InstanceQueue({
        releaseAfterMs: HANDLER_RELEASE_MS,
        stallAfterMs: HANDLER_STALL_MS,
        onReleased: (label, ms) => log.warn(`handler for ${label} still running after ${Math.round(ms / 1000)} s; this instance goes on with its next event (other instances were not held up)`),
      });
      managed = { record, status: { state: 'stopped', lastError: null, startedAt: null, eventsHandled: 0, errorTimes: [] }, context: null, retryTimer: null, attempts: 0, crashes: 0, queue };
      this.#instances.set(record.id, managed);
    }
    managed.record = record;
    managed.attempts = 0;
    this.#warnIfDeaf(record);
    if (!record.enabled) {
      this.#setState(managed, 'disabled');
      return;
    }
    await this.#start(managed);
  }

  readonly #warnedDeaf = new Set<string>();

  /** An enabled instance with an empty room allowlist reacts in no room: said once (per instance and daemon run), as /health and the console show it. */
  #warnIfDeaf(record: InstanceRecord): void {
    if (record.rooms.length > 0 || !record.enabled) {
      this.#warnedDeaf.delete(record.id);
      return;
    }
    if (this.#warnedDeaf.has(record.id)) return;
    this.#warnedDeaf.add(record.id);
    this.#log.warn(`instance ${record.id} hears no room: its rooms list is empty; give room ids, or ["*"] for every room its bot is in`, { instance: record.id });
  }

  /** Applies a config change without a restart when only the config changed. */
  /** Another bot account's actions for an instance that lists it among its senders. */
  #senderActions(managed: ManagedInstance, userId: string): MatrixActions {
    const { record } = managed;
    if (!record.senders.includes(userId)) {
      throw new Error(`instance ${record.id} may not send as ${userId}: add it to the instance's senders (PUT /instance/${record.id} {"senders": [...]} or instances.${record.id}.senders)`);
    }
    const client = this.clients.get(userId);
    if (!client) throw new Error(`sender ${userId} of instance ${record.id} is not a bot account of this daemon; add it first`);
    if (!client.record.enabled) throw new Error(`sender ${userId} of instance ${record.id} is disabled; enable the bot account`);
    return client.actions;
  }

  async updateInstanceConfig(record: InstanceRecord): Promise<void> {
    const managed = this.#instances.get(record.id);
    if (
      managed?.context &&
      managed.status.state === 'running' &&
      managed.record.pluginId === record.pluginId &&
      managed.record.clientId === record.clientId &&
      managed.record.enabled === record.enabled
    ) {
      // The same config (rooms or nothing changed, e.g. a SIGHUP): the running one stays, upgraded or not.
      const sameConfig = isDeepStrictEqual(managed.record.config, record.config);
      managed.record = record;
      this.#warnIfDeaf(record);
      const plugin = this.#registry.get(record.pluginId);
      const validated = sameConfig ? undefined : plugin?.validateConfig(record.config);
      if (sameConfig || validated?.ok) {
        if (validated?.ok) await managed.context.updateConfig(validated.value);
        for (const room of record.rooms) if (room !== '*') await this.clients.get(record.clientId)?.ensureJoined(room);
        return;
      }
    }
    await this.applyInstance(record);
  }

  async stopInstance(id: string): Promise<void> {
    const managed = this.#instances.get(id);
    if (!managed) return;
    await this.#stopRuntime(managed);
    this.#setState(managed, managed.record.enabled ? 'stopped' : 'disabled');
  }

  async startInstance(id: string): Promise<void> {
    const managed = this.#instances.get(id);
    if (!managed) return;
    await this.#stopRuntime(managed);
    managed.attempts = 0;
    await this.#start(managed);
  }

  async removeInstance(id: string): Promise<void> {
    const managed = this.#instances.get(id);
    if (!managed) return;
    await this.#stopRuntime(managed);
    this.#instances.delete(id);
    this.#metrics.instanceState.remove({ instance: id, plugin: managed.record.pluginId });
  }

  async restartPluginInstances(pluginId: string): Promise<void> {
    for (const managed of this.#instances.values()) {
      if (managed.record.pluginId === pluginId && managed.record.enabled) await this.applyInstance(managed.record);
    }
  }

  /**
   * Shutdown order matters for not losing events: first the sync loops stop
   * taking batches and let the handlers in flight finish (bounded), so what
   * was handled is recorded and the token saved; only then do instances stop.
   */
  async stopAll(graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.clients.values()].map((c) => c.stop(graceMs)));
    this.storageGuard.stop();
    for (const managed of this.#instances.values()) await this.#stopRuntime(managed);
  }

  /**
   * A throw that escaped a plugin (its own setTimeout, an un-awaited
   * promise) and reached the process: logged and counted against the
   * instance, which keeps running, like a throwing handler.
   */
  reportEscapedError(instanceId: string, err: unknown): boolean {
    const managed = this.#instances.get(instanceId);
    if (!managed) return false;
    this.#metrics.handlerErrors.inc({ instance: instanceId });
    this.#recordError(managed);
    this.#log.child({ instance: instanceId }).error(`uncaught error in plugin code (a timer or promise nobody awaited): ${errorMessage(err)}`, { err });
    return true;
  }

  /** Handlers running now and for how long (blame for a blocked event loop). */
  runningHandlers(): Array<{ instance: string; label: string; ms: number }> {
    const running = [];
    for (const managed of this.#instances.values()) {
      const now = managed.queue.running;
      if (now) running.push({ instance: managed.record.id, ...now });
    }
    return running;
  }

  #setState(managed: ManagedInstance, state: InstanceState, error?: string) {
    managed.status.state = state;
    if (error !== undefined) managed.status.lastError = error;
    if (state === 'running') managed.status.startedAt = Date.now();
    this.#metrics.instanceState.set({ instance: managed.record.id, plugin: managed.record.pluginId }, state === 'running' ? 1 : 0);
  }

  #recordError(managed: ManagedInstance) {
    const now = Date.now();
    managed.status.errorTimes = managed.status.errorTimes.filter((t) => now - t < 3600_000);
    managed.status.errorTimes.push(now);
  }

  async #start(managed: ManagedInstance): Promise<void> {
    const { record } = managed;
    const log = this.#log.child({ instance: record.id });
    this.#setState(managed, managed.attempts > 0 ? 'restarting' : 'starting');
    let context: InstanceContext | null = null;
    try {
      const plugin = this.#registry.get(record.pluginId);
      if (!plugin) throw new Error(`plugin ${record.pluginId} is not installed; upload it or fix the instance's plugin`);
      const client = this.clients.get(record.clientId);
      if (!client) throw new Error(`bot account ${record.clientId} is not configured; add it under clients or via POST /client/new`);
      if (!client.record.enabled) throw new Error(`bot account ${record.clientId} is disabled`);
      // First start of a bundled plugin imports its code here; an import error fails this start with "main: … failed to load: …".
      const definition = await plugin.loadDefinition();
      const config = await this.#currentConfig(managed, plugin, log);
      // Secret config values (writeOnly in the plugin's schema) are scrubbed from every log line.
      for (const key of secretConfigKeys(plugin.manifest.configSchema)) {
        const value = config[key];
        if (typeof value === 'string' && value) registerSecret(value);
      }
      context = new InstanceContext({
        instanceId: record.id,
        config,
        matrix: client.actions,
        storage: boundStorage(this.#storage.pluginStorage, record.id),
        metrics: this.#metrics.forPlugin(plugin.id, record.id),
        web: this.web.forInstance(record.id, log, (fn) => runAsInstance(record.id, fn)),
        senders: () => managed.record.senders,
        matrixAs: (userId) => this.#senderActions(managed, userId),
        log,
        onCommand: (name) => this.#metrics.commands.inc({ instance: record.id, command: name }),
        onHandlerError: () => {
          this.#metrics.handlerErrors.inc({ instance: record.id });
          this.#recordError(managed);
        },
        onFail: (reason) => void this.#crashed(managed, context, reason),
      });
      // In the instance's scope: timers and promises setup leaves behind are blamed on it if they throw.
      const ctx = context;
      await withTimeout(Promise.resolve(runAsInstance(record.id, () => definition.setup(ctx))), SETUP_TIMEOUT_MS, `setup did not finish within ${SETUP_TIMEOUT_MS / 1000} s`);
      managed.context = context;
      managed.attempts = 0;
      this.#setState(managed, 'running', '');
      managed.status.lastError = null;
      log.info(`instance started (${plugin.id} ${plugin.version} on ${record.clientId})`);
      for (const room of record.rooms) {
        // The instance may be stopped, changed or deleted while joins are under way: stop joining for it.
        if (managed.context !== context || this.#instances.get(record.id) !== managed) break;
        if (room !== '*') await client.ensureJoined(room);
      }
    } catch (err) {
      // Whatever a failed setup left behind (timers, onStop) is released before the retry.
      await context?.stop();
      if (managed.context === context) managed.context = null;
      this.#retryLater(managed, 'instance failed to start', errorMessage(err), err);
    }
  }

  /** Marks the instance failed (`message` is its last error) and starts it again after a backoff that grows with each failure in a row. */
  #retryLater(managed: ManagedInstance, what: string, message: string, err?: unknown): void {
    this.#recordError(managed);
    this.#setState(managed, 'failed', message);
    const delay = Math.min(RETRY_BASE_MS * 2 ** managed.attempts, RETRY_MAX_MS);
    managed.attempts++;
    this.#log.child({ instance: managed.record.id }).error(`${what}: ${message}; retrying in ${Math.round(delay / 1000)} s`, err ? { err } : undefined);
    if (this.#stopping) return;
    managed.retryTimer = setTimeout(() => {
      managed.retryTimer = null;
      void this.#start(managed);
    }, delay);
    managed.retryTimer.unref();
  }

  /** `ctx.fail` of a running instance: stopped like any stop, then retried with backoff. */
  async #crashed(managed: ManagedInstance, context: InstanceContext | null, reason: string): Promise<void> {
    if (context === null || managed.context !== context || this.#stopping) return;
    const ranMs = Date.now() - (managed.status.startedAt ?? 0);
    managed.crashes = ranMs >= STABLE_RUN_MS ? 0 : managed.crashes + 1;
    managed.attempts = managed.crashes;
    await this.#stopRuntime(managed);
    this.#retryLater(managed, 'instance failed', reason);
  }

  /**
   * The config the instance runs with (schema defaults applied), upgraded
   * to the installed plugin version when it was written for another one or
   * no longer validates (config-upgrade.ts). An upgraded config is stored,
   * so the API shows what runs; a file-managed instance's is not (the file
   * is its source and is never rewritten): it is upgraded again at each
   * start, with a WARN saying what to change in the file. Throws, naming
   * each problem and the fix, when the config cannot be made valid.
   */
  async #currentConfig(managed: ManagedInstance, plugin: LoadedPlugin, log: Logger): Promise<Record<string, unknown>> {
    const { record } = managed;
    const result = await upgradeConfig(plugin, record, (hook) =>
      withTimeout(Promise.resolve(runAsInstance(record.id, hook)), UPGRADE_TIMEOUT_MS, `did not finish within ${UPGRADE_TIMEOUT_MS / 1000} s`),
    );
    const inFile = record.managedBy === 'config';
    const entry = `instances.${record.id}.config in ${this.#configFile ?? 'the config file'}`;
    const written = record.pluginVersion && record.pluginVersion !== plugin.version ? ` (it was written for ${record.pluginVersion})` : '';
    if (!result.ok) {
      const problems = result.problems.map((p) => (p.startsWith('config') || p.startsWith('upgradeConfig') ? p : `config.${p}`));
      const fix = inFile ? `edit ${entry} and send SIGHUP` : `set a valid config in the console or with PUT /instance/${record.id}`;
      throw new Error(`the config does not fit ${plugin.id} ${plugin.version}${written}: ${problems.join('; ')}; ${fix}`);
    }
    const changes = [...(result.hookChanges.length ? [`its upgradeConfig ${result.hookChanges.join(', ')}`] : []), ...(result.dropped.length ? [`dropped ${result.dropped.join(', ')}`] : [])];
    if (inFile) {
      if (changes.length) {
        log.warn(`${entry} does not fit ${plugin.id} ${plugin.version}${written}; the instance runs with it upgraded (${changes.join('; ')}): update the file to match (Trellis never rewrites it)`);
      }
      return result.value;
    }
    if (result.dropped.length) log.warn(`config keys ${result.dropped.join(', ')} are not known to ${plugin.id} ${plugin.version} and were dropped from the instance's config`);
    if (result.hookChanges.length) log.info(`config upgraded for ${plugin.id} ${plugin.version}${written} by the plugin's upgradeConfig: ${result.hookChanges.join(', ')}`);
    if (result.changed || record.pluginVersion !== plugin.version) {
      const stored = await this.#storage.instances.replaceConfig(record.id, record.config, result.config, plugin.version);
      // Unless the instance was re-applied meanwhile (its new record is newer than this one).
      if (stored && managed.record === record) managed.record = { ...record, config: result.config, pluginVersion: plugin.version };
      else log.warn('the upgraded config was not stored: the instance was changed meanwhile');
    }
    return result.value;
  }

  async #stopRuntime(managed: ManagedInstance): Promise<void> {
    if (managed.retryTimer) clearTimeout(managed.retryTimer);
    managed.retryTimer = null;
    const context = managed.context;
    managed.context = null;
    if (!context) return;
    await context.stop();
    const plugin = this.#registry.get(managed.record.pluginId);
    try {
      const definition = await plugin?.loadDefinition();
      await withTimeout(Promise.resolve(runAsInstance(managed.record.id, () => definition?.teardown?.(context))), 10_000, 'teardown did not finish within 10 s');
    } catch (err) {
      this.#log.child({ instance: managed.record.id }).warn(`teardown failed: ${errorMessage(err)}`);
    }
  }

  /**
   * Queues a room event for every running instance of the account whose
   * allowlist has the room. Synchronous up to the queueing, so events keep
   * their order; each instance then handles them one at a time.
   */
  #dispatch(client: BotAccount, roomId: string, event: MatrixEvent): Delivery {
    const receivers: Array<ManagedInstance & { context: InstanceContext }> = [];
    for (const managed of this.#instances.values()) {
      if (managed.record.clientId !== client.userId || !managed.context || managed.status.state !== 'running') continue;
      if (!roomAllowed(managed.record.rooms, roomId) && !(client.isDirectRoom(roomId) && this.#registry.get(managed.record.pluginId)?.manifest.directMessages)) continue;
      receivers.push(managed as ManagedInstance & { context: InstanceContext });
    }
    // One bot, several instances in the room: `!help` gets one answer listing them all.
    const askingHelp = receivers.filter((m) => m.context.asksGeneratedHelp(event));
    const combinedHelp = askingHelp.length > 1 ? askingHelp.map((m) => m.context.helpText()).join('\n\n') : undefined;
    const tickets = receivers.map((managed) => {
      const help = askingHelp.includes(managed) ? (managed === askingHelp[0] ? combinedHelp : 'skip') : undefined;
      return managed.queue.push(`event ${event.event_id} (${event.type}) in ${roomId}`, async () => {
        // Looked up when its turn comes: the instance may have been restarted (or stopped) meanwhile.
        // One that is restarting (new plugin version, config) gets the event once it runs again.
        for (let waited = 0; !managed.context && RESTARTING.has(managed.status.state) && waited < RESTART_WAIT_MS; waited += 100) await sleep(100);
        const context = managed.context;
        if (!context || managed.status.state !== 'running') return;
        managed.status.eventsHandled++;
        this.#metrics.eventsHandled.inc({ instance: managed.record.id });
        await context.dispatch(roomId, event, help);
      });
    });
    return {
      done: Promise.all(tickets.map((t) => t.done)).then(() => undefined),
      settled: Promise.all(tickets.map((t) => t.settled)).then((all) => (all.every((how) => how === 'done') ? 'done' : 'stalled')),
    };
  }

  get instanceIds(): string[] {
    return [...this.#instances.keys()];
  }
}
