import type { MatrixActions, MatrixEvent, SendOptions, UploadOptions } from '../sdk/index.ts';
import { MatrixClient } from '../matrix/client.ts';
import { SyncLoop, type SyncStatus } from '../matrix/sync-loop.ts';
import type { SyncResponse } from '../matrix/types.ts';
import type { ClientRecord } from '../storage/clients.ts';
import type { Storage } from '../storage/database.ts';
import type { Logger } from './logging.ts';

export type RoomEventSink = (client: BotClient, roomId: string, event: MatrixEvent) => Promise<void>;

/** Whether an inviter may make this bot join: empty allowlist = anyone; entries are user ids or server names. */
export function inviterAllowed(allow: string[], inviter: string): boolean {
  if (allow.length === 0) return true;
  const server = inviter.slice(inviter.indexOf(':') + 1);
  return allow.some((entry) => (entry.startsWith('@') ? entry === inviter : entry === server));
}

/**
 * One bot account: its Matrix client, its sync loop and the rooms it is in.
 * It turns sync responses into room events for the supervisor, records
 * which events were handled (so a crash between handling and saving the
 * sync token never answers twice), and auto-joins invites.
 */
export class BotClient {
  readonly userId: string;
  readonly matrix: MatrixClient;
  readonly joinedRooms = new Set<string>();
  readonly actions: MatrixActions;
  #record: ClientRecord;
  readonly #storage: Storage;
  readonly #log: Logger;
  readonly #sink: RoomEventSink;
  #loop: SyncLoop | null = null;

  constructor(options: { record: ClientRecord; storage: Storage; log: Logger; sink: RoomEventSink }) {
    this.#record = options.record;
    this.userId = options.record.id;
    this.#storage = options.storage;
    this.#log = options.log;
    this.#sink = options.sink;
    this.matrix = new MatrixClient({
      homeserverUrl: options.record.homeserverUrl,
      userId: options.record.id,
      accessToken: options.record.accessToken,
      deviceId: options.record.deviceId ?? '',
    });
    this.actions = createActions(this.userId, this.matrix);
  }

  get record(): ClientRecord {
    return this.#record;
  }

  updateRecord(record: ClientRecord): void {
    this.#record = record;
  }

  get status(): SyncStatus {
    return this.#loop?.status ?? { state: 'stopped', lastSuccessAt: null, lastError: null, consecutiveFailures: 0 };
  }

  get running(): boolean {
    return this.#loop !== null;
  }

  start(): void {
    if (this.#loop) return;
    const id = this.userId;
    this.#loop = new SyncLoop({
      client: this.matrix,
      loadToken: async () => (await this.#storage.clients.get(id))?.syncToken ?? null,
      saveToken: (token) => this.#storage.clients.setSyncToken(id, token),
      onSync: (response, info) => this.#onSync(response, info.initial),
      logger: this.#log,
      onStateChange: (status) => {
        if (status.state === 'failed') this.#log.error(`sync stopped: ${status.lastError ?? 'unknown error'}`);
      },
    });
    this.#loop.start();
  }

  async stop(): Promise<void> {
    const loop = this.#loop;
    this.#loop = null;
    await loop?.stop();
  }

  async #onSync(response: SyncResponse, initial: boolean): Promise<void> {
    const rooms = response.rooms ?? {};
    const known = new Set(this.joinedRooms);
    for (const roomId of Object.keys(rooms.join ?? {})) this.joinedRooms.add(roomId);
    for (const roomId of Object.keys(rooms.leave ?? {})) this.joinedRooms.delete(roomId);
    for (const [roomId, invite] of Object.entries(rooms.invite ?? {})) {
      const own = invite.invite_state?.events.find((e) => e.type === 'm.room.member' && e.state_key === this.userId);
      await this.#handleInvite(roomId, own?.sender ?? '');
    }
    // The first sync of a new account carries old history: never answer it.
    if (initial) return;
    for (const [roomId, room] of Object.entries(rooms.join ?? {})) {
      const events = room.timeline?.events ?? [];
      // A room we just joined arrives with history from before our join: start after our own join event.
      const ownJoin = known.has(roomId) ? -1 : events.findLastIndex((e) => e.type === 'm.room.member' && e.state_key === this.userId && e.content.membership === 'join');
      for (const event of events.slice(ownJoin + 1)) {
        if (event.sender === this.userId) continue;
        if (await this.#storage.handledEvents.wasHandled(this.userId, event.event_id)) continue;
        await this.#sink(this, roomId, event);
        await this.#storage.handledEvents.markHandled(this.userId, event.event_id);
      }
    }
  }

  async #handleInvite(roomId: string, inviter: string): Promise<void> {
    if (!this.#record.autojoin) return;
    if (!inviterAllowed(this.#record.autojoinAllow, inviter)) {
      this.#log.info('declined invite from a user outside autojoin_allow', { room: roomId, inviter });
      await this.matrix.leaveRoom(roomId).catch(() => undefined);
      return;
    }
    try {
      // joinedRooms is updated by the sync that carries our join, which also marks where history ends.
      await this.matrix.joinRoom(roomId);
      this.#log.info('joined room after invite', { room: roomId, inviter });
    } catch (err) {
      this.#log.warn(`could not join ${roomId} after an invite from ${inviter}: ${(err as Error).message}`);
    }
  }

  /** Join a room the admin listed for an instance (by id or alias); failures are logged, not thrown. */
  async ensureJoined(roomIdOrAlias: string): Promise<void> {
    if (this.joinedRooms.has(roomIdOrAlias)) return;
    try {
      await this.matrix.joinRoom(roomIdOrAlias);
    } catch (err) {
      this.#log.warn(`could not join configured room ${roomIdOrAlias}: ${(err as Error).message}`);
    }
  }
}

function createActions(userId: string, matrix: MatrixClient): MatrixActions {
  return {
    userId,
    async sendText(roomId: string, text: string, html?: string, options: SendOptions = {}) {
      const content: Record<string, unknown> = { msgtype: options.notice ? 'm.notice' : 'm.text', body: text };
      if (html !== undefined) {
        content.format = 'org.matrix.custom.html';
        content.formatted_body = html;
      }
      if (options.threadRoot) {
        content['m.relates_to'] = {
          rel_type: 'm.thread',
          event_id: options.threadRoot,
          is_falling_back: !options.replyTo,
          'm.in_reply_to': { event_id: options.replyTo ?? options.threadRoot },
        };
      } else if (options.replyTo) {
        content['m.relates_to'] = { 'm.in_reply_to': { event_id: options.replyTo } };
      }
      return matrix.sendEvent(roomId, 'm.room.message', content);
    },
    sendEvent: (roomId, type, content) => matrix.sendEvent(roomId, type, content),
    sendState: (roomId, type, stateKey, content) => matrix.sendState(roomId, type, stateKey, content),
    react: (roomId, eventId, key) => matrix.sendEvent(roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: eventId, key } }),
    edit(roomId, eventId, text, html) {
      const newContent: Record<string, unknown> = { msgtype: 'm.notice', body: text };
      if (html !== undefined) Object.assign(newContent, { format: 'org.matrix.custom.html', formatted_body: html });
      return matrix.sendEvent(roomId, 'm.room.message', {
        ...newContent,
        body: `* ${text}`,
        ...(html !== undefined ? { formatted_body: `* ${html}` } : {}),
        'm.new_content': newContent,
        'm.relates_to': { rel_type: 'm.replace', event_id: eventId },
      });
    },
    redact: (roomId, eventId, reason) => matrix.redact(roomId, eventId, reason),
    uploadMedia: (data: Uint8Array, options: UploadOptions) => matrix.uploadMedia(data, options),
    getRoomState: (roomId, type, stateKey = '') => matrix.getStateEvent(roomId, type, stateKey),
    joinedMembers: async (roomId) => Object.keys(await matrix.joinedMembers(roomId)),
    invite: (roomId, user) => matrix.invite(roomId, user),
  };
}
