/**
 * The rest of end-to-end encryption through a real Synapse and the real
 * daemon: encrypted attachments sent by an uploaded plugin, the per-account
 * encryption switch of the API, undecryptable events across a restart, and
 * the key_sharing option (cross-signed devices only).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Method } from 'matrix-js-sdk';
import { createRegistrationToken, sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { uniqueLocalpart } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { E2eeUser, type DecryptedEvent } from '../harness/e2ee-user.ts';
import { buildPlugin } from '../../src/plugin-package/build.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/plugins/filer');
// The image the plugin embeds: read from its source so the two cannot drift apart.
const PNG = Buffer.from(/IMAGE_PNG_BASE64 =\s*'([^']+)'/.exec(readFileSync(join(FIXTURE, 'index.ts'), 'utf8'))![1]!, 'base64');

interface ApiClient {
  id: string;
  device_id: string | null;
  encryption: boolean;
  last_sync_at: number | null;
  crypto: { state: string; device_id?: string; ed25519?: string; key_sharing?: string; pending_decryption?: number; error?: string } | null;
}

interface EncryptedFile {
  url: string;
  key: { kty: string; alg: string; k: string; key_ops: string[]; ext: boolean };
  iv: string;
  hashes: { sha256: string };
  v: string;
}

/** The spec's encrypted attachment format (v2): AES-256-CTR, key as JWK, SHA-256 of the ciphertext. */
function decryptAttachment(ciphertext: Uint8Array, file: EncryptedFile): Buffer {
  assert.equal(file.v, 'v2');
  assert.equal(file.key.alg, 'A256CTR');
  const hash = createHash('sha256').update(ciphertext).digest('base64').replace(/=+$/, '');
  assert.equal(hash, file.hashes.sha256.replace(/=+$/, ''), 'the ciphertext matches its SHA-256');
  const key = Buffer.from(file.key.k, 'base64url');
  const iv = Buffer.from(file.iv, 'base64');
  assert.equal(key.length, 32);
  assert.equal(iv.length, 16);
  const decipher = createDecipheriv('aes-256-ctr', key, iv);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

const fromBot = (botId: string, pred: (ev: DecryptedEvent) => boolean) => (ev: DecryptedEvent) => ev.sender === botId && pred(ev);
const isImage = (ev: DecryptedEvent) => ev.type === 'm.room.message' && ev.content.msgtype === 'm.image';
const replyTo = (eventId: string) => (ev: DecryptedEvent) =>
  ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

describe('end-to-end encryption: media, the encryption switch, pending events, key sharing', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let workDir: string;
  let alice: E2eeUser;
  const others: E2eeUser[] = [];
  let bot: ApiClient;
  let encrypted: string;
  let plain: string;
  const clientPath = (id: string) => `/client/${encodeURIComponent(id)}`;
  const getClient = async (id: string) => (await daemon.api<ApiClient>('GET', clientPath(id))).body;
  const snapshotOf = (id: string) => join(daemon.dir, 'data', 'crypto', `${encodeURIComponent(id)}.cryptostore`);
  const cryptoState = (id: string, state: string) =>
    daemon.waitFor(`crypto ${state} for ${id}`, async () => {
      const c = await getClient(id);
      return c.crypto?.state === state ? c : undefined;
    });

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    workDir = mkdtempSync(join(tmpdir(), 'trellis-e2ee-media-'));
    const token = await createRegistrationToken({ url: hs.url, adminToken: hs.adminToken } as never, 3);
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.registration_token = token;
    });
    alice = await E2eeUser.create(hs, 'alice');
    const built = await buildPlugin(FIXTURE, { outFile: join(workDir, 'filer.zip') });
    const upload = await daemon.api('POST', '/plugins/upload', undefined, { raw: readFileSync(built.file) });
    assert.equal(upload.status, 201, upload.text);
  });

  after(async () => {
    alice?.stop();
    for (const u of others) u.stop();
    await daemon?.dispose();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    await hs?.release();
  });

  it('posts an image from a plugin as an encrypted attachment in an encrypted room, and as url in a plain one', async () => {
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', { username: uniqueLocalpart('filerbot'), password: 'pw-' + randomBytes(8).toString('hex') });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    await cryptoState(bot.id, 'ready');
    encrypted = await alice.createEncryptedRoom([bot.id]);
    plain = await alice.createPlainRoom([bot.id]);
    const put = await daemon.api('PUT', '/instance/filer-1', { type: 'org.example.filer', primary_user: bot.id, rooms: [encrypted, plain] });
    assert.equal(put.status, 201, put.text);
    await alice.waitForJoin(encrypted, bot.id);
    await alice.waitForJoin(plain, bot.id);

    await alice.sendText(encrypted, '!image');
    const image = await alice.waitForEvent(encrypted, fromBot(bot.id, isImage), 30_000, 'the encrypted image');
    assert.equal(image.wireType, 'm.room.encrypted', 'the image message itself is encrypted');
    assert.equal(image.content.url, undefined, 'no plaintext url in an encrypted room');
    const file = image.content.file as EncryptedFile;
    assert.match(file.url, /^mxc:\/\//);
    assert.deepEqual((image.content.info as Record<string, unknown>).mimetype, 'image/png');
    assert.equal((image.content.info as Record<string, unknown>).size, PNG.length);
    const ciphertext = await alice.download(file.url);
    assert.equal(ciphertext.length, PNG.length);
    assert.notDeepEqual(Buffer.from(ciphertext), PNG, 'the homeserver only has the ciphertext');
    assert.deepEqual(decryptAttachment(ciphertext, file), PNG, 'decrypts to the original bytes');

    await alice.sendText(plain, '!image');
    const plainImage = await alice.waitForEvent(plain, fromBot(bot.id, isImage), 30_000, 'the plain image');
    assert.equal(plainImage.wireType, 'm.room.message');
    assert.equal(plainImage.content.file, undefined);
    assert.match(String(plainImage.content.url), /^mxc:\/\//);
    assert.deepEqual(Buffer.from(await alice.download(String(plainImage.content.url))), PNG);
  });

  it('registers an account with encryption off: no crypto at all for it', async () => {
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('plainbot'),
      password: 'pw-' + randomBytes(8).toString('hex'),
      encryption: false,
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.encryption, false);
    await daemon.waitFor('plainbot syncing', async () => (await getClient(res.body.id)).last_sync_at !== null || undefined);
    const after = await getClient(res.body.id);
    assert.equal(after.encryption, false);
    assert.equal(after.crypto?.state, 'off');
    assert.ok(!existsSync(snapshotOf(res.body.id)), 'no crypto store was created');
    assert.ok(!daemon.output.some((l) => l.includes(res.body.id) && l.includes('end-to-end encryption ready')), 'no OlmMachine was started');
    const bad = await daemon.api('PUT', clientPath(res.body.id), { encryption: 'yes' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /encryption: must be true or false/);
  });

  it('turns encryption off and on over the API without a restart, keeping the device', async () => {
    const before = await getClient(bot.id);
    const off = await daemon.api<ApiClient>('PUT', clientPath(bot.id), { encryption: false });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.body.encryption, false);
    await cryptoState(bot.id, 'off');
    assert.ok(daemon.output.some((l) => l.includes('end-to-end encryption turned off')));
    // Plain rooms keep working with crypto off.
    const count = (await alice.events(plain)).filter(fromBot(bot.id, isImage)).length;
    await alice.sendText(plain, '!image');
    await alice.waitFor(async () => (await alice.events(plain)).filter(fromBot(bot.id, isImage)).length > count, 30_000, 'a plain image while encryption is off');

    const on = await daemon.api<ApiClient>('PUT', clientPath(bot.id), { encryption: true });
    assert.equal(on.status, 200, on.text);
    assert.equal(on.body.encryption, true);
    const ready = await cryptoState(bot.id, 'ready');
    assert.equal(ready.crypto?.device_id, before.crypto?.device_id, 'same device');
    assert.equal(ready.crypto?.ed25519, before.crypto?.ed25519, 'same identity key: the store was reopened');
    const images = (await alice.events(encrypted)).filter(fromBot(bot.id, isImage)).length;
    await alice.sendText(encrypted, '!image');
    await alice.waitFor(async () => (await alice.events(encrypted)).filter(fromBot(bot.id, isImage)).length > images, 30_000, 'an encrypted image after turning encryption on again');
    assert.equal(daemon.output.filter((l) => l.includes('listening on')).length, 1, 'the daemon was not restarted');
  });

  it('keeps an undecryptable event across a restart and warns about it once', async () => {
    const keys = await alice.client.getCrypto()!.getOwnDeviceKeys();
    // A Megolm message of a session nobody ever shared: its key can never arrive.
    const content = {
      algorithm: 'm.megolm.v1.aes-sha2',
      sender_key: keys.curve25519,
      device_id: alice.deviceId,
      session_id: randomBytes(32).toString('base64').replace(/=+$/, ''),
      ciphertext: randomBytes(96).toString('base64').replace(/=+$/, ''),
    };
    const sent = (await alice.client.http.authedRequest(Method.Put, `/rooms/${encodeURIComponent(encrypted)}/send/m.room.encrypted/${randomBytes(8).toString('hex')}`, undefined, content)) as {
      event_id: string;
    };
    const warned = (l: string) => l.includes('"level":"warn"') && l.includes(`cannot decrypt event ${sent.event_id}`);
    await daemon.waitFor('the WARN about the undecryptable event', async () => daemon.output.some(warned) || undefined);
    assert.ok(((await getClient(bot.id)).crypto?.pending_decryption ?? 0) >= 1);

    await daemon.restart();
    const ready = await cryptoState(bot.id, 'ready');
    assert.ok((ready.crypto?.pending_decryption ?? 0) >= 1, 'still waiting for its key after the restart');
    // A sync after the restart retried it (and failed again) without a second WARN.
    const images = (await alice.events(encrypted)).filter(fromBot(bot.id, isImage)).length;
    await alice.sendText(encrypted, '!image');
    await alice.waitFor(async () => (await alice.events(encrypted)).filter(fromBot(bot.id, isImage)).length > images, 30_000, 'the bot answering after the restart');
    assert.equal(daemon.output.filter(warned).length, 1, 'warned once, not again after the restart');
  });

  it('with key_sharing: cross_signed, shares room keys only with devices their owner signed', async () => {
    const carol = await E2eeUser.create(hs, 'carol');
    others.push(carol);
    await carol.bootstrapCrossSigning();
    await daemon.editConfig((config) => {
      (config.crypto as Record<string, unknown>).key_sharing = 'cross_signed';
    });
    const reloads = daemon.output.filter((l) => l.includes('configuration reloaded')).length;
    daemon.signal('SIGHUP');
    await daemon.waitFor('config reloaded', async () => daemon.output.filter((l) => l.includes('configuration reloaded')).length > reloads || undefined);
    assert.equal((await getClient(bot.id)).crypto?.key_sharing, 'cross_signed');

    const room = await carol.createEncryptedRoom([bot.id], 'cross-signed only');
    assert.equal((await daemon.api('PUT', '/instance/echo-cs', { type: 'org.trellis.ping', primary_user: bot.id, rooms: [room] })).status, 201);
    await carol.waitForJoin(room, bot.id);
    const laptop = await carol.newDevice(hs.url);
    others.push(laptop);
    await laptop.waitFor(() => laptop.client.getRoom(room) !== null, 20_000, 'the room on the new device');

    const first = await carol.sendText(room, '!echo for signed devices');
    const answer = await carol.waitForEvent(room, replyTo(first), 30_000, 'the answer on the cross-signed device');
    assert.equal(answer.wireType, 'm.room.encrypted');
    assert.equal(answer.content.body, 'for signed devices');
    const onLaptop = await laptop.waitForEvent(
      room,
      (ev) => ev.eventId === answer.eventId && ev.failureReason !== null && /WITHHELD/.test(ev.failureReason),
      20_000,
      'the key withheld from the unsigned device',
    );
    assert.equal(onLaptop.decryptionFailure, true, 'the unsigned new device cannot read it');
    assert.notEqual(onLaptop.content.body, 'for signed devices');

    // The same device gets keys once the option is back to the default: the difference is the setting.
    await daemon.editConfig((config) => {
      (config.crypto as Record<string, unknown>).key_sharing = 'all';
    });
    const again = daemon.output.filter((l) => l.includes('configuration reloaded')).length;
    daemon.signal('SIGHUP');
    await daemon.waitFor('config reloaded', async () => daemon.output.filter((l) => l.includes('configuration reloaded')).length > again || undefined);
    const second = await carol.sendText(room, '!echo for every device');
    const shared = await laptop.waitForEvent(room, replyTo(second), 30_000, 'the answer on the unsigned device with key_sharing: all');
    assert.equal(shared.content.body, 'for every device');
  });
});
