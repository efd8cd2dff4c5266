/**
 * `trellis/sdk/testing`: a fake {@link PluginContext} for a plugin's unit tests
 * (like maubot's `maubot.testing`). It records what the bot sends, keeps
 * storage in memory, runs timers on a clock the test moves, and routes
 * events to the plugin's handlers and commands with the daemon's own
 * registry (./handlers.ts), so a plugin's wiring is tested without a homeserver.
 *
 *     const ctx = createTestContext<Config>({ config: { prefix: '!', pong_text: 'Pong!' } });
 *     await plugin.setup(ctx);
 *     await ctx.sendMessage('!echo hi');
 *     assert.equal(ctx.replies.at(-1)?.text, 'hi');
 *
 * Imports only the SDK and node builtins: plugins and their tests stay inside the SDK boundary.
 */
import { editContent, fileMessageOptions, mediaContent, reactionContent, textContent } from './content.ts';
import { HandlerRegistry } from './handlers.ts';
import { type InstanceWeb, invokeRoute, WebRoutes, webRequest } from './web-routes.ts';
import type { HttpMethod } from './web.ts';
import { timerDelay, type TimerScheduler, type TimerSet } from './timers.ts';
import type {
  CommandDefinition,
  FileOptions,
  JsonValue,
  LogLevel,
  MatrixActions,
  MatrixEvent,
  MediaMessageOptions,
  MembershipEvent,
  MessageEvent,
  PluginContext,
  PluginCounter,
  PluginDefinition,
  PluginGauge,
  PluginLogger,
  PluginMetrics,
  PluginStorage,
  ReactionEvent,
  RoomEvent,
  RoomMedia,
  SendOptions,
  UploadOptions,
} from './index.ts';

type Handler<T> = (event: T) => Promise<void> | void;

export const TEST_ROOM = '!room:example.org';
export const TEST_USER = '@alice:example.org';
export const TEST_BOT = '@bot:example.org';

// ---------------------------------------------------------------- clock

/**
 * A clock the test moves by hand. Timers registered through `ctx.timers` fire
 * when `advance` passes their due time, in due order. With `patchDate` (or
 * {@link TestClock.patchDate}) `Date.now()` follows the clock too, until
 * {@link TestClock.restore}: plugins that compare `Date.now()` with a stored
 * deadline then see the time move.
 */
export class TestClock implements TimerScheduler {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, { due: number; seq: number; every?: number; fn: () => Promise<void> }>();
  #realNow: (() => number) | null = null;

  constructor(start: number = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Makes `Date.now()` (and `new Date()` without arguments) return the clock's time until restore(). */
  patchDate(): void {
    if (this.#realNow) return;
    this.#realNow = Date.now;
    Date.now = () => this.#now;
  }

  restore(): void {
    if (this.#realNow) Date.now = this.#realNow;
    this.#realNow = null;
  }

  /** Schedules fn at now + ms (repeating every ms when `every`); returns the cancel function. */
  schedule(fn: () => Promise<void>, ms: number, every = false): () => void {
    const id = ++this.#seq;
    const delay = timerDelay(ms);
    this.#timers.set(id, { due: this.#now + delay, seq: id, every: every ? Math.max(1, delay) : undefined, fn });
    return () => {
      this.#timers.delete(id);
    };
  }

  /** How many timers are waiting. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by ms, firing each due timer in order (and awaiting it) at its own due time. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      let next: { id: number; due: number; seq: number; every?: number; fn: () => Promise<void> } | undefined;
      for (const [id, t] of this.#timers) if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = { id, ...t };
      if (!next) break;
      this.#now = Math.max(this.#now, next.due);
      if (next.every) this.#timers.set(next.id, { ...this.#timers.get(next.id)!, due: next.due + next.every, seq: ++this.#seq });
      else this.#timers.delete(next.id);
      await next.fn();
      await settle();
    }
    this.#now = target;
  }
}

/** Lets promise chains that handlers started without awaiting run to their end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------- storage

/** In-memory {@link PluginStorage} with the real one's JSON round trip; share one between contexts to test a restart. */
export class TestStorage implements PluginStorage {
  readonly data = new Map<string, string>();
  async get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined> {
    const raw = this.data.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }
  async set(key: string, value: JsonValue): Promise<void> {
    const raw = JSON.stringify(value);
    if (raw === undefined) throw new Error(`storage value for "${key}" is not JSON`);
    this.data.set(key, raw);
  }
  async delete(key: string): Promise<boolean> {
    return this.data.delete(key);
  }
  async list<T extends JsonValue = JsonValue>(prefix = ''): Promise<Array<{ key: string; value: T }>> {
    return [...this.data.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((key) => ({ key, value: JSON.parse(this.data.get(key)!) as T }));
  }
}

// ---------------------------------------------------------------- recordings

export type SentKind = 'message' | 'event' | 'reaction' | 'edit' | 'redaction' | 'media';

/** One event the bot sent into a room. */
export interface SentEvent {
  kind: SentKind;
  eventId: string;
  roomId: string;
  type: string;
  content: Record<string, unknown>;
  /** For messages and edits: the plain text and HTML given. */
  text?: string;
  html?: string;
  /** For sendText: the options given (replyTo, notice, threadRoot). */
  options?: SendOptions;
  /** For reactions, edits and redactions: the event acted on. */
  targetEventId?: string;
  /** For reactions: the key. */
  key?: string;
}

export interface StateSent {
  roomId: string;
  type: string;
  stateKey: string;
  content: Record<string, unknown>;
}

export interface Upload {
  mxc: string;
  roomId?: string;
  data: Uint8Array;
  options: UploadOptions;
}

export interface LogRecord {
  level: LogLevel;
  message: string;
  context?: Record<string, unknown>;
}

export interface WaitOptions {
  /** Real milliseconds to wait at most (the test clock does not move meanwhile); default 10 000. */
  timeoutMs?: number;
  /** Named in the error when the wait times out (a function is asked then). */
  what?: string | (() => string);
}

export interface DispatchOptions {
  sender?: string;
  roomId?: string;
  eventId?: string;
  /** origin_server_ts; default the clock's now. */
  ts?: number;
}

export interface MessageOptions extends DispatchOptions {
  msgtype?: string;
  formattedBody?: string;
  /** Send it in this thread (thread root event id). */
  threadRoot?: string;
  /** Make it an edit (m.replace) of this event. */
  replaces?: string;
}

/** What one dispatched event led to. */
export interface Dispatched {
  event: MatrixEvent;
  /** Everything the bot sent while its handlers ran. */
  sent: SentEvent[];
}

// ---------------------------------------------------------------- matrix

/** Records every action; answers reads from what the test set up. */
export class TestMatrix implements MatrixActions {
  readonly userId: string;
  readonly sent: SentEvent[] = [];
  readonly state: StateSent[] = [];
  readonly uploads: Upload[] = [];
  readonly invites: Array<{ roomId: string; userId: string }> = [];
  /** Power levels by room, then user (`*` for every room); default 0. */
  readonly powerLevels = new Map<string, Map<string, number>>();
  /** Joined members by room (membership events keep it current). */
  readonly members = new Map<string, Set<string>>();
  readonly directRooms = new Map<string, string>();
  readonly encryptedRooms = new Set<string>();
  /** Invites to these rooms reject with the given error (e.g. an Error with the homeserver's `errcode`); the others go through. */
  readonly inviteErrors = new Map<string, unknown>();
  uploadLimit: number | null = null;
  homeserverLatency = 1;
  /** When set, every send (and reaction, edit, redaction) rejects with this error. */
  failSends: Error | null = null;
  /** Current room state by room, type and state key: what the bot sent, what the test set, memberships dispatched. */
  readonly #roomState = new Map<string, Record<string, unknown>>();
  #n = 0;

  constructor(userId: string) {
    this.userId = userId;
  }

  #record(entry: Omit<SentEvent, 'eventId'>): string {
    if (this.failSends) throw this.failSends;
    const eventId = `$bot-${++this.#n}`;
    this.sent.push({ eventId, ...entry });
    return eventId;
  }

  async sendText(roomId: string, text: string, html?: string, options: SendOptions = {}): Promise<string> {
    return this.#record({ kind: 'message', roomId, type: 'm.room.message', content: textContent(text, html, options), text, html, options });
  }
  async sendEvent(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
    return this.#record({ kind: 'event', roomId, type, content });
  }
  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    if (this.failSends) throw this.failSends;
    this.state.push({ roomId, type, stateKey, content });
    this.setRoomState(roomId, type, stateKey, content);
    return `$state-${++this.#n}`;
  }
  /** Sets a room's state as the homeserver has it (e.g. `m.room.name`), for `getRoomState`; not recorded as sent by the bot. */
  setRoomState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): void {
    this.#roomState.set(stateEntryKey(roomId, type, stateKey), content);
  }
  async react(roomId: string, eventId: string, key: string): Promise<string> {
    return this.#record({ kind: 'reaction', roomId, type: 'm.reaction', content: reactionContent(eventId, key), targetEventId: eventId, key });
  }
  async edit(roomId: string, eventId: string, text: string, html?: string): Promise<string> {
    return this.#record({ kind: 'edit', roomId, type: 'm.room.message', content: editContent(eventId, text, html), text, html, targetEventId: eventId });
  }
  async redact(roomId: string, eventId: string, reason?: string): Promise<string> {
    return this.#record({ kind: 'redaction', roomId, type: 'm.room.redaction', content: reason === undefined ? { redacts: eventId } : { redacts: eventId, reason }, targetEventId: eventId });
  }
  async uploadMedia(data: Uint8Array, options: UploadOptions): Promise<string> {
    const mxc = `mxc://example.org/upload${this.uploads.length + 1}`;
    this.uploads.push({ mxc, data, options });
    return mxc;
  }
  async uploadForRoom(roomId: string, data: Uint8Array, options: UploadOptions): Promise<RoomMedia> {
    const mxc = `mxc://example.org/upload${this.uploads.length + 1}`;
    this.uploads.push({ mxc, roomId, data, options });
    return this.encryptedRooms.has(roomId) ? { file: { url: mxc, v: 'v2' } } : { url: mxc };
  }
  async mediaEncryptedFor(roomId: string): Promise<boolean> {
    return this.encryptedRooms.has(roomId);
  }
  async sendMedia(roomId: string, media: RoomMedia, options: MediaMessageOptions): Promise<string> {
    return this.#record({ kind: 'media', roomId, type: 'm.room.message', content: mediaContent(media, options), text: options.body });
  }
  async sendFile(roomId: string, data: Uint8Array, options: FileOptions): Promise<string> {
    const media = await this.uploadForRoom(roomId, data, options);
    return this.sendMedia(roomId, media, fileMessageOptions(options, data.byteLength));
  }
  async maxUploadSize(): Promise<number | null> {
    return this.uploadLimit;
  }
  async getRoomState(roomId: string, type: string, stateKey = ''): Promise<Record<string, unknown> | null> {
    return this.#roomState.get(stateEntryKey(roomId, type, stateKey)) ?? null;
  }
  async openDirectRoom(userId: string): Promise<string> {
    let roomId = this.directRooms.get(userId);
    if (!roomId) {
      roomId = `!dm-${this.directRooms.size + 1}:example.org`;
      this.directRooms.set(userId, roomId);
      this.invites.push({ roomId, userId });
    }
    return roomId;
  }
  isDirectRoom(roomId: string): boolean {
    return [...this.directRooms.values()].includes(roomId);
  }
  async pingHomeserver(): Promise<number> {
    return this.homeserverLatency;
  }
  async powerLevel(roomId: string, userId: string): Promise<number> {
    return this.powerLevels.get(roomId)?.get(userId) ?? this.powerLevels.get('*')?.get(userId) ?? 0;
  }
  async joinedMembers(roomId: string): Promise<string[]> {
    return [...(this.members.get(roomId) ?? [])];
  }
  async invite(roomId: string, userId: string): Promise<void> {
    if (this.failSends) throw this.failSends;
    if (this.inviteErrors.has(roomId)) throw this.inviteErrors.get(roomId);
    this.invites.push({ roomId, userId });
  }
}

function stateEntryKey(roomId: string, type: string, stateKey: string): string {
  return JSON.stringify([roomId, type, stateKey]);
}

// ---------------------------------------------------------------- metrics, log

/** Metrics that keep their values: `value(name, labels)` reads one back. */
export class TestMetrics implements PluginMetrics {
  readonly #values = new Map<string, Map<string, number>>();
  readonly #kinds = new Map<string, 'counter' | 'gauge'>();
  #series(name: string, kind: 'counter' | 'gauge') {
    const had = this.#kinds.get(name);
    if (had) throw new Error(`metric "${name}" is registered twice`);
    this.#kinds.set(name, kind);
    const series = new Map<string, number>();
    this.#values.set(name, series);
    return series;
  }
  counter(name: string, _help: string, _labelNames?: string[]): PluginCounter {
    const series = this.#series(name, 'counter');
    return {
      inc(labels, value = 1) {
        if (value < 0) throw new Error('a counter only goes up');
        const key = labelKey(labels);
        series.set(key, (series.get(key) ?? 0) + value);
      },
    };
  }
  gauge(name: string, _help: string, _labelNames?: string[]): PluginGauge {
    const series = this.#series(name, 'gauge');
    return { set: (value, labels) => void series.set(labelKey(labels), value) };
  }
  /** The value of a metric for these labels (0 for a counter never incremented, undefined for an unknown metric or unset gauge). */
  value(name: string, labels?: Record<string, string>): number | undefined {
    const series = this.#values.get(name);
    if (!series) return undefined;
    return series.get(labelKey(labels)) ?? (this.#kinds.get(name) === 'counter' ? 0 : undefined);
  }
}

function labelKey(labels?: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}

class TestLogger implements PluginLogger {
  readonly records: LogRecord[] = [];
  debug(message: string, context?: Record<string, unknown>) {
    this.records.push({ level: 'debug', message, context });
  }
  info(message: string, context?: Record<string, unknown>) {
    this.records.push({ level: 'info', message, context });
  }
  warn(message: string, context?: Record<string, unknown>) {
    this.records.push({ level: 'warn', message, context });
  }
  error(message: string, context?: Record<string, unknown>) {
    this.records.push({ level: 'error', message, context });
  }
  critical(message: string, context?: Record<string, unknown>) {
    this.records.push({ level: 'critical', message, context });
  }
}

// ---------------------------------------------------------------- context

export interface TestContextOptions<Config> {
  config: Config;
  instanceId?: string;
  /** The command prefix; default the config's `prefix`, else `!`. */
  prefix?: string;
  /** A clock to share (e.g. across a simulated restart) or its start time in ms; default a new one at the real now. */
  clock?: TestClock | number;
  /** Storage to share (e.g. across a simulated restart); default empty. */
  storage?: TestStorage;
  /** The homeserver side to share (e.g. across a simulated restart: DMs, members, room state, what was sent); default a new one. */
  matrix?: TestMatrix;
  /** The bot's user id; default @bot:example.org. */
  userId?: string;
  /** Default sender of dispatched events; default @alice:example.org. */
  sender?: string;
  /** Default room of dispatched events; default !room:example.org. */
  roomId?: string;
  /** The public listener's base URL as the plugin sees it (`ctx.web.baseUrl`); default https://bots.example.org. */
  publicBaseUrl?: string;
  /** The other bot accounts the instance may send as (`ctx.senders`, `ctx.matrixAs`); default none. */
  senders?: string[];
}

/** What {@link TestContext.webRequest} sends: like a request on the public listener. */
export interface TestWebRequest {
  headers?: Record<string, string>;
  /** A string or bytes as is; anything else as JSON (with content-type application/json unless given). */
  body?: string | Uint8Array | JsonValue;
}

/** The answer as the public listener would send it: the plugin's response, or its 4xx/5xx refusal. */
export interface TestWebResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array | JsonValue | undefined;
}

/**
 * A {@link PluginContext} for tests: hand it to `plugin.setup`, drive it with
 * sendMessage / react / membership / event, and read what the plugin did in
 * `sent`, `replies`, `reactions`, `storage`, `logs`, `metrics`.
 */
export class TestContext<Config = Record<string, unknown>> implements PluginContext<Config> {
  readonly instanceId: string;
  readonly matrix: TestMatrix;
  readonly storage: TestStorage;
  readonly metrics = new TestMetrics();
  readonly clock: TestClock;
  readonly log: PluginLogger;
  /** The plugin's web routes, matched as the daemon matches them; send requests with {@link webRequest}. */
  readonly web: InstanceWeb;
  readonly #routes: WebRoutes;
  readonly senders: readonly string[];
  /** What each sender sent, by user id: the TestMatrix {@link matrixAs} returns. */
  readonly senderMatrices = new Map<string, TestMatrix>();
  readonly timers: TimerSet;
  /** The keys given to {@link idempotent}, in order. */
  readonly idempotentKeys: string[] = [];
  /** The reasons given to {@link fail} (the daemon would stop the instance and start it again). */
  readonly failures: string[] = [];
  /** Errors thrown by handlers, commands and timers (each is also logged at error level, as the daemon does). */
  readonly errors: unknown[] = [];
  #config: Config;
  readonly #prefix: string | undefined;
  readonly #logger = new TestLogger();
  readonly #defaults: { sender: string; roomId: string };
  readonly #handlers: HandlerRegistry<Config>;
  readonly #options: TestContextOptions<Config>;
  #n = 0;

  constructor(options: TestContextOptions<Config>) {
    this.#options = options;
    this.instanceId = options.instanceId ?? 'test-instance';
    this.#config = options.config;
    this.#prefix = options.prefix;
    this.clock = options.clock instanceof TestClock ? options.clock : new TestClock(options.clock);
    this.storage = options.storage ?? new TestStorage();
    this.matrix = options.matrix ?? new TestMatrix(options.userId ?? TEST_BOT);
    this.log = this.#logger;
    this.#defaults = { sender: options.sender ?? TEST_USER, roomId: options.roomId ?? TEST_ROOM };
    this.#handlers = new HandlerRegistry<Config>({
      instanceId: this.instanceId,
      prefix: () => this.prefix,
      matrix: this.matrix,
      log: this.#logger,
      scheduler: this.clock,
      onHandlerError: (err) => this.errors.push(err),
    });
    this.timers = this.#handlers.timers;
    this.senders = options.senders ?? [];
    this.#routes = new WebRoutes(options.publicBaseUrl ?? 'https://bots.example.org');
    this.web = this.#routes.forInstance(this.instanceId, this.#logger);
  }

  /**
   * A request to the public listener (`/_matrix/maubot/plugin/<instance id>/…` for the instance's
   * routes, or a claimed prefix such as `/webhook/…`), answered as the daemon answers it.
   */
  async webRequest(method: HttpMethod, path: string, request: TestWebRequest = {}): Promise<TestWebResponse> {
    return this.#request(this.#routes, method, path, request);
  }

  /**
   * A request to the instance's admin routes (`ctx.web.adminRoute`), as the management API (with a
   * valid token) passes it on; `path` is below the instance's admin base, e.g. `/hooks`.
   */
  async adminRequest(method: HttpMethod, path: string, request: TestWebRequest = {}): Promise<TestWebResponse> {
    const admin = this.#routes.admin!;
    return this.#request(admin, method, `${admin.baseOf(this.instanceId)}${path}`, request);
  }

  async #request(table: WebRoutes, method: HttpMethod, path: string, request: TestWebRequest): Promise<TestWebResponse> {
    const url = new URL(path, 'http://public.invalid');
    const match = table.match(method, url.pathname);
    if (!match) {
      const { status, allow, error } = table.unmatched(method, url.pathname);
      return { status, headers: allow ? { allow } : {}, body: { ok: false, error } };
    }
    const { body } = request;
    const headers = { ...request.headers };
    let bytes: Uint8Array = new Uint8Array();
    if (typeof body === 'string') bytes = new TextEncoder().encode(body);
    else if (body instanceof Uint8Array) bytes = body;
    else if (body !== undefined) {
      bytes = new TextEncoder().encode(JSON.stringify(body));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const outcome = await invokeRoute(match, webRequest(method, match, url, headers, bytes));
    if (!outcome.ok) return { status: outcome.status, headers: {}, body: { ok: false, error: outcome.error } };
    return { status: outcome.response.status ?? 200, headers: outcome.response.headers ?? {}, body: outcome.response.body };
  }

  // -- PluginContext

  fail(reason: string): void {
    this.failures.push(reason);
    this.#logger.error(`instance failed: ${reason}`);
  }

  get config(): Config {
    return this.#config;
  }
  get prefix(): string {
    if (this.#prefix !== undefined) return this.#prefix;
    const p = (this.#config as Record<string, unknown> | undefined)?.prefix;
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
  /** A sender's actions, recorded in their own TestMatrix; throws for an account not in `senders`, as the daemon does. */
  matrixAs(userId: string): TestMatrix {
    if (!this.senders.includes(userId)) throw new Error(`instance ${this.instanceId} may not send as ${userId}: add it to the instance's senders`);
    let matrix = this.senderMatrices.get(userId);
    if (!matrix) this.senderMatrices.set(userId, (matrix = new TestMatrix(userId)));
    return matrix;
  }
  /** Runs `work` (the test kit has no transaction ids); the keys used are in {@link idempotentKeys}. */
  async idempotent<T>(key: string, work: () => Promise<T> | T): Promise<T> {
    this.idempotentKeys.push(key);
    return work();
  }

  // -- lifecycle

  /** Applies a new config and runs the onConfigChange handlers, as the daemon does after validating it. */
  async updateConfig(config: Config): Promise<void> {
    const previous = this.#config;
    this.#config = config;
    await this.#handlers.configChanged(config, previous);
  }

  /** Stops the instance as the daemon does: removes its web routes, cancels timers, aborts `signal`, runs onStop handlers (last first). */
  stop(): Promise<void> {
    this.web.dispose();
    return this.#handlers.stop();
  }

  /**
   * Restarts the instance as the daemon does: stops this context, then runs the
   * plugin's setup on a new one with the same storage, clock, homeserver side
   * (`matrix`, so what was sent before is still in `sent`) and config, unless
   * `options` say otherwise. Returns the new context.
   */
  async restart(plugin: PluginDefinition<Config>, options: Partial<TestContextOptions<Config>> = {}): Promise<TestContext<Config>> {
    await this.stop();
    return startPlugin(plugin, { ...this.#options, config: this.#config, clock: this.clock, storage: this.storage, matrix: this.matrix, ...options });
  }

  // -- waiting

  /**
   * Waits, in real time, until `condition` returns something truthy, and
   * returns it: for work a plugin does in the background (an HTTP request,
   * a child process) that no dispatch awaits. Rejects after `timeoutMs`.
   */
  async waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    // performance.now, not Date.now: a patched Date follows the test clock.
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      if (performance.now() >= deadline) {
        const what = typeof options.what === 'function' ? options.what() : (options.what ?? 'a condition');
        throw new Error(`waited ${timeoutMs} ms for ${what} in vain`);
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
      await settle();
    }
  }

  /**
   * Waits (in real time, see {@link waitFor}) until the bot has sent an event
   * that `match` accepts, counting from `since` (an index into `sent`;
   * default 0, so an event already sent counts), and returns it.
   */
  waitForSent(match: (sent: SentEvent) => boolean, options: WaitOptions & { since?: number } = {}): Promise<SentEvent> {
    return this.waitFor(() => this.matrix.sent.slice(options.since ?? 0).find(match), {
      ...options,
      what: options.what ?? (() => `an event from the bot that matches (sent: ${JSON.stringify(this.matrix.sent.map((s) => s.text ?? s.type))})`),
    });
  }

  // -- driving

  /** Dispatches an m.room.message from a user and resolves when every handler and command has finished. */
  sendMessage(body: string, options: MessageOptions = {}): Promise<Dispatched> {
    const content: Record<string, unknown> = { msgtype: options.msgtype ?? 'm.text', body };
    if (options.formattedBody !== undefined) Object.assign(content, { format: 'org.matrix.custom.html', formatted_body: options.formattedBody });
    if (options.threadRoot) content['m.relates_to'] = { rel_type: 'm.thread', event_id: options.threadRoot, is_falling_back: true, 'm.in_reply_to': { event_id: options.threadRoot } };
    if (options.replaces) {
      content['m.new_content'] = { msgtype: content.msgtype, body };
      content['m.relates_to'] = { rel_type: 'm.replace', event_id: options.replaces };
    }
    return this.event('m.room.message', content, options);
  }

  /** Dispatches a user's m.reaction (annotation) to targetEventId. */
  react(targetEventId: string, key: string, options: DispatchOptions = {}): Promise<Dispatched> {
    return this.event('m.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: targetEventId, key } }, options);
  }

  /** Dispatches an m.room.member event for userId (sender defaults to userId); keeps `matrix.members` current. */
  membership(userId: string, membership: string, options: DispatchOptions & { previous?: string } = {}): Promise<Dispatched> {
    const roomId = options.roomId ?? this.#defaults.roomId;
    const members = this.matrix.members.get(roomId) ?? new Set<string>();
    if (membership === 'join') members.add(userId);
    else members.delete(userId);
    this.matrix.members.set(roomId, members);
    this.matrix.setRoomState(roomId, 'm.room.member', userId, { membership });
    return this.event(
      'm.room.member',
      { membership },
      { sender: userId, ...options, roomId },
      { state_key: userId, ...(options.previous ? { unsigned: { prev_content: { membership: options.previous } } } : {}) },
    );
  }

  /** Dispatches any room event to the handlers, as the daemon routes a synced event. */
  async event(type: string, content: Record<string, unknown>, options: DispatchOptions = {}, extra: Partial<MatrixEvent> = {}): Promise<Dispatched> {
    const roomId = options.roomId ?? this.#defaults.roomId;
    const event: MatrixEvent = {
      event_id: options.eventId ?? `$in-${++this.#n}`,
      type,
      sender: options.sender ?? this.#defaults.sender,
      origin_server_ts: options.ts ?? this.clock.now(),
      content,
      room_id: roomId,
      ...extra,
    };
    const before = this.matrix.sent.length;
    await this.dispatch(roomId, event);
    await settle();
    return { event, sent: this.matrix.sent.slice(before) };
  }

  /** Routes a raw event as the daemon's InstanceContext.dispatch does (the same registry): typed handlers, then commands; each handler isolated. */
  dispatch(roomId: string, event: MatrixEvent): Promise<void> {
    return this.#handlers.dispatch(roomId, event);
  }

  // -- reading

  /** Every event the bot sent into rooms, in order (messages, events, reactions, edits, redactions, media). */
  get sent(): SentEvent[] {
    return this.matrix.sent;
  }
  /** Text messages the bot sent (sendText, replies included). */
  get messages(): SentEvent[] {
    return this.matrix.sent.filter((s) => s.kind === 'message');
  }
  /** Messages sent as replies (`replyTo`), e.g. by `message.reply`. */
  get replies(): SentEvent[] {
    return this.messages.filter((s) => s.options?.replyTo !== undefined);
  }
  get reactions(): SentEvent[] {
    return this.matrix.sent.filter((s) => s.kind === 'reaction');
  }
  get edits(): SentEvent[] {
    return this.matrix.sent.filter((s) => s.kind === 'edit');
  }
  get redactions(): SentEvent[] {
    return this.matrix.sent.filter((s) => s.kind === 'redaction');
  }
  get stateEvents(): StateSent[] {
    return this.matrix.state;
  }
  get uploads(): Upload[] {
    return this.matrix.uploads;
  }
  get invites(): Array<{ roomId: string; userId: string }> {
    return this.matrix.invites;
  }
  get logs(): LogRecord[] {
    return this.#logger.records;
  }
  /** The registered command names (aliases included, generated help included), sorted. */
  get commands(): string[] {
    return this.#handlers.commandNames();
  }
  /** Sets a user's power level in a room (`*` for every room). */
  setPowerLevel(userId: string, level: number, roomId = '*'): void {
    const room = this.matrix.powerLevels.get(roomId) ?? new Map<string, number>();
    room.set(userId, level);
    this.matrix.powerLevels.set(roomId, room);
  }
}

/** A fake context for a plugin's unit tests; see {@link TestContext}. */
export function createTestContext<Config = Record<string, unknown>>(options: TestContextOptions<Config>): TestContext<Config> {
  return new TestContext<Config>(options);
}

/** A clock for tests (see {@link TestClock}); `patchDate` makes `Date.now()` follow it until `clock.restore()`. */
export function createTestClock(options: { start?: number; patchDate?: boolean } = {}): TestClock {
  const clock = new TestClock(options.start);
  if (options.patchDate) clock.patchDate();
  return clock;
}

/** Creates a context and runs the plugin's setup on it, as the daemon starts an instance. */
export async function startPlugin<Config>(plugin: PluginDefinition<Config>, options: TestContextOptions<Config>): Promise<TestContext<Config>> {
  const ctx = createTestContext(options);
  await plugin.setup(ctx);
  return ctx;
}
