/**
 * End-to-end encryption for one bot account: an OlmMachine (Rust crypto,
 * WebAssembly) fed from the sync loop, whose outgoing requests we send with
 * our own HTTP client, the same division of labour as matrix-bot-sdk's
 * RustEngine. Its store lives in an in-memory IndexedDB that is snapshotted
 * to `<data_dir>/crypto/<user>.cryptostore` after every change, so the
 * device, its Olm/Megolm sessions and the tracked users survive restarts.
 */
import { hkdfSync } from 'node:crypto';
import { join } from 'node:path';
import { rename } from 'node:fs/promises';
import type { OlmMachine, OutgoingRequest } from '@matrix-org/matrix-sdk-crypto-wasm';
import type { MatrixClient } from '../client.ts';
import { encodePath } from '../http.ts';
import type { SyncLogger } from '../sync-loop.ts';
import type { MatrixEvent, SyncResponse } from '../types.ts';
import { deleteDatabases, dumpDatabases, readSnapshotFile, restoreDatabases, writeSnapshotFile, type DatabaseDump } from './idb-snapshot.ts';
import type { KeySharing } from './key-sharing.ts';
import { cryptoIndexedDb, loadCryptoRuntime, type CryptoModule } from './runtime.ts';

const CS = '/_matrix/client/v3';
const SNAPSHOT_FORMAT = 1;
/** An undecryptable event waits this long for its room key before it is dropped. */
export const PENDING_DECRYPTION_MS = 10 * 60_000;
/** Encrypting advances the Megolm ratchet; persist soon so a crash cannot reuse a message index. */
const PERSIST_DELAY_MS = 500;

export interface BotCryptoOptions {
  matrix: MatrixClient;
  /** The bot's device (from login/registration); asked from the homeserver when unknown. */
  deviceId: string;
  /** Folder of the store snapshots, `<data_dir>/crypto`. */
  storeDir: string;
  /** `crypto.pickle_key` from the config: the store key of every account is derived from it. */
  pickleKey: string;
  log: SyncLogger;
  /** How to log in a new device, for error messages (e.g. the API call). */
  recoveryHint?: string;
  /** Which devices get the bot's room keys; asked on every share so a config reload applies at once. Default 'all'. */
  keySharing?: () => KeySharing;
}

export interface CryptoStatus {
  state: 'ready';
  device_id: string;
  ed25519: string;
  curve25519: string;
  cross_signing: boolean;
  key_sharing: KeySharing;
  /** Encrypted events waiting for their room key. */
  pending_decryption: number;
}

interface SnapshotFile {
  format: number;
  userId: string;
  deviceId: string;
  ed25519: string;
  curve25519: string;
  savedAt: number;
  databases: DatabaseDump[];
  /** Undecryptable events still waiting for their keys (absent in older snapshots). */
  pending?: PendingEvent[];
}

interface PendingEvent {
  roomId: string;
  event: MatrixEvent;
  since: number;
}

/** The file name of an account's snapshot: user ids contain ':' and '@'. */
export function snapshotFileName(userId: string): string {
  return `${encodeURIComponent(userId)}.cryptostore`;
}

/** A crypto store that cannot be used as it is; the message says what the operator should do. */
export class CryptoStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CryptoStoreError';
  }
}

/**
 * The machine was closed (encryption switched off, or the account stopped)
 * before this operation could run; nothing was done. A sync batch that gets
 * it is handled again, with whatever machine the account has by then.
 */
export class CryptoClosedError extends Error {
  constructor(userId: string) {
    super(`the crypto machine of ${userId} was closed (encryption switched off or the account stopped)`);
    this.name = 'CryptoClosedError';
  }
}

/**
 * The last holder of each account's store in this process: a machine being
 * opened, open, or closing. It resolves once that holder has saved its store
 * and freed it. Each opener waits for the one before: two machines of one
 * device must never run at once (both would write the snapshot file, the
 * older state last, and a restart would then reuse Megolm message indexes).
 * The old code dropped this entry when a machine closed even if it already
 * belonged to the next opener, so a third one, started while the second was
 * open (a client re-created, or stopped and started, while its predecessor
 * was still closing), did not wait: it deleted the live machine's databases,
 * a delete that waits in fake-indexeddb's per-name queue, and every later
 * snapshot of that store queued behind it: its sync batch never ended, the
 * encryption switch waited for that batch, and the account stayed at
 * `starting`.
 */
const storeHolders = new Map<string, Promise<void>>();
/** Waiting longer than this for the previous holder of a store is worth a WARN (it names what is stuck). */
const HOLDER_WAIT_WARN_MS = 10_000;
/** Counts the openings of stores in this process: each gets database names of its own (see #open). */
let storeOpenings = 0;

export class BotCrypto {
  readonly userId: string;
  readonly deviceId: string;
  readonly snapshotPath: string;
  readonly #mod: CryptoModule;
  readonly #machine: OlmMachine;
  readonly #matrix: MatrixClient;
  readonly #log: SyncLogger;
  readonly #storeName: string;
  readonly #keySharing: () => KeySharing;
  #lock: Promise<unknown> = Promise.resolve();
  readonly #roomEncryption = new Map<string, Record<string, unknown> | null>();
  readonly #pending = new Map<string, PendingEvent>();
  #newRoomKeys = false;
  #dirty = false;
  #persistTimer: NodeJS.Timeout | null = null;
  #crossSigning = false;
  /** Set when close() is called: operations asked for afterwards throw CryptoClosedError. */
  #closed = false;
  #closing: Promise<void> | null = null;
  #release: () => void = () => undefined;
  readonly #identity: { ed25519: string; curve25519: string };

  private constructor(mod: CryptoModule, machine: OlmMachine, opts: BotCryptoOptions, deviceId: string, storeName: string, snapshotPath: string) {
    this.#mod = mod;
    this.#machine = machine;
    this.#matrix = opts.matrix;
    this.#log = opts.log;
    this.userId = opts.matrix.userId;
    this.deviceId = deviceId;
    this.#storeName = storeName;
    this.snapshotPath = snapshotPath;
    this.#keySharing = opts.keySharing ?? (() => 'all');
    // Constant for the device; kept so the status can be read also once the machine is freed.
    this.#identity = { ed25519: machine.identityKeys.ed25519.toBase64(), curve25519: machine.identityKeys.curve25519.toBase64() };
    machine.registerRoomKeyUpdatedCallback(async () => {
      this.#newRoomKeys = true;
    });
  }

  /**
   * Restores the account's store (if any), opens the OlmMachine and uploads
   * its keys. Throws CryptoStoreError for states the operator must resolve.
   */
  static async open(opts: BotCryptoOptions): Promise<BotCrypto> {
    const mod = await loadCryptoRuntime();
    const userId = opts.matrix.userId;
    // Queue behind the previous holder synchronously, before anything can interleave (see storeHolders).
    const previous = storeHolders.get(userId);
    let resolveMine!: () => void;
    const mine = new Promise<void>((resolve) => (resolveMine = resolve));
    storeHolders.set(userId, mine);
    const release = () => {
      // Only our own entry: a later opener's entry is what the one after it must wait for.
      if (storeHolders.get(userId) === mine) storeHolders.delete(userId);
      resolveMine();
    };
    try {
      if (previous) await waitForHolder(previous, userId, opts.log);
      const deviceId = opts.deviceId || (await opts.matrix.whoami()).device_id;
      if (!deviceId) throw new CryptoStoreError(`the homeserver did not tell the device id of ${userId}; log the bot in again to get a device${opts.recoveryHint ? ` (${opts.recoveryHint})` : ''}`);
      const crypto = await BotCrypto.#open(mod, opts, deviceId);
      crypto.#release = release;
      return crypto;
    } catch (err) {
      release();
      throw err;
    }
  }

  static async #open(mod: CryptoModule, opts: BotCryptoOptions, deviceId: string): Promise<BotCrypto> {
    const userId = opts.matrix.userId;
    // New database names for every opening (see deleteDatabases in idb-snapshot.ts): nothing an earlier
    // machine of this account left behind (a connection still closing or leaked, a queued delete) can
    // block this one. The snapshot file keeps the names of a single store, `trellis:<user>::…`.
    const storeName = `trellis:${userId}#${++storeOpenings}`;
    const snapshotPath = join(opts.storeDir, snapshotFileName(userId));
    const idb = cryptoIndexedDb();
    const blocked = blockedReporter(userId, opts.log);

    const snapshot = parseSnapshot(await readSnapshotFile(snapshotPath), snapshotPath);
    let restored: SnapshotFile | null = null;
    if (snapshot && snapshot.deviceId === deviceId && snapshot.userId === userId) {
      try {
        await restoreDatabases(
          idb,
          snapshot.databases.map((db) => ({ ...db, name: `${storeName}::${databaseSuffix(db.name)}` })),
        );
      } catch (err) {
        await deleteDatabases(idb, `${storeName}::`, blocked);
        throw err;
      }
      restored = snapshot;
    } else if (snapshot) {
      // The account was logged in again (new device): the old store belongs to a device that no longer exists.
      const aside = `${snapshotPath}.${snapshot.deviceId}.old`;
      await rename(snapshotPath, aside);
      opts.log.info(`crypto store of ${userId} belonged to device ${snapshot.deviceId}; the account now uses device ${deviceId}, starting a new store (old one kept as ${aside})`);
    }

    const key = new Uint8Array(hkdfSync('sha256', opts.pickleKey, 'trellis-crypto-store', userId, 32));
    let machine: OlmMachine;
    try {
      const handle = await mod.StoreHandle.openWithKey(storeName, key);
      try {
        machine = await mod.OlmMachine.initFromStore(new mod.UserId(userId), new mod.DeviceId(deviceId), handle);
      } catch (err) {
        // The handle shares the store with the machine; freed, the machine alone keeps the databases open.
        handle.free();
        await deleteDatabases(idb, `${storeName}::`, blocked);
        throw err;
      }
      handle.free();
    } catch (err) {
      // A failed openWithKey (wrong key) leaves a connection open that is never closed: its databases are
      // not deleted (the delete would never finish), they stay in memory until the process ends.
      throw new CryptoStoreError(
        `cannot open the crypto store of ${userId} (${snapshotPath}): ${errorText(err)}. ` +
          'If crypto.pickle_key was changed, put the old key back; otherwise restore the file from a backup, or move it away and log the bot in again to get a new device',
      );
    }
    const crypto = new BotCrypto(mod, machine, opts, deviceId, storeName, snapshotPath);
    const { ed25519, curve25519 } = crypto.#identity;
    try {
      if (restored && (restored.ed25519 !== ed25519 || restored.curve25519 !== curve25519)) {
        throw new CryptoStoreError(
          `the crypto store of ${userId} (${snapshotPath}) came back with other identity keys than it was saved with; restore the file from a backup or log the bot in again to get a new device`,
        );
      }
      if (!restored) await crypto.#refuseReusedDevice(ed25519, opts.recoveryHint);
      else crypto.#restorePending(restored.pending ?? []);
      await crypto.#exclusive(() => crypto.#sendOutgoing());
      await crypto.#bootstrapCrossSigning();
      crypto.#dirty = true;
      await crypto.persist();
    } catch (err) {
      // Nothing was handed out yet; closing cannot wait for anything but the lock.
      crypto.#closed = true;
      await crypto.#run(async () => {
        machine.close();
        await deleteDatabases(idb, `${storeName}::`, blocked);
      });
      throw err;
    }
    opts.log.info(`end-to-end encryption ready (device ${deviceId}, ${restored ? 'store restored' : 'new store'})`, { ed25519 });
    return crypto;
  }

  /** A store that is gone while the homeserver still has keys for the device: uploading new keys would fail and confuse every peer. */
  async #refuseReusedDevice(ed25519: string, recoveryHint: string | undefined): Promise<void> {
    const res = await this.#matrix.http.request<{ device_keys?: Record<string, Record<string, { keys?: Record<string, string> }>> }>('POST', `${CS}/keys/query`, {
      body: { device_keys: { [this.userId]: [this.deviceId] } },
      retry: true,
    });
    const published = res.device_keys?.[this.userId]?.[this.deviceId]?.keys?.[`ed25519:${this.deviceId}`];
    if (published && published !== ed25519) {
      throw new CryptoStoreError(
        `device ${this.deviceId} of ${this.userId} already has encryption keys on the homeserver, but its crypto store ${this.snapshotPath} is missing; ` +
          `restore that file from a backup, or log the bot in again to get a new device${recoveryHint ? ` (${recoveryHint})` : ''}. Until then the bot cannot read or write encrypted rooms`,
      );
    }
  }

  get status(): CryptoStatus {
    return {
      state: 'ready',
      device_id: this.deviceId,
      ed25519: this.#identity.ed25519,
      curve25519: this.#identity.curve25519,
      cross_signing: this.#crossSigning,
      key_sharing: this.#keySharing(),
      pending_decryption: this.#pending.size,
    };
  }

  /** Remembers a room's encryption from its state/timeline events (m.room.encryption). */
  noteRoomEvent(roomId: string, event: { type: string; state_key?: string; content: Record<string, unknown> }): void {
    if (event.type === 'm.room.encryption' && event.state_key === '' && typeof event.content.algorithm === 'string') {
      this.#roomEncryption.set(roomId, event.content);
    }
  }

  /** The room's m.room.encryption content, or null for an unencrypted room (cached after one lookup). */
  async roomEncryption(roomId: string): Promise<Record<string, unknown> | null> {
    if (this.#roomEncryption.has(roomId)) return this.#roomEncryption.get(roomId) ?? null;
    const content = await this.#matrix.getStateEvent(roomId, 'm.room.encryption');
    const value = content && typeof content.algorithm === 'string' ? content : null;
    // A room can only become encrypted, never the reverse; a later event in sync updates the cache.
    if (!this.#roomEncryption.has(roomId)) this.#roomEncryption.set(roomId, value);
    return this.#roomEncryption.get(roomId) ?? null;
  }

  /** Feeds a sync's to-device events and key counts to the machine; call before handling its timelines. */
  async receiveSyncChanges(sync: SyncResponse): Promise<void> {
    const m = this.#mod;
    const toDevice = sync.to_device?.events ?? [];
    const changed = sync.device_lists?.changed ?? [];
    const left = sync.device_lists?.left ?? [];
    await this.#exclusive(async () => {
      await this.#machine.receiveSyncChanges(
        JSON.stringify(toDevice),
        new m.DeviceLists(
          changed.map((u) => new m.UserId(u)),
          left.map((u) => new m.UserId(u)),
        ),
        new Map(Object.entries(sync.device_one_time_keys_count ?? {})),
        sync.device_unused_fallback_key_types ? new Set(sync.device_unused_fallback_key_types) : undefined,
      );
      if (toDevice.length > 0 || changed.length > 0 || left.length > 0) this.#dirty = true;
      await this.#sendOutgoing();
    });
  }

  /**
   * The plaintext form of an m.room.encrypted event (same id, sender and
   * time; decrypted type and content), or null when its key is missing: the
   * event is then kept and retried by takeDecryptable() as keys arrive.
   */
  async decrypt(roomId: string, event: MatrixEvent): Promise<MatrixEvent | null> {
    if (typeof event.content.ciphertext !== 'string') return null; // redacted
    // The waiting list changes under the lock too, so a close() racing this saves it with the event.
    // A CryptoClosedError is not a missing key: the caller handles the event again with the account's next machine.
    return this.#exclusive(async () => {
      try {
        return await this.#decryptLocked(roomId, event);
      } catch (err) {
        if (!this.#pending.has(event.event_id)) {
          this.#pending.set(event.event_id, { roomId, event, since: Date.now() });
          this.#dirty = true;
          this.#log.warn(`cannot decrypt event ${event.event_id} from ${event.sender} yet (${errorText(err)}); retrying for ${PENDING_DECRYPTION_MS / 60_000} min as room keys arrive`, {
            room: roomId,
            event: event.event_id,
          });
        }
        return null;
      }
    });
  }

  /** Pending events that became decryptable since the last call; events waiting too long are dropped with a WARN. */
  async takeDecryptable(): Promise<Array<{ roomId: string; event: MatrixEvent }>> {
    if (this.#pending.size === 0) return [];
    return this.#exclusive(async () => {
      const ready: Array<{ roomId: string; event: MatrixEvent }> = [];
      const retry = this.#newRoomKeys;
      this.#newRoomKeys = false;
      const now = Date.now();
      for (const [id, pending] of this.#pending) {
        if (retry) {
          try {
            ready.push({ roomId: pending.roomId, event: await this.#decryptLocked(pending.roomId, pending.event) });
            this.#pending.delete(id);
            this.#dirty = true;
            continue;
          } catch {
            // still no key
          }
        }
        if (now - pending.since > PENDING_DECRYPTION_MS) {
          this.#pending.delete(id);
          this.#dirty = true;
          this.#log.warn(`gave up decrypting event ${id} from ${pending.event.sender}: its room key never arrived; the sender's client may not share keys with the bot's device ${this.deviceId}`, {
            room: pending.roomId,
            event: id,
          });
        }
      }
      return ready;
    });
  }

  get pendingDecryption(): number {
    return this.#pending.size;
  }

  /** Events that were waiting for keys when the store was saved; their WARN was logged then, so not again. */
  #restorePending(events: PendingEvent[]): void {
    for (const pending of events) this.#pending.set(pending.event.event_id, pending);
    // Keys may have arrived between the last retry and the save: try once on the first sync.
    if (events.length > 0) this.#newRoomKeys = true;
  }

  /** Only inside #exclusive. */
  async #decryptLocked(roomId: string, event: MatrixEvent): Promise<MatrixEvent> {
    const m = this.#mod;
    const decrypted = await this.#machine.decryptRoomEvent(JSON.stringify(event), new m.RoomId(roomId), new m.DecryptionSettings(m.TrustRequirement.Untrusted));
    const clear = JSON.parse(decrypted.event) as { type?: unknown; content?: unknown };
    if (typeof clear.type !== 'string' || !clear.content || typeof clear.content !== 'object') throw new Error('decrypted payload has no type or content');
    const content = { ...(clear.content as Record<string, unknown>) };
    // Relations travel in the clear part so servers can aggregate them.
    if (content['m.relates_to'] === undefined && event.content['m.relates_to'] !== undefined) content['m.relates_to'] = event.content['m.relates_to'];
    return { ...event, type: clear.type, content };
  }

  /** Shares the room key with every joined member's devices as needed and returns the m.room.encrypted content. */
  async encrypt(roomId: string, type: string, content: Record<string, unknown>): Promise<Record<string, unknown>> {
    const m = this.#mod;
    const encryption = await this.roomEncryption(roomId);
    if (!encryption) throw new Error(`room ${roomId} is not encrypted`);
    const members = Object.keys(await this.#matrix.joinedMembers(roomId));
    return this.#exclusive(async () => {
      const users = () => members.map((u) => new m.UserId(u));
      await this.#machine.updateTrackedUsers(users());
      // Device lists of newly tracked users are queried here, before sessions are claimed.
      await this.#sendOutgoing();
      const claim = await this.#machine.getMissingSessions(users());
      if (claim) await this.#send(claim);
      const settings = new m.EncryptionSettings();
      if (typeof encryption.rotation_period_ms === 'number') settings.rotationPeriod = BigInt(Math.floor(encryption.rotation_period_ms * 1000));
      if (typeof encryption.rotation_period_msgs === 'number') settings.rotationPeriodMessages = BigInt(Math.floor(encryption.rotation_period_msgs));
      // identityBasedStrategy: only devices signed by their owner's cross-signing key, the owner's identity pinned on first use.
      settings.sharingStrategy = this.#keySharing() === 'cross_signed' ? m.CollectStrategy.identityBasedStrategy() : m.CollectStrategy.allDevices();
      let shares: Awaited<ReturnType<OlmMachine['shareRoomKey']>>;
      try {
        shares = await this.#machine.shareRoomKey(new m.RoomId(roomId), users(), settings);
      } catch (err) {
        const hint =
          this.#keySharing() === 'cross_signed'
            ? '; with key_sharing: cross_signed this happens when a member reset their cross-signing identity: set key_sharing: all for this account or ask them to verify again'
            : '';
        throw new Error(`could not share the room key in ${roomId}: ${errorText(err)}${hint}`);
      }
      for (const request of shares) await this.#send(request);
      const encrypted = await this.#machine.encryptRoomEvent(new m.RoomId(roomId), type, JSON.stringify(content));
      this.#dirty = true;
      this.#schedulePersist();
      return JSON.parse(encrypted) as Record<string, unknown>;
    });
  }

  /** Encrypts media for an encrypted room: upload `data`, then send `{ ...file, url }` as `file`. */
  encryptAttachment(data: Uint8Array): { data: Uint8Array; file: Record<string, unknown> } {
    const attachment = this.#mod.Attachment.encrypt(data);
    const info = attachment.mediaEncryptionInfo;
    if (!info) throw new Error('the crypto library returned no media encryption info');
    return { data: attachment.encryptedData, file: JSON.parse(info) as Record<string, unknown> };
  }

  /** Decrypts media of an encrypted event (`content.file`, with or without its url). */
  decryptAttachment(data: Uint8Array, file: Record<string, unknown>): Uint8Array {
    const { url: _url, ...info } = file;
    return this.#mod.Attachment.decrypt(new this.#mod.EncryptedAttachment(data, JSON.stringify(info)));
  }

  /**
   * Writes the store snapshot if anything changed since the last one. Once
   * the machine is closed there is nothing left to save: close() saved it,
   * after every operation that was already waiting for the machine.
   */
  async persist(): Promise<void> {
    if (this.#persistTimer) clearTimeout(this.#persistTimer);
    this.#persistTimer = null;
    if (!this.#dirty || this.#closed) return;
    await this.#exclusive(() => this.#persistNow());
  }

  /** Only inside #exclusive. */
  async #persistNow(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      const snapshot: SnapshotFile = {
        format: SNAPSHOT_FORMAT,
        userId: this.userId,
        deviceId: this.deviceId,
        ed25519: this.#identity.ed25519,
        curve25519: this.#identity.curve25519,
        savedAt: Date.now(),
        // Under the names of a single store, whatever this opening called them (see #open).
        databases: (await dumpDatabases(cryptoIndexedDb(), `${this.#storeName}::`)).map((db) => ({ ...db, name: `trellis:${this.userId}::${databaseSuffix(db.name)}` })),
        pending: [...this.#pending.values()],
      };
      await writeSnapshotFile(this.snapshotPath, snapshot);
    } catch (err) {
      this.#dirty = true;
      throw new Error(`could not save the crypto store of ${this.userId} to ${this.snapshotPath}: ${errorText(err)}; check free space and permissions of the data directory`);
    }
  }

  /**
   * Saves and frees the store; the instance is unusable afterwards. Every
   * operation asked for before runs first and is included in the snapshot
   * (the Megolm ratchet of an encrypt racing the close must not be lost, or
   * the next start would reuse a message index); later ones throw
   * CryptoClosedError. Resolves once the store is released, so the next
   * open of this account can begin; calling it again returns the same wait.
   */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#persistTimer) clearTimeout(this.#persistTimer);
    this.#persistTimer = null;
    this.#closing ??= this.#run(async () => {
      try {
        await this.#persistNow();
      } finally {
        try {
          this.#machine.close();
          await deleteDatabases(cryptoIndexedDb(), `${this.#storeName}::`, blockedReporter(this.userId, this.#log));
        } finally {
          // Always, even if saving or the cleanup failed: the next open of this account's store waits for it.
          this.#release();
        }
      }
    });
    return this.#closing;
  }

  /**
   * Cross-signs the bot's own device so clients do not show it as unverified.
   * Synapse lets an account upload its first cross-signing keys without a
   * password (MSC3967); where a server asks for one we say so and carry on.
   */
  async #bootstrapCrossSigning(): Promise<void> {
    const status = await this.#machine.crossSigningStatus();
    if (status.hasMaster && status.hasSelfSigning) {
      this.#crossSigning = true;
      return;
    }
    const existing = await this.#matrix.http.request<{ master_keys?: Record<string, unknown> }>('POST', `${CS}/keys/query`, { body: { device_keys: { [this.userId]: [] } }, retry: true });
    if (existing.master_keys?.[this.userId]) {
      this.#log.warn(`${this.userId} already has cross-signing keys that this device does not hold; the bot's device stays unverified (reset them from a client that has them, or ignore)`);
      return;
    }
    await this.#exclusive(async () => {
      const requests = await this.#machine.bootstrapCrossSigning(true);
      if (requests.uploadKeysRequest) await this.#send(requests.uploadKeysRequest as OutgoingRequest);
      try {
        await this.#matrix.http.request('POST', `${CS}/keys/device_signing/upload`, { body: JSON.parse(requests.uploadSigningKeysRequest.body) as unknown });
      } catch (err) {
        this.#log.warn(`could not publish cross-signing keys for ${this.userId} (${errorText(err)}); the bot's device will show as unverified`);
        return;
      }
      await this.#matrix.http.request('POST', `${CS}/keys/signatures/upload`, { body: JSON.parse(requests.uploadSignaturesRequest.body) as unknown, retry: true });
      this.#crossSigning = true;
      this.#dirty = true;
    });
  }

  #schedulePersist(): void {
    if (this.#persistTimer || this.#closed) return;
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = null;
      this.persist().catch((err: Error) => this.#log.error(err.message));
    }, PERSIST_DELAY_MS);
    this.#persistTimer.unref();
  }

  /**
   * One crypto operation at a time per account: the machine hands out the
   * same request until it is marked sent. Refused once close() was called.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new CryptoClosedError(this.userId));
    return this.#run(fn);
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #sendOutgoing(): Promise<void> {
    for (const request of await this.#machine.outgoingRequests()) {
      try {
        await this.#send(request);
      } catch (err) {
        // The machine hands the request out again next time; one failure must not block the others.
        this.#log.warn(`E2EE request failed, will retry: ${errorText(err)}`, { requestType: request.type });
      }
    }
  }

  async #send(request: OutgoingRequest): Promise<void> {
    const m = this.#mod;
    const http = this.#matrix.http;
    const body = JSON.parse(request.body) as Record<string, unknown>;
    let response: unknown;
    switch (request.type) {
      case m.RequestType.KeysUpload:
        response = await http.request('POST', `${CS}/keys/upload`, { body });
        break;
      case m.RequestType.KeysQuery:
        response = await http.request('POST', `${CS}/keys/query`, { body, retry: true });
        break;
      case m.RequestType.KeysClaim:
        response = await http.request('POST', `${CS}/keys/claim`, { body });
        break;
      case m.RequestType.ToDevice: {
        const r = request as InstanceType<CryptoModule['ToDeviceRequest']>;
        response = await http.request('PUT', CS + encodePath`/sendToDevice/${r.event_type}/${r.txn_id}`, { body, retry: true });
        break;
      }
      case m.RequestType.SignatureUpload:
        response = await http.request('POST', `${CS}/keys/signatures/upload`, { body, retry: true });
        break;
      case m.RequestType.RoomMessage: {
        const r = request as InstanceType<CryptoModule['RoomMessageRequest']>;
        response = await http.request('PUT', CS + encodePath`/rooms/${r.room_id}/send/${r.event_type}/${r.txn_id}`, { body, retry: true });
        break;
      }
      default:
        // Key backup is not enabled for bots: nothing else should be asked of us.
        return;
    }
    if (request.id) await this.#machine.markRequestAsSent(request.id, request.type, JSON.stringify(response));
    this.#dirty = true;
  }
}

/** The previous holder of a store (see storeHolders), with a WARN naming the account when that takes long. */
async function waitForHolder(previous: Promise<void>, userId: string, log: SyncLogger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log.warn(`still waiting for the previous crypto machine of ${userId} in this process to save and close its store before opening it again`);
      resolve();
    }, HOLDER_WAIT_WARN_MS);
    timer.unref();
  });
  try {
    await Promise.race([previous, slow]);
    await previous;
  } finally {
    clearTimeout(timer);
  }
}

/** `matrix-sdk-crypto` of `trellis:@bot:example.org#3::matrix-sdk-crypto` (user ids may contain `::`, the suffix not). */
function databaseSuffix(name: string): string {
  return name.slice(name.lastIndexOf('::') + 2);
}

/** Says which database a delete left behind: with one holder per store and every operation done before a close, none should be. */
function blockedReporter(userId: string, log: SyncLogger): (name: string) => void {
  return (name) => log.warn(`the crypto database ${name} of ${userId} is still held open in this process; it is deleted once that connection closes (until then it only takes memory)`);
}

function parseSnapshot(data: unknown, path: string): SnapshotFile | null {
  if (data === null) return null;
  const s = data as Partial<SnapshotFile>;
  if (s.format !== SNAPSHOT_FORMAT || typeof s.deviceId !== 'string' || typeof s.userId !== 'string' || !Array.isArray(s.databases)) {
    throw new CryptoStoreError(`${path} is not a Trellis crypto store snapshot (format ${String(s.format)}); restore it from a backup or move it away and log the bot in again`);
  }
  return s as SnapshotFile;
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { description?: unknown; message?: unknown };
    if (typeof e.description === 'string') return e.description;
    if (typeof e.message === 'string') return e.message;
  }
  return String(err);
}
