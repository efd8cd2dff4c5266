/**
 * A person with an end-to-end-encryption-capable Matrix client: matrix-js-sdk
 * with its Rust crypto (in memory), independent of our own crypto code so a
 * bug there cannot hide itself on both sides of the conversation.
 */
import { ClientEvent, createClient, MsgType, type MatrixClient, type MatrixEvent } from 'matrix-js-sdk';
import { logger as sdkRootLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';
import { loginUser, registerUser } from './synapse.ts';
import { uniqueLocalpart } from './matrix-user.ts';

// The SDK logs every sync and key request; tests only want its errors. Its child
// loggers copy the root's method factory when created, so this covers them too.
type MethodFactory = (method: string, level: number, name: unknown) => (...msg: unknown[]) => void;
const root = sdkRootLogger as unknown as { methodFactory: MethodFactory; setLevel(level: string, persist?: boolean): void };
const originalFactory = root.methodFactory;
root.methodFactory = (method, level, name) => (method === 'error' ? originalFactory(method, level, name) : () => undefined);
root.setLevel('debug', false);
const quiet: Logger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (...msg: unknown[]) => console.error('[matrix-js-sdk]', ...msg),
  getChild: () => quiet,
};

export interface DecryptedEvent {
  eventId: string;
  sender: string;
  /** The type on the wire (m.room.encrypted for encrypted events). */
  wireType: string;
  type: string;
  content: Record<string, unknown>;
  /** The event is encrypted and this device has no key for it. */
  decryptionFailure: boolean;
  /** Why it could not be decrypted (matrix-js-sdk DecryptionFailureCode), e.g. MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE. */
  failureReason: string | null;
}

export class E2eeUser {
  readonly userId: string;
  readonly password: string;
  readonly client: MatrixClient;
  readonly deviceId: string;

  private constructor(client: MatrixClient, userId: string, password: string, deviceId: string) {
    this.client = client;
    this.userId = userId;
    this.password = password;
    this.deviceId = deviceId;
  }

  static async create(hs: { url: string; sharedSecret: string }, prefix = 'alice'): Promise<E2eeUser> {
    const localpart = uniqueLocalpart(prefix);
    const password = `password-${localpart}`;
    const creds = await registerUser(hs, localpart, password);
    return E2eeUser.#start(hs.url, creds, password);
  }

  /** Another device of the same account (a fresh login). */
  async newDevice(hsUrl: string): Promise<E2eeUser> {
    return E2eeUser.#start(hsUrl, await loginUser(hsUrl, this.userId, this.password), this.password);
  }

  static async #start(url: string, creds: { userId: string; accessToken: string; deviceId: string }, password: string): Promise<E2eeUser> {
    const client = createClient({ baseUrl: url, userId: creds.userId, accessToken: creds.accessToken, deviceId: creds.deviceId, logger: quiet });
    await client.initRustCrypto({ useIndexedDB: false });
    const ready = new Promise<void>((resolve) => {
      const onSync = (state: string) => {
        if (state === 'PREPARED' || state === 'SYNCING') {
          client.off(ClientEvent.Sync, onSync);
          resolve();
        }
      };
      client.on(ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: 20 });
    await ready;
    return new E2eeUser(client, creds.userId, password, creds.deviceId);
  }

  async createEncryptedRoom(invite: string[] = [], name = 'encrypted'): Promise<string> {
    const { room_id: roomId } = await this.client.createRoom({
      name,
      invite,
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await this.waitFor(() => this.client.getRoom(roomId)?.hasEncryptionStateEvent() === true, 20_000, `room ${roomId} to be known as encrypted`);
    return roomId;
  }

  async createPlainRoom(invite: string[] = [], name = 'plain'): Promise<string> {
    const { room_id: roomId } = await this.client.createRoom({ name, invite });
    await this.waitFor(() => this.client.getRoom(roomId) !== null, 20_000, `room ${roomId} in sync`);
    return roomId;
  }

  /** Waits until this client's own sync shows the member joined, so its room key is shared with them. */
  async waitForJoin(roomId: string, userId: string, timeoutMs = 30_000): Promise<void> {
    await this.waitFor(() => this.client.getRoom(roomId)?.getMember(userId)?.membership === 'join', timeoutMs, `${userId} to join ${roomId}`);
  }

  async sendText(roomId: string, body: string): Promise<string> {
    const res = await this.client.sendMessage(roomId, { msgtype: MsgType.Text, body });
    return res.event_id;
  }

  /** Every timeline event of the room, decrypted where possible. */
  async events(roomId: string): Promise<DecryptedEvent[]> {
    const room = this.client.getRoom(roomId);
    if (!room) return [];
    const out: DecryptedEvent[] = [];
    for (const ev of room.getLiveTimeline().getEvents()) {
      if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) await this.client.decryptEventIfNeeded(ev);
      out.push(toDecrypted(ev));
    }
    return out;
  }

  async waitForEvent(roomId: string, match: (ev: DecryptedEvent) => boolean, timeoutMs: number, what: string): Promise<DecryptedEvent> {
    let found: DecryptedEvent | undefined;
    await this.waitFor(async () => (found = (await this.events(roomId)).find(match)) !== undefined, timeoutMs, what);
    return found!;
  }

  async waitFor(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** Downloads (authenticated media) and returns the raw bytes. */
  async download(mxc: string): Promise<Uint8Array> {
    const match = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
    if (!match) throw new Error(`not an mxc URI: ${mxc}`);
    const res = await fetch(`${this.client.baseUrl}/_matrix/client/v1/media/download/${match[1]}/${match[2]}`, {
      headers: { authorization: `Bearer ${this.client.getAccessToken()}` },
    });
    if (!res.ok) throw new Error(`download of ${mxc} failed: ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Publishes cross-signing keys and signs this device with them (so it counts as "cross-signed" for others). */
  async bootstrapCrossSigning(): Promise<void> {
    const crypto = this.client.getCrypto()!;
    await crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        await makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: this.userId }, password: this.password });
      },
    });
    const status = await crypto.getDeviceVerificationStatus(this.userId, this.deviceId);
    if (!status?.signedByOwner) throw new Error(`device ${this.deviceId} of ${this.userId} is not signed by its own cross-signing key after bootstrap`);
  }

  stop(): void {
    this.client.stopClient();
  }
}

function toDecrypted(ev: MatrixEvent): DecryptedEvent {
  return {
    eventId: ev.getId() ?? '',
    sender: ev.getSender() ?? '',
    wireType: ev.getWireType(),
    type: ev.getType(),
    content: ev.getContent() as Record<string, unknown>,
    decryptionFailure: ev.isDecryptionFailure(),
    failureReason: ev.decryptionFailureReason,
  };
}
