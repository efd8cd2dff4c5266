/**
 * The Trellis plugin SDK: the only module a plugin imports.
 *
 * Everything here is either a type or a side-effect-free helper, so a plugin
 * bundle can inline it; the running daemon hands each instance a
 * {@link PluginContext} that implements these interfaces.
 */
import type { MatrixEvent } from '../matrix/types.ts';
import type { PluginWeb } from './web.ts';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'critical';

export interface PluginLogger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  /** Logged and shown in the management API's notifications. */
  warn(message: string, context?: Record<string, unknown>): void;
  /** Logged, shown in the API and posted to the admin room (deduplicated). */
  error(message: string, context?: Record<string, unknown>): void;
  critical(message: string, context?: Record<string, unknown>): void;
}

/** A raw Matrix event as delivered by the homeserver's sync (defined by the Matrix layer). */
export type { MatrixEvent };

export interface RoomEvent {
  roomId: string;
  event: MatrixEvent;
}

export interface MessageEvent extends RoomEvent {
  sender: string;
  eventId: string;
  msgtype: string;
  body: string;
  formattedBody?: string;
  /** Reply to this message (plain reply, or in its thread if it is in one). */
  reply(text: string, html?: string): Promise<string>;
  /** React to this message with an annotation key (usually an emoji). */
  react(key: string): Promise<string>;
}

export interface ReactionEvent extends RoomEvent {
  sender: string;
  eventId: string;
  /** The event that was reacted to. */
  targetEventId: string;
  key: string;
}

export interface MembershipEvent extends RoomEvent {
  sender: string;
  /** The user whose membership changed. */
  userId: string;
  membership: 'invite' | 'join' | 'leave' | 'ban' | 'knock' | string;
  previousMembership?: string;
}

export interface CommandArgument {
  name: string;
  description?: string;
  required?: boolean;
  /** Swallow the rest of the line (for free text like a question). */
  rest?: boolean;
}

export interface CommandInvocation {
  /** Positional arguments by name, as declared. Missing optional ones are absent. */
  args: Record<string, string>;
  /** The raw text after the command name. */
  text: string;
  message: MessageEvent;
}

export interface CommandDefinition {
  name: string;
  description: string;
  aliases?: string[];
  args?: CommandArgument[];
  handler(invocation: CommandInvocation): Promise<void> | void;
}

export interface UploadOptions {
  contentType: string;
  filename?: string;
}

export interface SendOptions {
  /** Make the message a reply to this event. */
  replyTo?: string;
  /** Send a notice (bots' usual msgtype) instead of a text message. */
  notice?: boolean;
  /** Post into this thread (the thread root's event id). */
  threadRoot?: string;
}

export interface FileOptions extends UploadOptions, Omit<SendOptions, 'notice'> {
  /** Default m.file. */
  msgtype?: MediaMsgtype;
  /** The message text (default: the file name). */
  body?: string;
  /** Extra `info` fields, e.g. w and h for images (mimetype and size are filled in). */
  info?: Record<string, unknown>;
}

export type MediaMsgtype = 'm.image' | 'm.file' | 'm.audio' | 'm.video';

/**
 * Media uploaded for a room: `url` for a plain room, `file` (the encrypted
 * attachment's key, iv, hash and url) for an end-to-end encrypted one. It can
 * be stored and sent again into any room of the same kind without re-uploading.
 */
export type RoomMedia = { url: string } | { file: { [key: string]: JsonValue } };

export interface MediaMessageOptions extends Omit<SendOptions, 'notice'> {
  msgtype: MediaMsgtype;
  /** The message text (clients show it as the file name or caption). */
  body: string;
  filename?: string;
  /** `info` fields: mimetype, size, w, h, duration (ms)… */
  info: Record<string, unknown>;
  /** A preview image (uploaded for the same room) and its own info (mimetype, size, w, h). */
  thumbnail?: { media: RoomMedia; info: Record<string, unknown> };
}

/** A Prometheus counter a plugin registered; labels are its own, the instance label is added by the platform. */
export interface PluginCounter {
  inc(labels?: Record<string, string>, value?: number): void;
}

export interface PluginGauge {
  set(value: number, labels?: Record<string, string>): void;
}

/**
 * Metrics served at the daemon's /metrics, named
 * `trellis_plugin_<plugin id with _ for .>_<name>` with an `instance` label.
 */
export interface PluginMetrics {
  counter(name: string, help: string, labelNames?: string[]): PluginCounter;
  gauge(name: string, help: string, labelNames?: string[]): PluginGauge;
}

/** What a plugin can do in Matrix, as its instance's bot account. */
export interface MatrixActions {
  readonly userId: string;
  sendText(roomId: string, text: string, html?: string, options?: SendOptions): Promise<string>;
  sendEvent(roomId: string, type: string, content: Record<string, unknown>): Promise<string>;
  sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string>;
  react(roomId: string, eventId: string, key: string): Promise<string>;
  edit(roomId: string, eventId: string, text: string, html?: string): Promise<string>;
  redact(roomId: string, eventId: string, reason?: string): Promise<string>;
  /**
   * Upload bytes to the homeserver's media repository; returns the mxc:// URI.
   * The upload is plaintext: to post media into a room use sendFile, which
   * encrypts it when the room is end-to-end encrypted.
   */
  uploadMedia(data: Uint8Array, options: UploadOptions): Promise<string>;
  /** Upload and post a file/image message; in an encrypted room the bytes are encrypted and sent as `file` instead of `url`. */
  sendFile(roomId: string, data: Uint8Array, options: FileOptions): Promise<string>;
  /** Upload for a room without posting: encrypted when the room is (see {@link RoomMedia}). */
  uploadForRoom(roomId: string, data: Uint8Array, options: UploadOptions): Promise<RoomMedia>;
  /** Whether media for this room is uploaded encrypted (the room is end-to-end encrypted and the bot encrypts). */
  mediaEncryptedFor(roomId: string): Promise<boolean>;
  /** Post media uploaded earlier with uploadForRoom (for a room of the same kind). */
  sendMedia(roomId: string, media: RoomMedia, options: MediaMessageOptions): Promise<string>;
  /** The homeserver's upload limit in bytes (`m.upload.size`), or null when it sets none. */
  maxUploadSize(): Promise<number | null>;
  getRoomState(roomId: string, type: string, stateKey?: string): Promise<Record<string, unknown> | null>;
  /**
   * The bot's direct chat with a user, created (and invited) if there is
   * none. Events from DM rooms reach instances whose manifest says
   * `direct_messages: true`, whatever their room allowlist.
   */
  openDirectRoom(userId: string): Promise<string>;
  /** Whether the room is one of the bot's direct chats (m.direct). */
  isDirectRoom(roomId: string): boolean;
  /** Homeserver round trip in ms; throws when it does not answer (for health commands). */
  pingHomeserver(): Promise<number>;
  /**
   * A user's power level in a room as the spec defines it: m.room.power_levels
   * (`users`, else `users_default`); without power levels the creator has 100;
   * in room version 12+ the creators have unlimited power (Infinity).
   */
  powerLevel(roomId: string, userId: string): Promise<number>;
  joinedMembers(roomId: string): Promise<string[]>;
  invite(roomId: string, userId: string): Promise<void>;
}

/**
 * Per-instance key-value storage. Values are JSON. Keys are scoped to the
 * instance by the platform: one instance can never read another's.
 */
export interface PluginStorage {
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined>;
  set(key: string, value: JsonValue): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Keys (and values) whose key starts with prefix, in key order. */
  list<T extends JsonValue = JsonValue>(prefix?: string): Promise<Array<{ key: string; value: T }>>;
}

/** Timers that the platform cancels when the instance stops. */
export interface PluginTimers {
  setTimeout(fn: () => void | Promise<void>, ms: number): () => void;
  setInterval(fn: () => void | Promise<void>, ms: number): () => void;
}

export interface PluginContext<Config = Record<string, unknown>> {
  readonly instanceId: string;
  /** The instance's validated config with schema defaults applied. */
  readonly config: Config;
  /** The command prefix in force for this instance (config key `prefix`, default `!`). */
  readonly prefix: string;
  readonly log: PluginLogger;
  readonly matrix: MatrixActions;
  readonly storage: PluginStorage;
  readonly timers: PluginTimers;
  readonly metrics: PluginMetrics;
  /** HTTP endpoints on the daemon's public listener (webhooks and the like); removed when the instance stops. */
  readonly web: PluginWeb;
  /** The other bot accounts the operator lets this instance send as (the instance's `senders`), as now configured. */
  readonly senders: readonly string[];
  /**
   * The Matrix actions of another bot account, one of {@link senders}: a webhook service posting
   * under its own name and avatar, encrypted rooms included. That account must be in the room.
   * Throws, naming the fix, for an account the operator did not allow or that is missing or disabled.
   */
  matrixAs(userId: string): MatrixActions;
  command(definition: CommandDefinition): void;
  onMessage(handler: (message: MessageEvent) => Promise<void> | void): void;
  onReaction(handler: (reaction: ReactionEvent) => Promise<void> | void): void;
  onMembership(handler: (membership: MembershipEvent) => Promise<void> | void): void;
  /** Any room event of the given type ('*' for all). */
  onEvent(type: string, handler: (event: RoomEvent) => Promise<void> | void): void;
  /** Called after a new config has been validated and stored. */
  onConfigChange(handler: (config: Config, previous: Config) => Promise<void> | void): void;
  /** The generated help text for this instance's commands. */
  helpText(): string;
  /**
   * Aborted when the instance stops (restart, config change of plugin or
   * account, delete, shutdown): pass it to fetch, child processes, loops.
   */
  readonly signal: AbortSignal;
  /** Runs when the instance stops, after its timers are cancelled: close what setup opened. */
  onStop(handler: () => Promise<void> | void): void;
  /**
   * Runs `work` as one unit named by `key`: the Matrix sends it makes get transaction ids derived
   * from the instance, the key and their order, so running it again with the same key (after a
   * crash, a retry) posts nothing twice; the homeserver answers with the events it already has.
   * For work no room event triggered (a webhook delivery, a scheduled post); handlers of room
   * events get this on their own.
   */
  idempotent<T>(key: string, work: () => Promise<T> | T): Promise<T>;
  /**
   * The instance cannot go on (a process it runs died, a connection it needs is gone for good):
   * it is stopped, shown as failed with `reason`, and started again with backoff, as after a failed setup.
   */
  fail(reason: string): void;
}

/** What {@link PluginDefinition.upgradeConfig} is told about the config it upgrades. */
export interface ConfigUpgrade {
  /** The plugin version the config was last accepted by; null when not known (stored before Trellis recorded it). */
  readonly fromVersion: string | null;
  /** This plugin's version, the one being started. */
  readonly toVersion: string;
  /** Why the config does not validate against this version's schema, e.g. "timeout_ms: unknown key"; empty when it does. */
  readonly problems: readonly string[];
  /** This version's schema defaults of the top-level keys that have one. */
  readonly defaults: Readonly<Record<string, JsonValue>>;
}

export interface PluginDefinition<Config = Record<string, unknown>> {
  /** Register commands and handlers. Runs on every (re)start of an instance. */
  setup(context: PluginContext<Config>): Promise<void> | void;
  /** Release anything setup acquired beyond timers and handlers. */
  teardown?(context: PluginContext<Config>): Promise<void> | void;
  /**
   * Turns an instance's stored config, written for another version of the
   * plugin (or no longer valid against its schema), into one for this
   * version: rename or convert keys, like maubot's `do_update`. Runs before
   * the instance starts, when the version the config was last accepted by
   * differs or the config does not validate. Gets a copy of the stored config
   * (without defaults) and returns the new one; afterwards keys the schema
   * does not allow are dropped (with a WARN) and missing ones take their
   * defaults. The result is stored (and logged) unless the instance is
   * declared in the config file. Must not have side effects: it may run
   * again with the same input.
   */
  upgradeConfig?(old: Record<string, unknown>, upgrade: ConfigUpgrade): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** Identity helper that gives a plugin's default export its type. */
export function definePlugin<Config = Record<string, unknown>>(definition: PluginDefinition<Config>): PluginDefinition<Config> {
  return definition;
}

/** Escape text for inclusion in `formatted_body` HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
export type { HttpMethod, PluginWeb, WebHandler, WebRequest, WebResponse } from './web.ts';
export * from './polls.ts';
export * from './reaction-polls.ts';
export * from './cooldown.ts';
export * from './serial-queue.ts';
export { errorMessage } from '../shared/error-message.ts';
