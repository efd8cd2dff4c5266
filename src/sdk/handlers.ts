/**
 * What a {@link PluginContext} does with the handlers a plugin registers,
 * shared by the daemon (src/core/plugin-context.ts) and the test kit
 * (./testing.ts) so a plugin's unit tests run on the daemon's own routing:
 * commands (with the generated `help`), message, reaction, membership and
 * any-event handlers, config-change and stop handlers, `ctx.signal` and
 * `ctx.timers`. Each handler runs isolated: a throw is logged and reported,
 * and the other handlers still run. Not part of the `trellis/sdk` surface
 * plugins import.
 */
import { helpHtml, helpText, matchCommand, usageReply } from './commands.ts';
import { TimerSet, type TimerScheduler } from './timers.ts';
import { errorMessage } from '../shared/error-message.ts';
import type { CommandDefinition, MatrixActions, MatrixEvent, MembershipEvent, MessageEvent, PluginLogger, ReactionEvent, RoomEvent } from './index.ts';

type Handler<T> = (event: T) => Promise<void> | void;

export interface HandlerRegistryOptions {
  instanceId: string;
  /** The command prefix in force (read at every event: a config change switches it). */
  prefix(): string;
  /** What `message.reply` and `message.react` send with. */
  matrix: Pick<MatrixActions, 'sendText' | 'react'>;
  /** Where a handler's throw is logged (`<kind> handler threw: <message>`, at error level). */
  log: Pick<PluginLogger, 'error'>;
  /** Runs the timers of `timers`. */
  scheduler: TimerScheduler;
  /** Called with every error a handler, command or timer threw (before it is logged). */
  onHandlerError?(err: unknown): void;
  /** Called before a command's handler runs, with the command's name. */
  onCommand?(name: string): void;
  /**
   * Runs one handler of a room event: `handler` names its place (`message:0`,
   * `reaction:1`, `event:0`, `command`), stable across replays of the event.
   * The daemon runs it in the event's scope (replay-stable transaction ids); default: just runs it.
   */
  runForEvent?(eventId: string, handler: string, fn: () => Promise<void>): Promise<void>;
}

export interface RouteOptions {
  /**
   * For a `help` answered by the generated help command when several
   * instances share the room: the combined text to answer with, or 'skip'
   * when another instance answers (the other handlers still see the message).
   */
  help?: string;
}

export class HandlerRegistry<Config> {
  readonly timers: TimerSet;
  readonly #options: HandlerRegistryOptions;
  readonly #commands = new Map<string, CommandDefinition>();
  readonly #primaryCommands: CommandDefinition[] = [];
  readonly #messageHandlers: Handler<MessageEvent>[] = [];
  readonly #reactionHandlers: Handler<ReactionEvent>[] = [];
  readonly #membershipHandlers: Handler<MembershipEvent>[] = [];
  readonly #eventHandlers: Array<{ type: string; handler: Handler<RoomEvent> }> = [];
  readonly #configHandlers: Array<(config: Config, previous: Config) => Promise<void> | void> = [];
  readonly #stopController = new AbortController();
  readonly #stopHandlers: Array<() => Promise<void> | void> = [];
  readonly #generatedHelp: CommandDefinition;
  /** Combined help texts by the event id that asked, when several instances share the room. */
  readonly #helpOverride = new Map<string, string>();

  constructor(options: HandlerRegistryOptions) {
    this.#options = options;
    this.timers = new TimerSet(options.scheduler, (err) => this.handlerFailed('timer', err));
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
  }

  // -- registering (the PluginContext methods)

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
  onStop(handler: () => Promise<void> | void): void {
    this.#stopHandlers.push(handler);
  }
  get signal(): AbortSignal {
    return this.#stopController.signal;
  }

  // -- commands

  /** A plugin with commands and no `help` of its own gets a generated one. */
  #hasGeneratedHelp(): boolean {
    return this.#primaryCommands.length > 0 && !this.#commands.has('help');
  }
  #commandTable(): ReadonlyMap<string, CommandDefinition> {
    if (!this.#hasGeneratedHelp()) return this.#commands;
    return new Map([...this.#commands, ['help', this.#generatedHelp]]);
  }

  /** The command names (aliases and the generated help included), sorted. */
  commandNames(): string[] {
    return [...this.#commandTable().keys()].sort();
  }

  /** The help text for the commands (the generated help included). */
  helpText(): string {
    return helpText(this.#options.prefix(), this.#hasGeneratedHelp() ? [...this.#primaryCommands, this.#generatedHelp] : this.#primaryCommands);
  }

  /** Whether this message asks for the generated help (several instances in a room answer it once, together). */
  asksGeneratedHelp(event: MatrixEvent): boolean {
    if (!this.#hasGeneratedHelp() || event.type !== 'm.room.message' || typeof event.content.body !== 'string' || event.content.msgtype === 'm.notice') return false;
    const match = matchCommand(this.#options.prefix(), event.content.body, this.#commandTable());
    return match.kind === 'ok' && match.command === this.#generatedHelp;
  }

  // -- lifecycle

  /** Runs the onConfigChange handlers (each isolated), after the context took the new config. */
  async configChanged(config: Config, previous: Config): Promise<void> {
    for (const handler of this.#configHandlers) await this.#guard('config', () => handler(config, previous));
  }

  /** Cancels the timers, aborts `signal` and runs the onStop handlers, last registered first (each isolated). */
  async stop(): Promise<void> {
    this.timers.cancelAll();
    this.#stopController.abort(new Error(`instance ${this.#options.instanceId} stopped`));
    for (const handler of this.#stopHandlers.splice(0).reverse()) await this.#guard('stop', handler);
  }

  /** Reports and logs a throw of plugin code (`kind` names where: 'message', 'command ping', 'timer'…). */
  handlerFailed(kind: string, err: unknown): void {
    this.#options.onHandlerError?.(err);
    this.#options.log.error(`${kind} handler threw: ${errorMessage(err)}`, { err });
  }

  async #guard(kind: string, fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.handlerFailed(kind, err);
    }
  }

  // -- routing

  /** Hands a room event to the handlers it is for, then (for a message) to its command; resolves when all have finished. */
  async dispatch(roomId: string, event: MatrixEvent, options: RouteOptions = {}): Promise<void> {
    const { help } = options;
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
    const scoped = (key: string, fn: () => Promise<void>) => (this.#options.runForEvent ? this.#options.runForEvent(event.event_id, key, fn) : fn());
    // Each handler runs in its own scope named by its place, so its sends get the same
    // transaction ids when this event is handled again after a crash (see src/core/plugin-scope.ts).
    const run = (key: string, kind: string, fn: () => Promise<void> | void) => {
      tasks.push(scoped(key, () => this.#guard(kind, fn)));
    };
    this.#eventHandlers.forEach(({ type, handler }, i) => {
      if (type === '*' || type === event.type) run(`event:${i}`, `${event.type} event`, () => handler(roomEvent));
    });
    if (event.type === 'm.room.message') {
      const message = this.#toMessage(roomId, event);
      if (message) {
        this.#messageHandlers.forEach((handler, i) => run(`message:${i}`, 'message', () => handler(message)));
        if (commands) tasks.push(scoped('command', () => this.#runCommand(message)));
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
    const commands = this.#commandTable();
    if (message.msgtype === 'm.notice' || commands.size === 0) return;
    const prefix = this.#options.prefix();
    const match = matchCommand(prefix, message.body, commands);
    if (match.kind === 'none' || match.kind === 'unknown') return;
    if (match.kind === 'usage') {
      await this.#guard('command', async () => {
        await message.reply(usageReply(prefix, match.command, match.problem));
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
    const matrix = this.#options.matrix;
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
