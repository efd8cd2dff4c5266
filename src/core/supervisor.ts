import type { MatrixEvent } from '../sdk/index.ts';
import type { Storage } from '../storage/database.ts';
import type { ClientRecord } from '../storage/clients.ts';
import type { InstanceRecord } from '../storage/instances.ts';
import { registerSecret } from './redact.ts';
import { BotClient, type CryptoSettings } from './bot-client.ts';
import { boundStorage, InstanceContext } from './plugin-context.ts';
import type { PluginRegistry } from './plugin-registry.ts';
import { secretConfigKeys } from '../plugin-host/manifest.ts';
import type { Logger } from './logging.ts';
import type { Metrics } from './metrics.ts';

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
}

/** A handler slower than this no longer holds up the sync loop; it keeps running. */
const HANDLER_WAIT_MS = 10_000;
const SETUP_TIMEOUT_MS = 30_000;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;

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
  readonly clients = new Map<string, BotClient>();
  readonly #instances = new Map<string, ManagedInstance>();
  readonly #storage: Storage;
  readonly #registry: PluginRegistry;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #crypto: CryptoSettings | undefined;
  #stopping = false;
  #syncing = false;

  constructor(options: { storage: Storage; registry: PluginRegistry; log: Logger; metrics: Metrics; crypto?: CryptoSettings }) {
    this.#storage = options.storage;
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
  applyClient(record: ClientRecord): BotClient | undefined {
    registerSecret(record.accessToken);
    const existing = this.clients.get(record.id);
    if (existing && existing.record.accessToken === record.accessToken && existing.record.homeserverUrl === record.homeserverUrl) {
      existing.updateRecord(record);
      if (!record.enabled) void existing.stop();
      else if (this.#syncing) existing.start();
      return existing;
    }
    if (existing) void existing.stop();
    const client = new BotClient({
      record,
      storage: this.#storage,
      log: this.#log.child({ client: record.id }),
      sink: (c, roomId, event) => this.#dispatch(c, roomId, event),
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
      managed = { record, status: { state: 'stopped', lastError: null, startedAt: null, eventsHandled: 0, errorTimes: [] }, context: null, retryTimer: null, attempts: 0 };
      this.#instances.set(record.id, managed);
    }
    managed.record = record;
    managed.attempts = 0;
    if (!record.enabled) {
      this.#setState(managed, 'disabled');
      return;
    }
    await this.#start(managed);
  }

  /** Applies a config change without a restart when only the config changed. */
  async updateInstanceConfig(record: InstanceRecord): Promise<void> {
    const managed = this.#instances.get(record.id);
    if (managed?.context && managed.status.state === 'running' && managed.record.pluginId === record.pluginId && managed.record.clientId === record.clientId && managed.record.enabled === record.enabled) {
      managed.record = record;
      const plugin = this.#registry.get(record.pluginId);
      const validated = plugin?.validateConfig(record.config);
      if (validated?.ok) {
        await managed.context.updateConfig(validated.value);
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

  async stopAll(): Promise<void> {
    this.#stopping = true;
    for (const managed of this.#instances.values()) await this.#stopRuntime(managed);
    await Promise.all([...this.clients.values()].map((c) => c.stop()));
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
    try {
      const plugin = this.#registry.get(record.pluginId);
      if (!plugin) throw new Error(`plugin ${record.pluginId} is not installed; upload it or fix the instance's plugin`);
      const client = this.clients.get(record.clientId);
      if (!client) throw new Error(`bot account ${record.clientId} is not configured; add it under clients or via POST /client/new`);
      if (!client.record.enabled) throw new Error(`bot account ${record.clientId} is disabled`);
      const validated = plugin.validateConfig(record.config);
      if (!validated.ok) throw new Error(`config is invalid for ${plugin.id} ${plugin.version}: ${validated.problems.join('; ')}`);
      // Secret config values (writeOnly in the plugin's schema) are scrubbed from every log line.
      for (const key of secretConfigKeys(plugin.manifest.configSchema)) {
        const value = validated.value[key];
        if (typeof value === 'string' && value) registerSecret(value);
      }
      const context = new InstanceContext({
        instanceId: record.id,
        config: validated.value,
        matrix: client.actions,
        storage: boundStorage(this.#storage.pluginStorage, record.id),
        metrics: this.#metrics.forPlugin(plugin.id, record.id),
        log,
        onCommand: (name) => this.#metrics.commands.inc({ instance: record.id, command: name }),
        onHandlerError: () => {
          this.#metrics.handlerErrors.inc({ instance: record.id });
          this.#recordError(managed);
        },
      });
      await withTimeout(Promise.resolve(plugin.definition.setup(context)), SETUP_TIMEOUT_MS, `setup did not finish within ${SETUP_TIMEOUT_MS / 1000} s`);
      context.finishSetup();
      managed.context = context;
      managed.attempts = 0;
      this.#setState(managed, 'running', '');
      managed.status.lastError = null;
      log.info(`instance started (${plugin.id} ${plugin.version} on ${record.clientId})`);
      for (const room of record.rooms) if (room !== '*') await client.ensureJoined(room);
    } catch (err) {
      managed.context?.stop();
      managed.context = null;
      this.#recordError(managed);
      const message = err instanceof Error ? err.message : String(err);
      this.#setState(managed, 'failed', message);
      const delay = Math.min(RETRY_BASE_MS * 2 ** managed.attempts, RETRY_MAX_MS);
      managed.attempts++;
      log.error(`instance failed to start: ${message}; retrying in ${Math.round(delay / 1000)} s`, { err });
      if (!this.#stopping) {
        managed.retryTimer = setTimeout(() => {
          managed.retryTimer = null;
          void this.#start(managed);
        }, delay);
        managed.retryTimer.unref();
      }
    }
  }

  async #stopRuntime(managed: ManagedInstance): Promise<void> {
    if (managed.retryTimer) clearTimeout(managed.retryTimer);
    managed.retryTimer = null;
    const context = managed.context;
    managed.context = null;
    if (!context) return;
    context.stop();
    const plugin = this.#registry.get(managed.record.pluginId);
    try {
      await withTimeout(Promise.resolve(plugin?.definition.teardown?.(context)), 10_000, 'teardown did not finish within 10 s');
    } catch (err) {
      this.#log.child({ instance: managed.record.id }).warn(`teardown failed: ${(err as Error).message}`);
    }
  }

  async #dispatch(client: BotClient, roomId: string, event: MatrixEvent): Promise<void> {
    const receivers: Array<ManagedInstance & { context: InstanceContext }> = [];
    for (const managed of this.#instances.values()) {
      if (managed.record.clientId !== client.userId || !managed.context || managed.status.state !== 'running') continue;
      if (!roomAllowed(managed.record.rooms, roomId) && !(client.isDirectRoom(roomId) && this.#registry.get(managed.record.pluginId)?.manifest.directMessages)) continue;
      receivers.push(managed as ManagedInstance & { context: InstanceContext });
    }
    // One bot, several instances in the room: `!help` gets one answer listing them all.
    const askingHelp = receivers.filter((m) => m.context.asksGeneratedHelp(event));
    const combinedHelp = askingHelp.length > 1 ? askingHelp.map((m) => m.context.helpText()).join('\n\n') : undefined;
    const waits: Array<Promise<unknown>> = [];
    for (const managed of receivers) {
      managed.status.eventsHandled++;
      this.#metrics.eventsHandled.inc({ instance: managed.record.id });
      const help = askingHelp.includes(managed) ? (managed === askingHelp[0] ? combinedHelp : 'skip') : undefined;
      const work = managed.context.dispatch(roomId, event, help);
      waits.push(withTimeout(work, HANDLER_WAIT_MS, 'slow handler').catch(() => undefined));
    }
    await Promise.all(waits);
  }

  get instanceIds(): string[] {
    return [...this.#instances.keys()];
  }
}
