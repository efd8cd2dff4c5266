/**
 * End-to-end encrypted rooms through a real Synapse: a person with an
 * E2EE-capable client (matrix-js-sdk + Rust crypto) talks to a bot run by
 * the real daemon process; the bot's crypto state survives restarts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createRegistrationToken, sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { uniqueLocalpart } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { Method } from 'matrix-js-sdk';
import { E2eeUser, type DecryptedEvent } from '../harness/e2ee-user.ts';

interface ApiClient {
  id: string;
  device_id: string | null;
  encryption: boolean;
  crypto: { state: string; device_id?: string; ed25519?: string; cross_signing?: boolean; error?: string } | null;
}

const replyTo = (eventId: string) => (ev: DecryptedEvent) =>
  ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

describe('end-to-end encrypted rooms', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let alice: E2eeUser;
  let aliceLaptop: E2eeUser | undefined;
  let bot: ApiClient;
  let room: string;
  let identity: { device: string; ed25519: string };
  const botPassword = 'bot-password-' + Math.random().toString(36).slice(2);
  const snapshot = () => join(daemon.dir, 'data', 'crypto', `${encodeURIComponent(bot.id)}.cryptostore`);
  const botClient = async () => (await daemon.api<ApiClient>('GET', `/client/${encodeURIComponent(bot.id)}`)).body;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    const token = await createRegistrationToken({ url: hs.url, adminToken: hs.adminToken } as never, 2);
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.registration_token = token;
    });
    alice = await E2eeUser.create(hs, 'alice');
  });

  after(async () => {
    alice?.stop();
    aliceLaptop?.stop();
    await daemon?.dispose();
    await hs?.release();
  });

  it('gives a new bot account a device with published keys and a cross-signing identity', async () => {
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', { username: uniqueLocalpart('e2eebot'), password: botPassword, method: 'token' });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    assert.equal(bot.encryption, true, 'encryption is on by default');
    const ready = await daemon.waitFor('crypto ready', async () => {
      const c = await botClient();
      return c.crypto?.state === 'ready' ? c.crypto : undefined;
    });
    assert.equal(ready.device_id, bot.device_id);
    identity = { device: ready.device_id!, ed25519: ready.ed25519! };
    const keys = (await alice.client.getCrypto()!.getUserDeviceInfo([bot.id], true)).get(bot.id);
    assert.equal(keys?.get(identity.device)?.getFingerprint(), identity.ed25519, 'the homeserver publishes the bot device key');
    assert.equal(ready.cross_signing, true, 'cross-signing keys were uploaded');
    const query = (await alice.client.http.authedRequest(Method.Post, '/keys/query', undefined, { device_keys: { [bot.id]: [] } })) as {
      self_signing_keys?: Record<string, { keys: Record<string, string> }>;
      device_keys?: Record<string, Record<string, { signatures?: Record<string, Record<string, string>> }>>;
    };
    const selfSigning = Object.keys(query.self_signing_keys?.[bot.id]?.keys ?? {})[0];
    assert.ok(selfSigning, 'the bot has a self-signing key');
    assert.ok(query.device_keys?.[bot.id]?.[identity.device]?.signatures?.[bot.id]?.[selfSigning], "the bot's device is signed by its self-signing key");
  });

  it('answers !ping in an encrypted room with an encrypted message', async () => {
    room = await alice.createEncryptedRoom([bot.id]);
    const res = await daemon.api('PUT', '/instance/ping-e2ee', { type: 'org.trellis.ping', primary_user: bot.id, rooms: [room] });
    assert.equal(res.status, 201, res.text);
    await alice.waitForJoin(room, bot.id);
    const ping = await alice.sendText(room, '!ping');
    const answer = await alice.waitForEvent(room, replyTo(ping), 30_000, 'the encrypted answer to !ping');
    assert.equal(answer.sender, bot.id);
    assert.equal(answer.wireType, 'm.room.encrypted', 'the answer was encrypted on the wire');
    assert.match(String(answer.content.body), /^Pong! \d+ ms$/);
    assert.ok(existsSync(snapshot()), 'the crypto store was saved under data/crypto');
  });

  it('keeps its device and sessions across a restart and answers what was sent while it was down, once', async () => {
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0, daemon.output.slice(-15).join('\n'));
    const whileDown = await alice.sendText(room, '!echo sent while down');
    await daemon.start();
    const answer = await alice.waitForEvent(room, replyTo(whileDown), 30_000, 'the answer to the message sent while down');
    assert.equal(answer.wireType, 'm.room.encrypted');
    assert.equal(answer.content.body, 'sent while down');
    const after = await botClient();
    assert.equal(after.crypto?.device_id, identity.device, 'same device after restart');
    assert.equal(after.crypto?.ed25519, identity.ed25519, 'same identity key after restart');
    assert.ok(
      daemon.output.some((l) => l.includes('store restored')),
      'the store was restored, not recreated',
    );

    const ping = await alice.sendText(room, '!ping');
    await alice.waitForEvent(room, replyTo(ping), 30_000, 'a new answer after restart');
    const answers = (await alice.events(room)).filter(replyTo(whileDown));
    assert.equal(answers.length, 1, 'answered exactly once');
  });

  it("shares its room key with the user's new device", async () => {
    aliceLaptop = await alice.newDevice(hs.url);
    await aliceLaptop.waitFor(() => aliceLaptop!.client.getRoom(room) !== null, 20_000, 'the room on the new device');
    const echo = await alice.sendText(room, '!echo for every device');
    const onLaptop = await aliceLaptop.waitForEvent(room, replyTo(echo), 30_000, 'the answer decrypted on the second device');
    assert.equal(onLaptop.wireType, 'm.room.encrypted');
    assert.equal(onLaptop.content.body, 'for every device');
  });

  it('keeps answering in unencrypted rooms on the same account', async () => {
    const plain = await alice.createPlainRoom([bot.id]);
    assert.equal((await daemon.api('PUT', '/instance/ping-e2ee', { rooms: [room, plain] })).status, 200);
    await alice.waitForJoin(plain, bot.id);
    const ping = await alice.sendText(plain, '!ping');
    const answer = await alice.waitForEvent(plain, replyTo(ping), 30_000, 'the plaintext answer');
    assert.equal(answer.wireType, 'm.room.message', 'no encryption in an unencrypted room');
  });

  it('reports a lost crypto store with an actionable error instead of reusing the device with new keys', async () => {
    await daemon.stop();
    await rename(snapshot(), `${snapshot()}.moved`);
    await daemon.start();
    const failed = await daemon.waitFor('crypto failed', async () => {
      const c = await botClient();
      return c.crypto?.state === 'failed' ? c.crypto : undefined;
    });
    assert.match(failed.error ?? '', /already has encryption keys on the homeserver/);
    assert.match(failed.error ?? '', /client\/auth\/main\/login/, 'names the recovery command');
    assert.ok(
      daemon.output.some((l) => l.includes('"level":"error"') && l.includes('crypto store')),
      'an ERROR in the log',
    );
    // Putting the backup back restores the bot.
    await daemon.stop();
    await rename(`${snapshot()}.moved`, snapshot());
    await daemon.start();
    await daemon.waitFor('crypto ready again', async () => (await botClient()).crypto?.state === 'ready');
    const ping = await alice.sendText(room, '!ping');
    await alice.waitForEvent(room, replyTo(ping), 30_000, 'an answer after restoring the store');
  });

  it('kept every secret out of the daemon output', () => {
    const output = daemon.output.join('\n');
    assert.ok(!output.includes(botPassword));
    assert.doesNotMatch(output, /syt_[A-Za-z0-9]/);
  });
});
