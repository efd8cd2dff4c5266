/**
 * Switching an account's encryption while its sync batch is being handled,
 * with a stand-in homeserver (sync, sends, key endpoints) instead of
 * Synapse. The handlers here answer every message, and the sync waits for
 * them without any timeout: a switch that depends on a handler timing out to
 * make progress hangs these tests instead of passing them slowly.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BotAccount } from '../../src/core/bot-account.ts';
import type { Logger } from '../../src/core/logging.ts';
import { StorageGuard } from '../../src/core/storage-guard.ts';
import { cryptoIndexedDb } from '../../src/matrix/crypto/runtime.ts';
import type { MatrixEvent, SyncResponse } from '../../src/matrix/types.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import type { AccountRecord } from '../../src/storage/clients.ts';

const ROOM = '!room:unit.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Just enough of a homeserver for bots in one unencrypted room: sync batches are handed out as the test queues them. */
class FakeHomeserver {
  readonly #server: Server;
  /** Per bot (by access token), so a long poll a stopped bot left behind cannot take another bot's batch. */
  readonly #batches = new Map<string, SyncResponse[]>();
  readonly #wake = new Map<string, () => void>();
  #next = 1;
  /** Bodies of the room messages the bot sent. */
  readonly sent: string[] = [];
  url = '';

  constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    for (const wake of this.#wake.values()) wake();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  /** The bot's next sync returns one message from someone in the room. */
  queueMessage(bot: AccountRecord, body: string): void {
    const event = { event_id: `$m${this.#next++}`, type: 'm.room.message', sender: '@someone:unit.test', origin_server_ts: Date.now(), content: { msgtype: 'm.text', body } } as MatrixEvent;
    this.#queue(bot.accessToken).push({ next_batch: `s${this.#next++}`, rooms: { join: { [ROOM]: { timeline: { events: [event], limited: false } } } } } as SyncResponse);
    this.#wake.get(bot.accessToken)?.();
  }

  #queue(token: string): SyncResponse[] {
    let queue = this.#batches.get(token);
    if (!queue) this.#batches.set(token, (queue = []));
    return queue;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname.replace('/_matrix/client/v3', '');
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/sync') {
      if (!url.searchParams.get('since')) return reply(200, { next_batch: 's0', rooms: { join: { [ROOM]: { timeline: { events: [], limited: false } } } } });
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const queue = this.#queue(token);
      if (queue.length === 0) {
        const timeout = Number(url.searchParams.get('timeout') ?? 0);
        await Promise.race([new Promise<void>((resolve) => this.#wake.set(token, resolve)), sleep(Math.min(timeout, 1000))]);
      }
      // A poll its bot gave up on (stopped) must not take a batch with it.
      if (res.destroyed) return;
      return reply(200, queue.shift() ?? { next_batch: url.searchParams.get('since') });
    }
    if (path === '/joined_rooms') return reply(200, { joined_rooms: [ROOM] });
    if (path.includes('/send/')) {
      this.sent.push(String((JSON.parse(raw) as { body?: unknown }).body));
      return reply(200, { event_id: `$sent${this.sent.length}` });
    }
    if (path === '/keys/upload') return reply(200, { one_time_key_counts: { signed_curve25519: 50 } });
    if (path === '/keys/query') return reply(200, { device_keys: {}, failures: {} });
    if (path === '/keys/signatures/upload') return reply(200, { failures: {} });
    if (path === '/keys/device_signing/upload') return reply(200, {});
    // Account data, room state (the room is not encrypted), anything else: not there.
    return reply(404, { errcode: 'M_NOT_FOUND', error: 'not found' });
  }
}

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  critical: () => undefined,
  child: () => quiet,
};

let dir: string;
let storage: Storage;
let homeserver: FakeHomeserver;
let bots = 0;

/** A syncing bot whose handler answers every message; `onMessage` runs first, inside the handler. */
async function startBot(onMessage: (client: BotAccount, body: string) => void = () => undefined): Promise<{ client: BotAccount; record: AccountRecord }> {
  const record: AccountRecord = {
    id: `@bot${++bots}:unit.test`,
    homeserver: 'main',
    homeserverUrl: homeserver.url,
    accessToken: `token-${bots}`,
    deviceId: 'DEVICE',
    displayName: null,
    avatarUrl: null,
    syncToken: null,
    autojoin: false,
    autojoinAllow: [],
    enabled: true,
    managedBy: 'api',
    encryption: true,
  };
  await storage.clients.upsert(record);
  const client: BotAccount = new BotAccount({
    record,
    storage,
    log: quiet,
    guard: new StorageGuard(quiet),
    crypto: { storeDir: dir, pickleKey: 'unit-test-pickle-key' },
    sink: (c, roomId, event) => {
      const done = (async () => {
        const body = String(event.content.body);
        onMessage(c, body);
        await c.actions.sendText(roomId, `echo ${body}`);
      })();
      return { done, settled: done.then(() => 'done' as const) };
    },
  });
  client.start();
  await until(() => client.cryptoStatus.state === 'ready', 'crypto ready at start');
  return { client, record };
}

async function until(probe: () => boolean, what: string): Promise<void> {
  for (let i = 0; !probe(); i++) {
    if (i > 600) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

async function storeDatabases(userId: string): Promise<number> {
  return (await cryptoIndexedDb().databases()).filter((d) => d.name?.startsWith(`trellis:${userId}`)).length;
}

describe('switching encryption while a sync batch is being handled', { timeout: 60_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-crypto-switch-'));
    storage = await openStorage({ type: 'sqlite', path: ':memory:' });
    homeserver = new FakeHomeserver();
    await homeserver.start();
  });
  after(async () => {
    await homeserver.stop();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('switching off from inside a handler that then answers: the answer goes out and the switch completes', async () => {
    const { client, record } = await startBot((c, body) => {
      if (body === 'switch off') c.updateRecord({ ...record, encryption: false });
    });
    const identity = (client.cryptoStatus as { ed25519?: string }).ed25519;
    homeserver.queueMessage(record, 'switch off');
    // Before the fix the handler's send waited for the switch, which waited for the batch, which waited for the handler.
    await until(() => homeserver.sent.includes('echo switch off'), 'the answer sent while switching off');
    await until(() => client.cryptoStatus.state === 'off', 'crypto off');
    assert.equal(await storeDatabases(record.id), 0, 'the store was closed and freed');

    client.updateRecord({ ...record, encryption: true });
    await until(() => client.cryptoStatus.state === 'ready', 'crypto ready again');
    assert.equal((client.cryptoStatus as { ed25519?: string }).ed25519, identity, 'the same device and store');
    homeserver.queueMessage(record, 'after');
    await until(() => homeserver.sent.includes('echo after'), 'an answer after switching on again');
    await client.stop();
  });

  test('on and off again while a batch without encryption is handled: neither waits for the other', async () => {
    const { client, record } = await startBot((c, body) => {
      if (body !== 'on and off') return;
      // The batch in flight started with encryption off; the machine opened for the "on" is not its own.
      c.updateRecord({ ...record, encryption: true });
      c.updateRecord({ ...record, encryption: false });
    });
    client.updateRecord({ ...record, encryption: false });
    await until(() => client.cryptoStatus.state === 'off', 'crypto off');
    homeserver.queueMessage(record, 'on and off');
    await until(() => homeserver.sent.includes('echo on and off'), 'the answer while the switch opened and closed the store');
    await until(() => client.cryptoStatus.state === 'off', 'crypto off at the end');
    await client.stop();
    assert.equal(await storeDatabases(record.id), 0);
  });

  test('many toggles, then stop(): everything closes; started again, the same device is ready', async () => {
    const { client, record } = await startBot();
    const identity = (client.cryptoStatus as { ed25519?: string }).ed25519;
    for (let i = 0; i < 10; i++) client.updateRecord({ ...record, encryption: i % 2 === 1 });
    homeserver.queueMessage(record, 'during the toggles');
    await until(() => homeserver.sent.includes('echo during the toggles'), 'an answer during the toggles');
    // The last toggle turned encryption on; stop() also closes what a switch is still opening.
    await client.stop();
    assert.equal(client.cryptoStatus.state, 'off');
    assert.equal(await storeDatabases(record.id), 0, 'no store left open after stop()');

    // Disabled and re-enabled at once: the stop must not close the machine of the restarted sync.
    client.start();
    const stopping = client.stop();
    client.start();
    await stopping;
    await until(() => client.cryptoStatus.state === 'ready', 'crypto ready after the restart');
    assert.equal((client.cryptoStatus as { ed25519?: string }).ed25519, identity);
    assert.equal(await storeDatabases(record.id), 2, 'one store in memory');
    homeserver.queueMessage(record, 'restarted');
    await until(() => homeserver.sent.includes('echo restarted'), 'an answer after the restart');
    await client.stop();
    assert.equal(await storeDatabases(record.id), 0);
  });
});
