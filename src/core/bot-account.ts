/**
 * One bot account's life: its sync loop, gap filling, handled-event dedupe,
 * autojoin, direct rooms, the encryption switch and the encrypting send.
 */
import type { JsonValue, MatrixActions, MatrixEvent, RoomMedia, UploadOptions } from '../sdk/index.ts';
import { MatrixClient } from '../matrix/client.ts';
import { BotCrypto, CryptoClosedError, CryptoStoreError, type CryptoStatus } from '../matrix/crypto/index.ts';
import { SyncLoop, type SyncStatus } from '../matrix/sync-loop.ts';
import type { SyncResponse } from '../matrix/types.ts';
import type { AccountRecord } from '../storage/clients.ts';
import type { Storage } from '../storage/database.ts';
import type { KeySharing } from '../matrix/crypto/key-sharing.ts';
import type { Logger } from './logging.ts';
import { fetchGap, isOwnJoin, type CatchUpWindow } from './catch-up.ts';
import type { StorageGuard } from './storage-guard.ts';
import { replayStableTxnId } from './plugin-scope.ts';
import { errorMessage } from '../shared/error-message.ts';
import { createActions } from './matrix-actions.ts';

/** How one room event reaches the instances: `done` when all handled it; `settled` also when some are stalled. */
export interface Delivery {
  done: Promise<void>;
  /** 'done' once every receiver handled it; 'stalled' when a receiver is stuck and the sync stops waiting for it. */
  settled: Promise<'done' | 'stalled'>;
}

/** Hands an event to the instances; called in event order, it must queue the event before returning. */
export type RoomEventSink = (client: BotAccount, roomId: string, event: MatrixEvent) => Delivery;

const DEFAULT_CATCH_UP: CatchUpWindow = { maxAgeMs: 24 * 3600_000, maxEvents: 10_000 };

/** Where encrypted accounts keep their crypto stores; absent turns E2EE off for every account. */
export interface CryptoSettings {
  storeDir: string;
  pickleKey: string | undefined;
  /** Which devices get an account's room keys (config crypto.key_sharing / clients.<id>.key_sharing); default all. */
  keySharing?: (userId: string) => KeySharing;
}

export type AccountCryptoStatus = CryptoStatus | { state: 'off' | 'starting' | 'failed'; error?: string };

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
export class BotAccount {
  readonly userId: string;
  readonly matrix: MatrixClient;
  readonly joinedRooms = new Set<string>();
  readonly actions: MatrixActions;
  #record: AccountRecord;
  readonly #storage: Storage;
  readonly #log: Logger;
  readonly #sink: RoomEventSink;
  readonly #cryptoSettings: CryptoSettings | undefined;
  readonly #guard: StorageGuard;
  readonly #catchUp: CatchUpWindow;
  /** Events handed to instances but not yet recorded as handled: a gap fetch must not deliver them again. */
  readonly #inFlight = new Set<string>();
  #loop: SyncLoop | null = null;
  /**
   * The account's crypto machine as the last queued change leaves it (null
   * without E2EE). Every change (start, switch, stop) is a step queued after
   * the one before (#openCrypto), so steps never overlap and an account has
   * at most one machine. Sync batches use what it resolves to.
   */
  #cryptoReady: Promise<BotCrypto | null> = Promise.resolve(null);
  /** The open machine: set as soon as it is open, cleared just before it closes, never a closed one. */
  #crypto: BotCrypto | null = null;
  #cryptoStatus: AccountCryptoStatus = { state: 'off' };
  /** The sync batch being handled, so switching encryption off waits for it before closing the store. */
  #batch: Promise<void> = Promise.resolve();
  /** #batch when #crypto opened: batches started earlier use an older machine or none, not this one. */
  #batchBeforeCrypto: Promise<void> | null = null;

  constructor(options: { record: AccountRecord; storage: Storage; log: Logger; sink: RoomEventSink; guard: StorageGuard; catchUp?: CatchUpWindow; crypto?: CryptoSettings }) {
    this.#record = options.record;
    this.#guard = options.guard;
    this.#catchUp = options.catchUp ?? DEFAULT_CATCH_UP;
    this.userId = options.record.id;
    this.#storage = options.storage;
    this.#log = options.log;
    this.#sink = options.sink;
    this.#cryptoSettings = options.crypto;
    this.matrix = new MatrixClient({
      homeserverUrl: options.record.homeserverUrl,
      userId: options.record.id,
      accessToken: options.record.accessToken,
      deviceId: options.record.deviceId ?? '',
    });
    this.actions = createActions(this.userId, this.matrix, {
      send: (roomId, type, content) => this.#send(roomId, type, content),
      upload: (roomId, data, opts) => this.uploadForRoom(roomId, data, opts),
      mediaEncryptedFor: (roomId) => this.mediaEncryptedFor(roomId),
      openDirectRoom: (userId) => this.openDirectRoom(userId),
      isDirectRoom: (roomId) => this.isDirectRoom(roomId),
    });
  }

  get cryptoStatus(): AccountCryptoStatus {
    return this.#crypto?.status ?? this.#cryptoStatus;
  }

  /** The account's E2EE machinery once ready; null while starting, when off or failed. */
  get crypto(): BotCrypto | null {
    return this.#crypto;
  }

  get record(): AccountRecord {
    return this.#record;
  }

  /** Applies a changed record; turning encryption on or off takes effect without restarting the sync. */
  updateRecord(record: AccountRecord): void {
    const wanted = this.#wantsCrypto;
    this.#record = record;
    if (this.#loop && wanted !== this.#wantsCrypto) this.#switchCrypto();
  }

  /**
   * Queues a step that closes the machine or opens it (the same store, so
   * the same device) to match the record. Batches starting meanwhile wait
   * for the result; toggles issued before earlier steps finished collapse
   * into the state wanted when their step runs.
   */
  #switchCrypto(): void {
    this.#cryptoReady = this.#openCrypto();
  }

  get status(): SyncStatus {
    return this.#loop?.status ?? { state: 'stopped', lastSuccessAt: null, lastError: null, consecutiveFailures: 0 };
  }

  get running(): boolean {
    return this.#loop !== null;
  }

  /**
   * A sync resumed from a saved token only carries what changed, so rooms
   * and DMs from before a restart would stay unknown: read them once.
   */
  async #warmUp(): Promise<{ rooms: string[] }> {
    try {
      const [rooms, direct] = await Promise.all([this.matrix.joinedRooms(), this.matrix.getAccountData('m.direct')]);
      if (direct) this.#setDirect(direct);
      return { rooms };
    } catch (err) {
      this.#log.warn(`could not read the joined rooms and direct chats at start: ${errorMessage(err)}; they fill in as sync reports them`);
      return { rooms: [] };
    }
  }

  #warmedUp: Promise<{ rooms: string[] }> | null = null;

  start(): void {
    if (this.#loop) return;
    const id = this.userId;
    this.#warmedUp = this.#warmUp();
    this.#cryptoReady = this.#openCrypto();
    this.#loop = new SyncLoop({
      client: this.matrix,
      loadToken: async () => (await this.#guard.retry('reading the sync token', () => this.#storage.clients.get(id)))?.syncToken ?? null,
      saveToken: (token) => this.#guard.retry('saving the sync token', () => this.#storage.clients.setSyncToken(id, token)),
      onSync: async (response, info) => {
        const warm = this.#warmedUp ? await this.#warmedUp : null;
        // Read last, right before use: a switch queued meanwhile must not hand this batch a machine it closes.
        const crypto = await this.#cryptoReady;
        const batch = this.#onSync(response, info.initial, crypto).then(() => {
          if (!warm || this.#warmedUp === null) return;
          // After the first batch, so its rooms still get the fresh-join history check.
          this.#warmedUp = null;
          const left = new Set(Object.keys(response.rooms?.leave ?? {}));
          for (const roomId of warm.rooms) if (!left.has(roomId)) this.joinedRooms.add(roomId);
        });
        this.#batch = batch.catch(() => undefined);
        await batch;
      },
      logger: this.#log,
      onStateChange: (status) => {
        if (status.state === 'failed') this.#log.error(`sync stopped: ${status.lastError ?? 'unknown error'}`);
      },
    });
    this.#loop.start();
  }

  /**
   * Takes no new sync batch, lets the one being handled finish (at most
   * `graceMs`), then closes the crypto store. Events cut off are named; as
   * their batch's token was not saved, the next start handles them.
   */
  async stop(graceMs?: number): Promise<void> {
    const loop = this.#loop;
    this.#loop = null;
    const finished = (await loop?.stop(graceMs)) ?? true;
    if (!finished) {
      const cut = [...this.#inFlight];
      this.#log.warn(`stopped before ${cut.length} event(s) were handled; they are handled at the next start`, { events: cut.slice(0, 20) });
    }
    // Queued like a switch, so it also closes a machine that a switch in progress is still opening.
    this.#cryptoReady = this.#openCrypto({ stopping: true });
    await this.#cryptoReady;
  }

  /**
   * One step of the account's crypto changes (see #cryptoReady): after the
   * step before, closes the machine when it is no longer wanted (encryption
   * switched off, or `stopping`) and opens it when it is wanted and not open.
   * Failures leave the account running without E2EE (plaintext rooms keep
   * working) and say why.
   */
  #openCrypto(options: { stopping?: boolean } = {}): Promise<BotCrypto | null> {
    const previous = this.#cryptoReady;
    // A stop is void once start() ran again meanwhile (the account was disabled and re-enabled).
    const stopped = () => options.stopping === true && this.#loop === null;
    const wanted = () => !stopped() && this.#wantsCrypto;
    return (async () => {
      const current = await previous;
      if (current && wanted()) return current;
      if (current) {
        // Why #crypto stays set while this waits, and why only for a batch that uses this machine:
        // the batch in flight waits for its events to be handled, and a handler that sends reads
        // #crypto or, if it is null, waits for #cryptoReady, which is this step. Clearing #crypto
        // first (as before) made every send of the batch wait for this step while this step waited
        // for the batch: each event stalled until the handler timeout, one after the other, so the
        // account sat at `starting` for minutes, and for good while messages kept coming. A batch
        // that started before this machine opened does not use it, and its handlers may be
        // waiting for this very step, so it is not waited for. stop() waited for its batch already.
        if (!stopped() && this.#batch !== this.#batchBeforeCrypto) await this.#batch;
        if (wanted()) return current; // switched on again meanwhile: keep the machine
        // Sends from now on wait for this step; the status says `off` once the store is saved and closed.
        this.#crypto = null;
        this.#cryptoStatus = current.status;
        await current.close().catch((err: Error) => this.#log.error(err.message));
        if (!stopped()) this.#log.info('end-to-end encryption turned off for this account; its crypto store is kept');
        this.#cryptoStatus = { state: 'off' };
      }
      const settings = this.#cryptoSettings;
      if (!settings || !wanted()) {
        // A stopped account keeps saying why its encryption failed, if it did.
        if (!stopped() || current) this.#cryptoStatus = { state: 'off' };
        return null;
      }
      if (!settings.pickleKey) {
        const error = 'crypto.pickle_key is not set, so encrypted rooms are unreadable for this account; set it (openssl rand -base64 32) or set encryption: false for the client';
        this.#log.error(error);
        this.#cryptoStatus = { state: 'failed', error };
        return null;
      }
      this.#cryptoStatus = { state: 'starting' };
      try {
        // Set even if the record changed meanwhile: the step queued by that change closes it.
        this.#crypto = await BotCrypto.open({
          matrix: this.matrix,
          deviceId: this.#record.deviceId ?? '',
          storeDir: settings.storeDir,
          pickleKey: settings.pickleKey,
          log: this.#log,
          keySharing: () => settings.keySharing?.(this.userId) ?? 'all',
          recoveryHint: `POST /_matrix/maubot/v1/client/auth/${this.#record.homeserver || '<homeserver>'}/login with the bot's username and password`,
        });
        this.#batchBeforeCrypto = this.#batch;
        return this.#crypto;
      } catch (err) {
        const error = err instanceof CryptoStoreError ? err.message : `end-to-end encryption failed to start: ${errorMessage(err)}`;
        this.#log.error(error);
        this.#cryptoStatus = { state: 'failed', error };
        return null;
      }
    })();
  }

  /** Sends a room event, encrypted when the room is. */
  async #send(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
    // Taken before any await, so a handler's sends are numbered in the order it made them.
    const txnId = replayStableTxnId();
    const crypto = this.#crypto ?? (await this.#cryptoReady);
    if (crypto && (await crypto.roomEncryption(roomId))) {
      let encrypted;
      try {
        encrypted = await crypto.encrypt(roomId, type, content);
      } catch (err) {
        // A handler can outlive its batch; if its machine closed meanwhile (encryption switched), use the current one.
        if (!(err instanceof CryptoClosedError)) throw err;
        const current = this.#crypto ?? (await this.#cryptoReady);
        if (!current) throw new Error(`not sending ${type} into encrypted room ${roomId}: encryption was turned off while sending`);
        encrypted = await current.encrypt(roomId, type, content);
      }
      return this.matrix.sendEvent(roomId, 'm.room.encrypted', encrypted, txnId);
    }
    // Never leak plaintext into an encrypted room because E2EE is still starting or failed for this account.
    if (!crypto && this.#wantsCrypto && (await this.matrix.getStateEvent(roomId, 'm.room.encryption'))) {
      const why = 'error' in this.#cryptoStatus && this.#cryptoStatus.error ? this.#cryptoStatus.error : `encryption is ${this.#cryptoStatus.state}`;
      throw new Error(`not sending ${type} into encrypted room ${roomId} unencrypted: ${why}`);
    }
    return this.matrix.sendEvent(roomId, type, content, txnId);
  }

  get #wantsCrypto(): boolean {
    return this.#cryptoSettings !== undefined && this.#record.encryption !== false;
  }

  /** The running crypto when media for this room must be encrypted, else null. */
  async #cryptoForMedia(roomId: string): Promise<BotCrypto | null> {
    const crypto = this.#crypto ?? (await this.#cryptoReady);
    return crypto && (await crypto.roomEncryption(roomId)) ? crypto : null;
  }

  async mediaEncryptedFor(roomId: string): Promise<boolean> {
    return (await this.#cryptoForMedia(roomId)) !== null;
  }

  /** Uploads media for a room: encrypted (returned as `file`) when the room is, plain (`url`) otherwise. */
  async uploadForRoom(roomId: string, data: Uint8Array, options: UploadOptions): Promise<RoomMedia> {
    const crypto = await this.#cryptoForMedia(roomId);
    if (crypto) {
      const encrypted = crypto.encryptAttachment(data);
      const url = await this.matrix.uploadMedia(encrypted.data, { contentType: 'application/octet-stream' });
      return { file: { ...encrypted.file, url } as { [key: string]: JsonValue } };
    }
    return { url: await this.matrix.uploadMedia(data, options) };
  }

  /** Rooms the account marks as direct chats (its m.direct account data), room id → the other user. */
  readonly #directRooms = new Map<string, string>();

  isDirectRoom(roomId: string): boolean {
    return this.#directRooms.has(roomId);
  }

  #setDirect(content: Record<string, unknown>): void {
    this.#directRooms.clear();
    for (const [userId, roomIds] of Object.entries(content)) {
      if (Array.isArray(roomIds)) for (const roomId of roomIds) if (typeof roomId === 'string') this.#directRooms.set(roomId, userId);
    }
  }

  /**
   * The direct chat with a user: the one in m.direct that both are still in,
   * else a new private room, invited and recorded in m.direct (as Element does).
   */
  async openDirectRoom(userId: string): Promise<string> {
    // Before the first sync batch the start-up reading is the only record of rooms and DMs.
    const warm = this.#warmedUp ? await this.#warmedUp : null;
    for (const [roomId, other] of this.#directRooms) {
      if (other !== userId || !(this.joinedRooms.has(roomId) || warm?.rooms.includes(roomId))) continue;
      const members = await this.matrix.joinedMembers(roomId).catch(() => null);
      if (members && members[userId]) return roomId;
      const invited = await this.matrix.getStateEvent(roomId, 'm.room.member', userId).catch(() => null);
      if (invited?.membership === 'invite') return roomId;
    }
    const roomId = await this.matrix.createRoom({ preset: 'trusted_private_chat', is_direct: true, invite: [userId] });
    this.joinedRooms.add(roomId);
    await this.#recordDirect(roomId, userId);
    return roomId;
  }

  async #recordDirect(roomId: string, userId: string): Promise<void> {
    this.#directRooms.set(roomId, userId);
    const content: Record<string, string[]> = {};
    for (const [room, other] of this.#directRooms) (content[other] ??= []).push(room);
    await this.matrix.setAccountData('m.direct', content);
  }

  async #onSync(response: SyncResponse, initial: boolean, crypto: BotCrypto | null): Promise<void> {
    const rooms = response.rooms ?? {};
    for (const event of response.account_data?.events ?? []) if (event.type === 'm.direct') this.#setDirect(event.content);
    if (crypto) {
      for (const [roomId, room] of Object.entries(rooms.join ?? {})) {
        for (const e of [...(room.state?.events ?? []), ...(room.timeline?.events ?? [])]) crypto.noteRoomEvent(roomId, e);
      }
      // To-device events carry the room keys the timeline below needs.
      await crypto.receiveSyncChanges(response);
    }
    const known = new Set(this.joinedRooms);
    for (const roomId of Object.keys(rooms.join ?? {})) this.joinedRooms.add(roomId);
    for (const roomId of Object.keys(rooms.leave ?? {})) this.joinedRooms.delete(roomId);
    for (const [roomId, invite] of Object.entries(rooms.invite ?? {})) {
      const own = invite.invite_state?.events.find((e) => e.type === 'm.room.member' && e.state_key === this.userId);
      await this.#handleInvite(roomId, own?.sender ?? '', own?.content.is_direct === true);
    }
    // The first sync of a new account carries old history: never answer it.
    if (initial) {
      await crypto?.persist();
      return;
    }
    const waits: Array<Promise<unknown>> = [];
    for (const [roomId, room] of Object.entries(rooms.join ?? {})) {
      const timeline = room.timeline?.events ?? [];
      // A room we just joined arrives with history from before our join: start after our own join event.
      const ownJoin = known.has(roomId) ? -1 : timeline.findLastIndex((e) => isOwnJoin(e, this.userId));
      let events = timeline.slice(ownJoin + 1);
      if (room.timeline?.limited && room.timeline.prev_batch && ownJoin === -1) {
        const gap = await this.#fetchGap(roomId, room.timeline.prev_batch);
        for (const e of gap) crypto?.noteRoomEvent(roomId, e);
        events = [...gap, ...events];
      }
      for (const event of events) {
        if (event.sender === this.userId) continue;
        if (await this.#handled(event.event_id)) continue;
        let plain = event;
        if (event.type === 'm.room.encrypted' && crypto) {
          const decrypted = await crypto.decrypt(roomId, event);
          // Undecryptable: kept by the crypto layer and handed back below once its key arrives.
          if (!decrypted) continue;
          plain = decrypted;
        }
        waits.push(this.#deliver(roomId, event.event_id, plain));
      }
    }
    if (crypto) {
      for (const { roomId, event } of await crypto.takeDecryptable()) {
        if (await this.#handled(event.event_id)) continue;
        waits.push(this.#deliver(roomId, event.event_id, event));
      }
    }
    // The token is saved after this returns: wait until each event is handled and recorded, except
    // by an instance that is stuck (it keeps its queue; other instances must not wait for it).
    await Promise.all(waits);
    // Before the sync token is saved: to-device messages (room keys) are never delivered twice.
    await crypto?.persist();
  }

  async #handled(eventId: string): Promise<boolean> {
    if (this.#inFlight.has(eventId)) return true;
    return this.#guard.retry('checking handled events', () => this.#storage.handledEvents.wasHandled(this.userId, eventId));
  }

  /** Queues an event for the instances; resolves once it is handled and recorded, or its instance is stalled. */
  #deliver(roomId: string, eventId: string, event: MatrixEvent): Promise<unknown> {
    this.#inFlight.add(eventId);
    const delivery = this.#sink(this, roomId, event);
    const recorded = delivery.done
      .then(() => this.#guard.retry('recording handled events', () => this.#storage.handledEvents.markHandled(this.userId, eventId)))
      .finally(() => this.#inFlight.delete(eventId));
    // Only reachable at shutdown (the guard gave up): the event is handled again at the next start.
    recorded.catch(() => undefined);
    return delivery.settled.then((how) => (how === 'done' ? recorded : undefined));
  }

  /** The events missing between the last sync and a `limited` timeline, within the catch-up window. */
  async #fetchGap(roomId: string, prevBatch: string): Promise<MatrixEvent[]> {
    const gap = await fetchGap({
      matrix: this.matrix,
      roomId,
      prevBatch,
      window: this.#catchUp,
      isEnd: async (e) => isOwnJoin(e, this.userId) || (e.sender !== this.userId && (await this.#handled(e.event_id))),
    });
    if (gap.skipped > 0) {
      const count = `${gap.skippedIsLowerBound ? 'at least ' : ''}${gap.skipped}`;
      this.#log.warn(
        `skipped ${count} older event(s) in ${roomId} that fall outside the catch-up window (${this.#catchUp.maxEvents} events, ${Math.round(this.#catchUp.maxAgeMs / 3600_000)} h; sync.catch_up in the config); ${gap.events.length} were caught up`,
        { room: roomId, skipped: gap.skipped },
      );
    } else if (gap.events.length > 0) {
      this.#log.info(`caught up ${gap.events.length} event(s) in ${roomId} that arrived faster than one sync could carry`, { room: roomId });
    }
    return gap.events;
  }

  async #handleInvite(roomId: string, inviter: string, isDirect: boolean): Promise<void> {
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
      // A person opening a DM with the bot: remember it as one, so DM-aware plugins see it.
      if (isDirect && inviter && !this.#directRooms.has(roomId)) {
        await this.#recordDirect(roomId, inviter).catch((err: Error) => this.#log.warn(`could not record the DM with ${inviter} in m.direct: ${err.message}`));
      }
    } catch (err) {
      this.#log.warn(`could not join ${roomId} after an invite from ${inviter}: ${errorMessage(err)}`);
    }
  }

  /** Join a room the admin listed for an instance (by id or alias); failures are logged, not thrown. */
  async ensureJoined(roomIdOrAlias: string): Promise<void> {
    if (this.joinedRooms.has(roomIdOrAlias)) return;
    try {
      await this.matrix.joinRoom(roomIdOrAlias);
    } catch (err) {
      this.#log.warn(`could not join configured room ${roomIdOrAlias}: ${errorMessage(err)}`);
    }
  }
}
