/**
 * A bot account's view of the client-server API: just the endpoints a bot
 * uses, typed, with no room state kept in memory (many idle bots share one
 * process). The E2EE layer reaches further endpoints through `http`.
 */
import { randomUUID } from 'node:crypto';
import { MatrixApiError } from './errors.ts';
import { encodePath, MatrixHttp } from './http.ts';
import type { Credentials, DownloadedMedia, MatrixEvent, MediaConfig, Profile, SyncFilter, SyncResponse, WhoAmI } from './types.ts';

const CS = '/_matrix/client/v3';

/**
 * Extra time the HTTP timeout allows beyond the long-poll timeout. Small, so a
 * connection dropped silently (NAT, proxy) is noticed a few seconds after the
 * server would have answered, not minutes later.
 */
const SYNC_GRACE_MS = 5_000;
/** A sync that returns at once (timeout 0: the first one) may still take a while to build on a big account. */
const IMMEDIATE_SYNC_BUDGET_MS = 60_000;

export interface SyncOptions {
  since?: string;
  timeoutMs?: number;
  /** A filter object (sent inline as JSON) or a filter id. */
  filter?: SyncFilter | string;
  signal?: AbortSignal;
  setPresence?: 'online' | 'offline' | 'unavailable';
}

export interface MatrixClientOptions {
  fetch?: typeof fetch;
  userAgent?: string;
}

export interface RoomMessagesPage {
  chunk: MatrixEvent[];
  start: string;
  /** Absent when there is nothing further in that direction. */
  end?: string;
}

export interface JoinedMember {
  display_name?: string;
  avatar_url?: string;
}

/** A transaction id unique per process lifetime and across restarts. */
export function newTxnId(): string {
  return `trellis.${Date.now().toString(36)}.${randomUUID()}`;
}

export class MatrixClient {
  readonly http: MatrixHttp;
  readonly userId: string;
  readonly deviceId: string;
  readonly homeserverUrl: string;

  constructor(credentials: Credentials, opts: MatrixClientOptions = {}) {
    this.http = new MatrixHttp({
      baseUrl: credentials.homeserverUrl,
      accessToken: credentials.accessToken,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
    });
    this.homeserverUrl = this.http.baseUrl;
    this.userId = credentials.userId;
    this.deviceId = credentials.deviceId;
  }

  whoami(): Promise<WhoAmI> {
    return this.http.request<WhoAmI>('GET', `${CS}/account/whoami`, { retry: true });
  }

  sync(opts: SyncOptions = {}): Promise<SyncResponse> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const filter = opts.filter === undefined ? undefined : typeof opts.filter === 'string' ? opts.filter : JSON.stringify(opts.filter);
    return this.http.request<SyncResponse>('GET', `${CS}/sync`, {
      query: { since: opts.since, timeout: timeoutMs, filter, set_presence: opts.setPresence },
      timeoutMs: timeoutMs === 0 ? IMMEDIATE_SYNC_BUDGET_MS : timeoutMs + SYNC_GRACE_MS,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /**
   * The txn id is fixed before the first attempt so every retry is the same
   * transaction: the homeserver answers a repeat with the original event id
   * instead of sending the message twice.
   */
  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId: string = newTxnId()): Promise<string> {
    const res = await this.http.request<{ event_id: string }>('PUT', CS + encodePath`/rooms/${roomId}/send/${type}/${txnId}`, {
      body: content,
      retry: true,
    });
    return res.event_id;
  }

  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    const res = await this.http.request<{ event_id: string }>('PUT', CS + encodePath`/rooms/${roomId}/state/${type}/${stateKey}`, {
      body: content,
      retry: true,
    });
    return res.event_id;
  }

  async redact(roomId: string, eventId: string, reason?: string, txnId: string = newTxnId()): Promise<string> {
    const res = await this.http.request<{ event_id: string }>('PUT', CS + encodePath`/rooms/${roomId}/redact/${eventId}/${txnId}`, {
      body: reason === undefined ? {} : { reason },
      retry: true,
    });
    return res.event_id;
  }

  /** Joins by room id or alias; `via` names servers to join through (needed for unknown remote rooms). */
  async joinRoom(roomIdOrAlias: string, via?: string[]): Promise<string> {
    const res = await this.http.request<{ room_id: string }>('POST', CS + encodePath`/join/${roomIdOrAlias}`, {
      body: {},
      retry: true,
      ...(via && via.length > 0 ? { query: { via, server_name: via } } : {}),
    });
    return res.room_id;
  }

  async leaveRoom(roomId: string, reason?: string): Promise<void> {
    await this.http.request('POST', CS + encodePath`/rooms/${roomId}/leave`, { body: reason === undefined ? {} : { reason }, retry: true });
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.http.request('POST', CS + encodePath`/rooms/${roomId}/invite`, { body: { user_id: userId }, retry: true });
  }

  /** Creates a room; `options` is the request body of POST /createRoom. */
  async createRoom(options: Record<string, unknown> = {}): Promise<string> {
    const res = await this.http.request<{ room_id: string }>('POST', `${CS}/createRoom`, { body: options });
    return res.room_id;
  }

  /** The state event's content, or null if the room has no such state. */
  async getStateEvent(roomId: string, type: string, stateKey = ''): Promise<Record<string, unknown> | null> {
    try {
      return await this.http.request<Record<string, unknown>>('GET', CS + encodePath`/rooms/${roomId}/state/${type}/${stateKey}`, { retry: true });
    } catch (err) {
      if (err instanceof MatrixApiError && err.status === 404 && err.errcode === 'M_NOT_FOUND') return null;
      throw err;
    }
  }

  /** The whole state event (with its sender), or null if the room has no such state. */
  async getStateEventFull(roomId: string, type: string, stateKey = ''): Promise<{ sender?: string; content?: Record<string, unknown> } | null> {
    try {
      return await this.http.request<{ sender?: string; content?: Record<string, unknown> }>('GET', CS + encodePath`/rooms/${roomId}/state/${type}/${stateKey}`, {
        retry: true,
        query: { format: 'event' },
      });
    } catch (err) {
      if (err instanceof MatrixApiError && err.status === 404 && err.errcode === 'M_NOT_FOUND') return null;
      throw err;
    }
  }

  async joinedMembers(roomId: string): Promise<Record<string, JoinedMember>> {
    const res = await this.http.request<{ joined: Record<string, JoinedMember> }>('GET', CS + encodePath`/rooms/${roomId}/joined_members`, { retry: true });
    return res.joined;
  }

  /** One page of a room's history (GET /messages); `chunk` is newest first when dir is 'b'. */
  roomMessages(roomId: string, opts: { from?: string; dir: 'b' | 'f'; limit: number; filter?: Record<string, unknown>; signal?: AbortSignal }): Promise<RoomMessagesPage> {
    return this.http.request<RoomMessagesPage>('GET', CS + encodePath`/rooms/${roomId}/messages`, {
      query: { from: opts.from, dir: opts.dir, limit: opts.limit, filter: opts.filter ? JSON.stringify(opts.filter) : undefined },
      retry: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  async joinedRooms(): Promise<string[]> {
    const res = await this.http.request<{ joined_rooms: string[] }>('GET', `${CS}/joined_rooms`, { retry: true });
    return res.joined_rooms;
  }

  /** Uploads to the media repository and returns the mxc:// URI. */
  async uploadMedia(data: Uint8Array, opts: { contentType: string; filename?: string }): Promise<string> {
    const res = await this.http.request<{ content_uri: string }>('POST', '/_matrix/media/v3/upload', {
      rawBody: data,
      contentType: opts.contentType,
      query: { filename: opts.filename },
      // A repeated upload only leaves an unused copy behind, so retrying is safe.
      retry: true,
      timeoutMs: 300_000,
    });
    return res.content_uri;
  }

  async getMediaConfig(): Promise<MediaConfig> {
    try {
      return await this.http.request<MediaConfig>('GET', '/_matrix/client/v1/media/config', { retry: true });
    } catch (err) {
      if (!isUnknownEndpoint(err)) throw err;
      return this.http.request<MediaConfig>('GET', '/_matrix/media/v3/config', { retry: true });
    }
  }

  /** Authenticated media (Matrix 1.11) first; the legacy endpoint for homeservers without it. */
  async downloadMedia(mxc: string): Promise<DownloadedMedia> {
    const { serverName, mediaId } = parseMxc(mxc);
    const opts = { retry: true, timeoutMs: 300_000 } as const;
    let res;
    try {
      res = await this.http.requestRaw('GET', encodePath`/_matrix/client/v1/media/download/${serverName}/${mediaId}`, opts);
    } catch (err) {
      if (!isUnknownEndpoint(err)) throw err;
      res = await this.http.requestRaw('GET', encodePath`/_matrix/media/v3/download/${serverName}/${mediaId}`, opts);
    }
    return { data: res.body, contentType: res.headers.get('content-type') };
  }

  async setDisplayName(displayName: string): Promise<void> {
    await this.http.request('PUT', CS + encodePath`/profile/${this.userId}/displayname`, { body: { displayname: displayName }, retry: true });
  }

  async setAvatarUrl(mxc: string): Promise<void> {
    await this.http.request('PUT', CS + encodePath`/profile/${this.userId}/avatar_url`, { body: { avatar_url: mxc }, retry: true });
  }

  getProfile(userId: string): Promise<Profile> {
    return this.http.request<Profile>('GET', CS + encodePath`/profile/${userId}`, { retry: true });
  }

  /** The account's global account data of this type, or null when it has none. */
  async getAccountData(type: string): Promise<Record<string, unknown> | null> {
    try {
      return await this.http.request<Record<string, unknown>>('GET', CS + encodePath`/user/${this.userId}/account_data/${type}`, { retry: true });
    } catch (err) {
      if (err instanceof MatrixApiError && err.status === 404) return null;
      throw err;
    }
  }

  async setAccountData(type: string, content: Record<string, unknown>): Promise<void> {
    await this.http.request('PUT', CS + encodePath`/user/${this.userId}/account_data/${type}`, { body: content, retry: true });
  }

  /** Round trip to the homeserver's unauthenticated /versions, in ms (for health checks). */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.http.request('GET', '/_matrix/client/versions', { retry: false, timeoutMs: 10_000 });
    return performance.now() - started;
  }

  /** Invalidates the access token (and deletes the device with its E2EE keys). */
  async logout(): Promise<void> {
    await this.http.request('POST', `${CS}/logout`, { body: {} });
  }
}

export function parseMxc(mxc: string): { serverName: string; mediaId: string } {
  const match = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
  if (!match || !match[1] || !match[2]) throw new TypeError(`not an mxc:// URI: ${mxc}`);
  return { serverName: match[1], mediaId: match[2] };
}

/** An endpoint the homeserver does not implement (as opposed to a missing resource). */
function isUnknownEndpoint(err: unknown): boolean {
  if (!(err instanceof MatrixApiError)) return false;
  if (err.errcode === 'M_UNRECOGNIZED') return true;
  return err.status === 405 || (err.status === 404 && err.notMatrix);
}
