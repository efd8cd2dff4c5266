/**
 * A deliberately tiny Matrix client for the humans in integration tests
 * (the people who talk to our bots). Independent of src/matrix so a bug there
 * cannot hide itself by also breaking the test's side of the conversation.
 */
import { randomBytes } from 'node:crypto';
import { registerUser } from './synapse.ts';

export interface TestMatrixEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  state_key?: string;
  unsigned?: Record<string, unknown>;
  room_id: string;
}

export type Membership = 'join' | 'invite' | 'leave' | 'ban' | 'knock';

export interface CreateRoomOptions {
  invite?: string[];
  name?: string;
  /** Test rooms are unencrypted: this client has no E2EE. */
  encrypted?: false;
  preset?: 'private_chat' | 'public_chat' | 'trusted_private_chat';
  isDirect?: boolean;
}

interface SyncRoom {
  state?: { events?: RawEvent[] };
  timeline?: { events?: RawEvent[] };
  invite_state?: { events?: RawEvent[] };
}

interface SyncResponse {
  next_batch: string;
  rooms?: { join?: Record<string, SyncRoom>; invite?: Record<string, SyncRoom>; leave?: Record<string, SyncRoom> };
}

type RawEvent = Omit<TestMatrixEvent, 'room_id' | 'event_id' | 'origin_server_ts'> & {
  event_id?: string;
  origin_server_ts?: number;
};

export class MatrixRequestError extends Error {
  readonly status: number;
  readonly errcode: string | undefined;
  constructor(message: string, status: number, errcode: string | undefined) {
    super(message);
    this.name = 'MatrixRequestError';
    this.status = status;
    this.errcode = errcode;
  }
}

/** Unique per call, so tests sharing one homeserver never collide. */
export function uniqueLocalpart(prefix = 'user'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.toLowerCase();
}

export async function matrixFetch<T>(baseUrl: string, method: string, path: string, body?: unknown, accessToken?: string, timeoutMs = 30_000): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (accessToken) headers.authorization = `Bearer ${accessToken}`;
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { error: text.slice(0, 200) };
  }
  if (!res.ok) {
    const err = json as { errcode?: string; error?: string };
    throw new MatrixRequestError(`${method} ${path.split('?')[0]} → HTTP ${res.status} ${err.errcode ?? ''} ${err.error ?? ''}`.trim(), res.status, err.errcode);
  }
  return json as T;
}

/**
 * Registers through the public client API with a registration token, walking
 * the user-interactive auth flow the way a real client does.
 */
export async function registerWithToken(baseUrl: string, localpart: string, password: string, registrationToken: string): Promise<{ userId: string; accessToken: string; deviceId: string }> {
  const body: Record<string, unknown> = { username: localpart, password, inhibit_login: false };
  const completed = new Set<string>();
  for (let round = 0; round < 5; round++) {
    const res = await fetch(`${baseUrl}/_matrix/client/v3/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const json = (await res.json()) as {
      user_id?: string;
      access_token?: string;
      device_id?: string;
      session?: string;
      flows?: { stages: string[] }[];
      completed?: string[];
      errcode?: string;
      error?: string;
    };
    if (res.ok && json.user_id && json.access_token) {
      return { userId: json.user_id, accessToken: json.access_token, deviceId: json.device_id ?? '' };
    }
    if (res.status !== 401 || !json.session || !json.flows) {
      throw new MatrixRequestError(`registration of ${localpart} failed: HTTP ${res.status} ${json.errcode ?? ''} ${json.error ?? ''}`.trim(), res.status, json.errcode);
    }
    if (body.auth && json.errcode) {
      // A UIA 401 that carries an errcode means the stage just submitted was rejected.
      throw new MatrixRequestError(
        `registration of ${localpart} failed at stage ${(body.auth as { type: string }).type}: ` + `HTTP ${res.status} ${json.errcode} ${json.error ?? ''}`.trim(),
        res.status,
        json.errcode,
      );
    }
    for (const stage of json.completed ?? []) completed.add(stage);
    const flow = json.flows.find((f) => f.stages.includes('m.login.registration_token')) ?? json.flows[0];
    const next = flow?.stages.find((s) => !completed.has(s));
    if (next === 'm.login.registration_token') {
      body.auth = { type: next, token: registrationToken, session: json.session };
    } else if (next === 'm.login.dummy') {
      body.auth = { type: next, session: json.session };
    } else {
      throw new Error(`registration of ${localpart}: the server asks for auth stage ${next ?? '(none)'} ` + `(flows: ${JSON.stringify(json.flows)}), which this test client cannot complete`);
    }
  }
  throw new Error(`registration of ${localpart} did not finish after 5 auth rounds`);
}

function describe(ev: TestMatrixEvent): string {
  const body = typeof ev.content.body === 'string' ? ` "${ev.content.body.slice(0, 60)}"` : '';
  const membership = typeof ev.content.membership === 'string' ? ` ${ev.state_key}=${ev.content.membership}` : '';
  return `${ev.type} from ${ev.sender}${membership}${body}`;
}

export class TestUser {
  readonly baseUrl: string;
  readonly userId: string;
  readonly accessToken: string;
  readonly deviceId: string;
  private since: string | undefined;
  /** Every event this user's sync delivered, per room, in order. */
  private readonly seen = new Map<string, TestMatrixEvent[]>();
  private readonly returned = new Set<TestMatrixEvent>();
  private readonly memberships = new Map<string, Map<string, TestMatrixEvent>>();
  private syncing: Promise<void> | undefined;
  private txn = 0;

  constructor(baseUrl: string, user: { userId: string; accessToken: string; deviceId?: string }) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.userId = user.userId;
    this.accessToken = user.accessToken;
    this.deviceId = user.deviceId ?? '';
  }

  /** A fresh user registered through the shared secret (password: `password-<localpart>`). */
  static async create(hs: { url: string; sharedSecret: string }, prefix = 'user'): Promise<TestUser> {
    const localpart = uniqueLocalpart(prefix);
    return new TestUser(hs.url, await registerUser(hs, localpart, `password-${localpart}`));
  }

  request<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    return matrixFetch<T>(this.baseUrl, method, path, body, this.accessToken, timeoutMs);
  }

  async createRoom(opts: CreateRoomOptions = {}): Promise<string> {
    const body: Record<string, unknown> = { preset: opts.preset ?? 'private_chat' };
    if (opts.invite) body.invite = opts.invite;
    if (opts.name) body.name = opts.name;
    if (opts.isDirect) body.is_direct = true;
    const res = await this.request<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', body);
    return res.room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: userId });
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const res = await this.request<{ room_id: string }>('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomIdOrAlias)}`, {});
    return res.room_id;
  }

  async leave(roomId: string): Promise<void> {
    await this.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, {});
  }

  async sendEvent(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
    const txnId = `t${Date.now()}-${this.txn++}`;
    const res = await this.request<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(type)}/${txnId}`, content);
    return res.event_id;
  }

  sendText(roomId: string, body: string): Promise<string> {
    return this.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body });
  }

  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    const res = await this.request<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`, content);
    return res.event_id;
  }

  /** The room's latest events (up to `limit`), oldest first. */
  async messages(roomId: string, limit = 100): Promise<TestMatrixEvent[]> {
    const res = await this.request<{ chunk: RawEvent[] }>('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}`);
    return res.chunk.reverse().map((ev) => ({ ...ev, room_id: roomId }) as TestMatrixEvent);
  }

  /** Marks everything synced so far as seen: later waits only match newer events. */
  async skipExisting(): Promise<void> {
    await this.syncOnce(0);
    for (const events of this.seen.values()) for (const ev of events) this.returned.add(ev);
  }

  /**
   * Resolves with the first event in the room, in sync order, that matches and
   * that no earlier waitForEvent on this user returned. Events sent before the
   * call count too, so a test can send first and wait afterwards.
   */
  async waitForEvent(roomId: string, predicate: (ev: TestMatrixEvent) => boolean, timeoutMs = 15_000, what = 'a matching event'): Promise<TestMatrixEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = (this.seen.get(roomId) ?? []).find((ev) => !this.returned.has(ev) && predicate(ev));
      if (match) {
        this.returned.add(match);
        return match;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const recent = (this.seen.get(roomId) ?? []).slice(-10).map(describe);
        throw new Error(`${this.userId} waited ${timeoutMs} ms for ${what} in ${roomId}; ` + `last events seen there: ${recent.length ? recent.join('; ') : '(none — not joined or invited?)'}`);
      }
      await this.syncOnce(Math.min(remaining, 5_000));
    }
  }

  /** Resolves once `userId`'s membership in the room (as this user sees it) equals `membership`. */
  async waitForMembership(roomId: string, userId: string, membership: Membership, timeoutMs = 15_000): Promise<TestMatrixEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = this.memberships.get(roomId)?.get(userId);
      if (current?.content.membership === membership) return current;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `${this.userId} waited ${timeoutMs} ms for ${userId} to reach membership "${membership}" in ${roomId}; ` +
            `last seen: ${current ? String(current.content.membership) : 'no membership event'}`,
        );
      }
      await this.syncOnce(Math.min(remaining, 5_000));
    }
  }

  /** Waits until this user is invited to some room (optionally by `inviter`) and returns its id. */
  async waitForInvite(inviter?: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const [roomId, members] of this.memberships) {
        const own = members.get(this.userId);
        if (own?.content.membership === 'invite' && (!inviter || own.sender === inviter)) return roomId;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`${this.userId} waited ${timeoutMs} ms for an invite${inviter ? ` from ${inviter}` : ''}; none arrived`);
      }
      await this.syncOnce(Math.min(remaining, 5_000));
    }
  }

  /** One /sync round; concurrent callers share it so the since-token stays linear. */
  private syncOnce(timeoutMs: number): Promise<void> {
    if (!this.syncing) {
      this.syncing = this.doSync(timeoutMs).finally(() => {
        this.syncing = undefined;
      });
    }
    return this.syncing;
  }

  private async doSync(timeoutMs: number): Promise<void> {
    const params = new URLSearchParams({ timeout: String(Math.max(0, Math.floor(timeoutMs))) });
    if (this.since) params.set('since', this.since);
    else params.set('filter', JSON.stringify({ room: { timeline: { limit: 100 } } }));
    const res = await this.request<SyncResponse>('GET', `/_matrix/client/v3/sync?${params}`, undefined, timeoutMs + 30_000);
    this.since = res.next_batch;
    for (const [roomId, room] of Object.entries(res.rooms?.join ?? {})) {
      this.ingest(roomId, room.state?.events ?? [], false);
      this.ingest(roomId, room.timeline?.events ?? [], true);
    }
    for (const [roomId, room] of Object.entries(res.rooms?.invite ?? {})) {
      this.ingest(roomId, room.invite_state?.events ?? [], true);
    }
    for (const [roomId, room] of Object.entries(res.rooms?.leave ?? {})) {
      this.ingest(roomId, room.state?.events ?? [], false);
      this.ingest(roomId, room.timeline?.events ?? [], true);
    }
  }

  private ingest(roomId: string, events: RawEvent[], timeline: boolean): void {
    for (const raw of events) {
      // Stripped invite-state events have no id or timestamp.
      const ev: TestMatrixEvent = { event_id: '', origin_server_ts: 0, ...raw, room_id: roomId };
      if (ev.type === 'm.room.member' && ev.state_key !== undefined) {
        let members = this.memberships.get(roomId);
        if (!members) this.memberships.set(roomId, (members = new Map()));
        members.set(ev.state_key, ev);
      }
      if (timeline) {
        let list = this.seen.get(roomId);
        if (!list) this.seen.set(roomId, (list = []));
        list.push(ev);
      }
    }
  }
}
