/**
 * The SDK's PluginContext as the daemon implements it for one instance:
 * storage, Matrix actions, handlers, timers, per-handler scope.
 */
import type { CommandDefinition, JsonValue, MatrixActions, MatrixEvent, MembershipEvent, MessageEvent, PluginContext, PluginMetrics, PluginStorage, ReactionEvent, RoomEvent } from '../sdk/index.ts';
import type { PluginStorageRepository } from '../storage/plugin-storage.ts';
import type { Logger } from './logging.ts';
import { runForEvent } from './plugin-scope.ts';
import { HandlerRegistry } from '../sdk/handlers.ts';
import { nodeScheduler, type TimerSet } from '../sdk/timers.ts';
import type { InstanceWeb } from '../sdk/web-routes.ts';

type Handler<T> = (event: T) => Promise<void> | void;

/** Storage bound to one instance id: the plugin never sees the id, so it cannot address another instance's rows. */
export function boundStorage(repo: PluginStorageRepository, instanceId: string): PluginStorage {
  return {
    async get<T extends JsonValue = JsonValue>(key: string) {
      const raw = await repo.get(instanceId, key);
      return raw === undefined ? undefined : (JSON.parse(raw) as T);
    },
    set: (key, value) => repo.set(instanceId, key, JSON.stringify(value)),
    delete: (key) => repo.delete(instanceId, key),
    async list<T extends JsonValue = JsonValue>(prefix?: string) {
      const rows = await repo.list(instanceId, prefix);
      return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as T }));
    },
  };
}

export interface ContextOptions<Config> {
  instanceId: string;
  config: Config;
  matrix: MatrixActions;
  storage: PluginStorage;
  metrics: PluginMetrics;
  /** The instance's routes on the public listener; disposed when it stops. */
  web: InstanceWeb;
  /** The senders allowed now, and another account's actions (throws when not allowed or not available). */
  senders(): readonly string[];
  matrixAs(userId: string): MatrixActions;
  log: Logger;
  onCommand?(name: string): void;
  onHandlerError?(err: unknown): void;
  /** `ctx.fail`: stop the instance, mark it failed and start it again with backoff. */
  onFail(reason: string): void;
}

/**
 * The live side of the SDK for one running instance: the plugin's handlers
 * and commands are collected and routed by the SDK's {@link HandlerRegistry}
 * (the one the test kit runs plugins on too); this adds Node's timers, the
 * instance's scope for each handler (replay-stable transaction ids, blame)
 * and the combined `help` of several instances in a room. Each handler runs
 * isolated: a throw is logged with the instance id and never reaches the
 * sync loop or another instance.
 */
export class InstanceContext<Config extends Record<string, unknown> = Record<string, unknown>> implements PluginContext<Config> {
  readonly instanceId: string;
  readonly matrix: MatrixActions;
  readonly storage: PluginStorage;
  readonly metrics: PluginMetrics;
  readonly web: InstanceWeb;
  readonly log: Logger;
  readonly timers: TimerSet;
  readonly #senders: ContextOptions<Config>['senders'];
  readonly #matrixAs: ContextOptions<Config>['matrixAs'];
  readonly #onFail: ContextOptions<Config>['onFail'];
  #config: Config;
  readonly #handlers: HandlerRegistry<Config>;

  constructor(options: ContextOptions<Config>) {
    this.instanceId = options.instanceId;
    this.#config = options.config;
    this.matrix = options.matrix;
    this.storage = options.storage;
    this.metrics = options.metrics;
    this.web = options.web;
    this.#senders = options.senders;
    this.#matrixAs = options.matrixAs;
    this.#onFail = options.onFail;
    this.log = options.log;
    this.#handlers = new HandlerRegistry<Config>({
      instanceId: options.instanceId,
      prefix: () => this.prefix,
      matrix: options.matrix,
      log: options.log,
      scheduler: nodeScheduler,
      onHandlerError: options.onHandlerError,
      onCommand: options.onCommand,
      // Each handler runs in its own scope named by its place, so its sends get the same
      // transaction ids when this event is handled again after a crash (see plugin-scope.ts).
      runForEvent: (eventId, handler, fn) => runForEvent(options.instanceId, eventId, handler, fn),
    });
    this.timers = this.#handlers.timers;
  }

  get config(): Config {
    return this.#config;
  }

  get senders(): readonly string[] {
    return this.#senders();
  }

  fail(reason: string): void {
    this.#onFail(reason);
  }

  matrixAs(userId: string): MatrixActions {
    return this.#matrixAs(userId);
  }

  get prefix(): string {
    const p = this.#config.prefix;
    return typeof p === 'string' && p.length > 0 ? p : '!';
  }

  command(definition: CommandDefinition): void {
    this.#handlers.command(definition);
  }
  onMessage(handler: Handler<MessageEvent>): void {
    this.#handlers.onMessage(handler);
  }
  onReaction(handler: Handler<ReactionEvent>): void {
    this.#handlers.onReaction(handler);
  }
  onMembership(handler: Handler<MembershipEvent>): void {
    this.#handlers.onMembership(handler);
  }
  onEvent(type: string, handler: Handler<RoomEvent>): void {
    this.#handlers.onEvent(type, handler);
  }
  onConfigChange(handler: (config: Config, previous: Config) => Promise<void> | void): void {
    this.#handlers.onConfigChange(handler);
  }
  helpText(): string {
    return this.#handlers.helpText();
  }
  get signal(): AbortSignal {
    return this.#handlers.signal;
  }
  onStop(handler: () => Promise<void> | void): void {
    this.#handlers.onStop(handler);
  }
  async idempotent<T>(key: string, work: () => Promise<T> | T): Promise<T> {
    // The same scope a handler of a room event gets, with the key in the event's place.
    return runForEvent(this.instanceId, key, 'idempotent', work);
  }

  /** Whether this message asks for this instance's generated help (several instances in a room answer it once, together). */
  asksGeneratedHelp(event: MatrixEvent): boolean {
    return this.#handlers.asksGeneratedHelp(event);
  }

  async updateConfig(config: Config): Promise<void> {
    const previous = this.#config;
    this.#config = config;
    await this.#handlers.configChanged(config, previous);
  }

  /** Stops serving its web routes, cancels timers, aborts `signal` and runs the onStop handlers (each isolated). */
  stop(): Promise<void> {
    this.web.dispose();
    return this.#handlers.stop();
  }

  /**
   * @param help for a generated-help request shared by several instances:
   *   the combined text to answer with, or 'skip' when another instance answers.
   */
  dispatch(roomId: string, event: MatrixEvent, help?: string): Promise<void> {
    return this.#handlers.dispatch(roomId, event, { help });
  }
}
