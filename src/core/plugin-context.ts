import type { CommandDefinition, JsonValue, MatrixActions, MatrixEvent, MembershipEvent, MessageEvent, PluginContext, PluginMetrics, PluginStorage, ReactionEvent, RoomEvent } from '../sdk/index.ts';
import type { PluginStorageRepository } from '../storage/plugin-storage.ts';
import type { Logger } from './logging.ts';
import { helpHtml, helpText, matchCommand, usageReply } from './commands.ts';
import { runForEvent } from './plugin-scope.ts';
import { errorMessage } from '../shared/error-message.ts';
import { nodeScheduler, TimerSet } from '../sdk/timers.ts';

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
  log: Logger;
  onCommand?(name: string): void;
  onHandlerError?(err: unknown): void;
}

/**
 * The live side of the SDK for one running instance: it collects the
 * plugin's handlers and commands during setup and routes room events to
 * them. Each handler runs isolated: a throw is logged with the instance id
 * and never reaches the sync loop or another instance.
 */
export class InstanceContext<Config extends Record<string, unknown> = Record<string, unknown>> implements PluginContext<Config> {
  readonly instanceId: string;
  readonly matrix: MatrixActions;
  readonly storage: PluginStorage;
  readonly metrics: PluginMetrics;
  readonly log: Logger;
  readonly timers: TimerSet;
  #config: Config;
  readonly #commands = new Map<string, CommandDefinition>();
  readonly #primaryCommands: CommandDefinition[] = [];
  readonly #messageHandlers: Handler<MessageEvent>[] = [];
  readonly #reactionHandlers: Handler<ReactionEvent>[] = [];
  readonly #membershipHandlers: Handler<MembershipEvent>[] = [];
  readonly #eventHandlers: Array<{ type: string; handler: Handler<RoomEvent> }> = [];
  readonly #configHandlers: Array<(c: Config, p: Config) => Promise<void> | void> = [];
  readonly #options: ContextOptions<Config>;
  readonly #stopController = new AbortController();
  readonly #stopHandlers: Array<() => Promise<void> | void> = [];

  constructor(options: ContextOptions<Config>) {
    this.#options = options;
    this.instanceId = options.instanceId;
    this.#config = options.config;
    this.matrix = options.matrix;
    this.storage = options.storage;
    this.metrics = options.metrics;
    this.log = options.log;
    this.timers = new TimerSet(nodeScheduler, (err) => this.#handlerFailed('timer', err));
  }

  get config(): Config {
    return this.#config;
  }

  get prefix(): string {
    const p = this.#config.prefix;
    return typeof p === 'string' && p.length > 0 ? p : '!';
  }

  command(definition: CommandDefinition): void {
    for (const name of [definition.name, ...(definition.aliases ?? [])]) {
      const key = name.toLowerCase();
      if (this.#commands.has(key)) throw new Error(`command "${name}" is registered twice`);
      this.#commands.set(key, definition);
    }
    this.#primaryCommands.push(definition);
  }
  onMessage(handler: Handler<MessageEvent>): void {
    this.#messageHandlers.push(handler);
  }
  onReaction(handler: Handler<ReactionEvent>): void {
    this.#reactionHandlers.push(handler);
  }
  onMembership(handler: Handler<MembershipEvent>): void {
    this.#membershipHandlers.push(handler);
  }
  onEvent(type: string, handler: Handler<RoomEvent>): void {
    this.#eventHandlers.push({ type, handler });
  }
  onConfigChange(handler: (config: Config, previous: Config) => Promise<void> | void): void {
    this.#configHandlers.push(handler);
  }
  helpText(): string {
    return helpText(this.prefix, this.#primaryCommands);
  }
  get signal(): AbortSignal {
    return this.#stopController.signal;
  }
  onStop(handler: () => Promise<void> | void): void {
    this.#stopHandlers.push(handler);
  }

  #generatedHelp: CommandDefinition | null = null;

  /** Registers a generated `help` command unless the plugin brought its own. */
  finishSetup(): void {
    if (this.#primaryCommands.length > 0 && !this.#commands.has('help')) {
      this.#generatedHelp = {
        name: 'help',
        description: 'List the commands',
        handler: async ({ message }) => {
          const text = this.#helpOverride.get(message.eventId) ?? this.helpText();
          this.#helpOverride.delete(message.eventId);
          // Awaited so a failed send is reported against this instance like any handler error.
          await message.reply(text, helpHtml(text));
        },
      };
      this.command(this.#generatedHelp);
    }
  }

  /** Combined help texts by the event id that asked, when several instances share the room. */
  readonly #helpOverride = new Map<string, string>();

  /** Whether this message asks for this instance's generated help (several instances in a room answer it once, together). */
  asksGeneratedHelp(event: MatrixEvent): boolean {
    if (!this.#generatedHelp || event.type !== 'm.room.message' || typeof event.content.body !== 'string' || event.content.msgtype === 'm.notice') return false;
    const match = matchCommand(this.prefix, event.content.body, this.#commands);
    return match.kind === 'ok' && match.command === this.#generatedHelp;
  }

  async updateConfig(config: Config): Promise<void> {
    const previous = this.#config;
    this.#config = config;
    for (const handler of this.#configHandlers) await this.#guard('config', () => handler(config, previous));
  }

  /** Cancels timers, aborts `signal` and runs the onStop handlers (each isolated). */
  async stop(): Promise<void> {
    this.timers.cancelAll();
    this.#stopController.abort(new Error(`instance ${this.instanceId} stopped`));
    for (const handler of this.#stopHandlers.splice(0).reverse()) await this.#guard('stop', handler);
  }

  #handlerFailed(kind: string, err: unknown) {
    this.#options.onHandlerError?.(err);
    this.log.error(`${kind} handler threw: ${errorMessage(err)}`, { err });
  }

  async #guard(kind: string, fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.#handlerFailed(kind, err);
    }
  }

  /**
   * @param help for a generated-help request shared by several instances:
   *   the combined text to answer with, or 'skip' when another instance answers.
   */
  async dispatch(roomId: string, event: MatrixEvent, help?: string): Promise<void> {
    if (help === 'skip' && this.asksGeneratedHelp(event)) {
      // Other handlers still see the message; only the command is answered elsewhere.
      return this.#dispatchHandlers(roomId, event, false);
    }
    if (help !== undefined && help !== 'skip') this.#helpOverride.set(event.event_id, help);
    return this.#dispatchHandlers(roomId, event, true);
  }

  async #dispatchHandlers(roomId: string, event: MatrixEvent, commands: boolean): Promise<void> {
    const roomEvent: RoomEvent = { roomId, event };
    const tasks: Array<Promise<void>> = [];
    // Each handler runs in its own scope named by its place, so its sends get the same
    // transaction ids when this event is handled again after a crash (see plugin-scope.ts).
    const run = (key: string, kind: string, fn: () => Promise<void> | void) => {
      tasks.push(runForEvent(this.instanceId, event.event_id, key, () => this.#guard(kind, fn)));
    };
    this.#eventHandlers.forEach(({ type, handler }, i) => {
      if (type === '*' || type === event.type) run(`event:${i}`, `${event.type} event`, () => handler(roomEvent));
    });
    if (event.type === 'm.room.message') {
      const message = this.#toMessage(roomId, event);
      if (message) {
        this.#messageHandlers.forEach((handler, i) => run(`message:${i}`, 'message', () => handler(message)));
        if (commands) tasks.push(runForEvent(this.instanceId, event.event_id, 'command', () => this.#runCommand(message)));
      }
    } else if (event.type === 'm.reaction') {
      const rel = event.content['m.relates_to'] as { rel_type?: string; event_id?: string; key?: string } | undefined;
      if (rel?.rel_type === 'm.annotation' && rel.event_id && typeof rel.key === 'string') {
        const reaction: ReactionEvent = { roomId, event, sender: event.sender, eventId: event.event_id, targetEventId: rel.event_id, key: rel.key };
        this.#reactionHandlers.forEach((handler, i) => run(`reaction:${i}`, 'reaction', () => handler(reaction)));
      }
    } else if (event.type === 'm.room.member' && typeof event.state_key === 'string') {
      const prev = (event.unsigned?.prev_content as { membership?: string } | undefined)?.membership;
      const membership: MembershipEvent = { roomId, event, sender: event.sender, userId: event.state_key, membership: String(event.content.membership ?? ''), previousMembership: prev };
      this.#membershipHandlers.forEach((handler, i) => run(`membership:${i}`, 'membership', () => handler(membership)));
    }
    await Promise.all(tasks);
  }

  async #runCommand(message: MessageEvent): Promise<void> {
    // Notices are what bots send; answering them lets two bots loop forever.
    if (message.msgtype === 'm.notice' || this.#commands.size === 0) return;
    const match = matchCommand(this.prefix, message.body, this.#commands);
    if (match.kind === 'none' || match.kind === 'unknown') return;
    if (match.kind === 'usage') {
      await this.#guard('command', async () => {
        await message.reply(usageReply(this.prefix, match.command, match.problem));
      });
      return;
    }
    this.#options.onCommand?.(match.command.name);
    await this.#guard(`command ${match.command.name}`, () => match.command.handler({ args: match.args, text: match.text, message }));
  }

  #toMessage(roomId: string, event: MatrixEvent): MessageEvent | null {
    const content = event.content;
    if (typeof content.body !== 'string') return null;
    // An edit re-sends the whole message; treating it as new would run commands twice.
    const rel = content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
    if (rel?.rel_type === 'm.replace') return null;
    const threadRoot = rel?.rel_type === 'm.thread' ? rel.event_id : undefined;
    const matrix = this.matrix;
    return {
      roomId,
      event,
      sender: event.sender,
      eventId: event.event_id,
      msgtype: typeof content.msgtype === 'string' ? content.msgtype : 'm.text',
      body: content.body,
      formattedBody: typeof content.formatted_body === 'string' ? content.formatted_body : undefined,
      reply: (text, html) => matrix.sendText(roomId, text, html, { replyTo: event.event_id, notice: true, threadRoot }),
      react: (key) => matrix.react(roomId, event.event_id, key),
    };
  }
}
