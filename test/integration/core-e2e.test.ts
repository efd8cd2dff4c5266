/**
 * The core acceptance, driven the way users drive it: an operator uses the
 * management API of a real daemon process; a person uses a Matrix account on
 * a real Synapse; the bot answers through the homeserver.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistrationToken, sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';

interface ApiClient {
  id: string;
  device_id: string | null;
  displayname: string | null;
  sync_state: string;
}
interface ApiInstance {
  id: string;
  state: string;
  started: boolean;
  last_error: string | null;
  managed_by: string;
  errors_last_hour: number;
}

const isReplyTo = (eventId: string) => (ev: TestMatrixEvent) =>
  ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

describe('platform core through a real homeserver', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;
  let botA: ApiClient;
  let botB: ApiClient;
  let allowedRoom: string;
  let otherRoom: string;
  const botPassword = 'bot-password-' + Math.random().toString(36).slice(2);
  let registrationToken: string;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    registrationToken = await createRegistrationToken({ url: hs.url, adminToken: hs.adminToken } as never, 5);
    daemon = await TestDaemon.create(hs, (config) => {
      const homeservers = config.homeservers as Record<string, Record<string, unknown>>;
      homeservers.main.registration_token = registrationToken;
      homeservers.main.shared_secret = hs.sharedSecret;
    });
    user = await TestUser.create(hs, 'human');
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('registers a bot account with a registration token (m.login.registration_token)', async () => {
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('pingbot'),
      password: botPassword,
      method: 'token',
      displayname: 'Ping Bot',
    });
    assert.equal(res.status, 201, res.text);
    botA = res.body;
    assert.match(botA.id, /^@pingbot/);
    assert.ok(botA.device_id, 'device id is stored');
    assert.equal(botA.displayname, 'Ping Bot');
    const profile = await fetch(`${hs.url}/_matrix/client/v3/profile/${encodeURIComponent(botA.id)}`).then((r) => r.json() as Promise<{ displayname?: string }>);
    assert.equal(profile.displayname, 'Ping Bot', 'display name was set on the homeserver');
  });

  it("registers a bot account with Synapse's shared secret", async () => {
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', { username: uniqueLocalpart('secretbot'), password: botPassword, method: 'shared_secret' });
    assert.equal(res.status, 201, res.text);
    botB = res.body;
    assert.match(botB.id, /^@secretbot/);
  });

  it('refuses a registration with a bad token and explains why', async () => {
    const res = await daemon.api<{ error: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('nobot'),
      password: botPassword,
      method: 'token',
      registration_token: 'not-a-valid-token',
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error, /registration/i);
  });

  it('creates an instance over the API and answers !ping in an allowlisted room', async () => {
    allowedRoom = await user.createRoom({ name: 'allowed', invite: [botA.id] });
    otherRoom = await user.createRoom({ name: 'not allowed', invite: [botA.id] });
    const res = await daemon.api<ApiInstance>('PUT', '/instance/ping-main', { type: 'org.trellis.ping', primary_user: botA.id, rooms: [allowedRoom], config: { pong_text: 'Pong from Trellis!' } });
    assert.equal(res.status, 201, res.text);
    await daemon.waitFor('instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/ping-main')).body.state === 'running');
    await user.waitForMembership(allowedRoom, botA.id, 'join', 20_000);
    await user.waitForMembership(otherRoom, botA.id, 'join', 20_000);

    const ping = await user.sendText(allowedRoom, '!ping');
    const answer = await user.waitForEvent(allowedRoom, isReplyTo(ping), 20_000, 'the answer to !ping');
    assert.equal(answer.sender, botA.id);
    assert.match(String(answer.content.body), /^Pong from Trellis! \d+ ms$/);
    assert.equal(answer.content.msgtype, 'm.notice');

    const echo = await user.sendText(allowedRoom, '!echo hello   world');
    const echoed = await user.waitForEvent(allowedRoom, isReplyTo(echo), 20_000, 'the answer to !echo');
    assert.equal(echoed.content.body, 'hello   world');

    const help = await user.sendText(allowedRoom, '!help');
    const helpAnswer = await user.waitForEvent(allowedRoom, isReplyTo(help), 20_000, 'the answer to !help');
    assert.match(String(helpAnswer.content.body), /!echo <text> — Repeat the text/);
    assert.match(String(helpAnswer.content.body), /!ping — /);

    const usage = await user.sendText(allowedRoom, '!echo');
    const usageAnswer = await user.waitForEvent(allowedRoom, isReplyTo(usage), 20_000, 'the usage hint for !echo');
    assert.match(String(usageAnswer.content.body), /Usage: !echo <text>/);
  });

  it('never sees events from a room outside the allowlist', async () => {
    const ignored = await user.sendText(otherRoom, '!ping');
    // A marker in the allowed room answered after the ignored one proves the bot processed both batches.
    const marker = await user.sendText(allowedRoom, '!echo marker');
    await user.waitForEvent(allowedRoom, isReplyTo(marker), 20_000, 'the marker echo');
    const events = await user.messages(otherRoom);
    assert.equal(events.filter(isReplyTo(ignored)).length, 0, 'no answer in the room outside the allowlist');
    assert.equal(events.filter((e) => e.sender === botA.id && e.type === 'm.room.message').length, 0);
  });

  it('keeps other instances answering when one plugin handler throws', async () => {
    const failingRoom = await user.createRoom({ name: 'failing', invite: [botB.id] });
    await daemon.uploadFixture('faulty');
    const res = await daemon.api('PUT', '/instance/ping-failing', { type: 'org.example.faulty', primary_user: botB.id, rooms: [failingRoom], config: { fail_on: 'ping' } });
    assert.equal(res.status, 201, res.text);
    await user.waitForMembership(failingRoom, botB.id, 'join', 20_000);
    await daemon.waitFor('failing instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/ping-failing')).body.state === 'running');
    await user.sendText(failingRoom, '!ping');
    await daemon.waitFor('the handler error in the log', async () => daemon.output.some((l) => l.includes('ping failed on purpose') && l.includes('"instance":"ping-failing"')));
    const failing = (await daemon.api<ApiInstance>('GET', '/instance/ping-failing')).body;
    assert.equal(failing.state, 'running', 'a throwing handler does not stop its instance');
    assert.ok(failing.errors_last_hour >= 1);
    // The same instance still serves its other command, and the other instance is unaffected.
    const echo = await user.sendText(failingRoom, '!echo still alive');
    assert.equal((await user.waitForEvent(failingRoom, isReplyTo(echo), 20_000, 'echo from the failing instance')).content.body, 'still alive');
    const ping = await user.sendText(allowedRoom, '!ping');
    await user.waitForEvent(allowedRoom, isReplyTo(ping), 20_000, 'ping from the healthy instance');
    const errors = await daemon.api<{ records: Array<{ level: string; instance_id: string; message: string }> }>('GET', '/logs?level=error&instance=ping-failing');
    assert.ok(errors.body.records.some((r) => r.message.includes('ping failed on purpose')));
  });

  it('rejects an invalid instance config with every problem and stores nothing', async () => {
    const res = await daemon.api<{ problems: string[] }>('PUT', '/instance/bad-config', {
      type: 'org.trellis.ping',
      primary_user: botA.id,
      rooms: ['not-a-room'],
      config: { prefix: 42, unknown_key: true },
    });
    assert.equal(res.status, 400);
    assert.ok(
      res.body.problems.some((p) => p.startsWith('config.prefix')),
      res.text,
    );
    assert.ok(
      res.body.problems.some((p) => p.includes('unknown_key')),
      res.text,
    );
    assert.ok(
      res.body.problems.some((p) => p.startsWith('rooms')),
      res.text,
    );
    assert.equal((await daemon.api('GET', '/instance/bad-config')).status, 404);
    const update = await daemon.api<{ problems: string[] }>('PUT', '/instance/ping-main', { config: { pong_text: 5 } });
    assert.equal(update.status, 400);
    const kept = await daemon.api<{ config_object: { pong_text: string } }>('GET', '/instance/ping-main');
    assert.equal(kept.body.config_object.pong_text, 'Pong from Trellis!', 'the old config stays');
  });

  it('rejects invalid plugin archives with a 400 that says why and changes nothing', async () => {
    const before = (await daemon.api<unknown[]>('GET', '/plugins')).body;
    const notZip = await daemon.api<{ error: string }>('POST', '/plugins/upload', undefined, { raw: Buffer.from('this is not a zip file at all') });
    assert.equal(notZip.status, 400);
    assert.match(notZip.body.error, /zip/i);
    const empty = await daemon.api<{ error: string }>('POST', '/plugins/upload', undefined, { raw: Buffer.alloc(0) });
    assert.equal(empty.status, 400);
    assert.deepEqual((await daemon.api<unknown[]>('GET', '/plugins')).body, before);
  });

  it('requires the bearer token and never returns secrets', async () => {
    assert.equal((await daemon.api('GET', '/instances', undefined, { auth: false })).status, 401);
    assert.equal((await daemon.api('GET', '/version', undefined, { auth: false })).status, 200);
    const bad = await daemon.api('POST', '/auth/login', { username: 'admin', password: 'wrong' }, { auth: false });
    assert.equal(bad.status, 401);
    const clients = await daemon.api('GET', '/clients');
    assert.equal(clients.status, 200);
    assert.doesNotMatch(clients.text, /access_token/);
    assert.doesNotMatch(clients.text, /syt_/);
    const openapi = await daemon.api<{ paths: Record<string, unknown> }>('GET', '/openapi.json', undefined, { auth: false });
    assert.ok(openapi.body.paths['/_matrix/maubot/v1/instance/{id}']);
    // Health details and metrics name bots and instances: they need the token (test/integration/security.test.ts).
    const health = await daemon.api<{ status: string; instances: { enabled: number; running: number } }>('GET', '/health');
    assert.equal(health.body.instances.enabled, 2);
    assert.equal(health.body.instances.running, 2);
    const metrics = await daemon.api('GET', '/metrics');
    assert.match(metrics.text, /trellis_events_handled_total\{instance="ping-main"\} \d+/);
  });

  it('answers a message sent while the daemon was down exactly once after restart', async () => {
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0);
    assert.ok(stopped.ms < 10_000, `shutdown took ${stopped.ms} ms`);
    const whileDown = await user.sendText(allowedRoom, '!echo sent while down');
    await daemon.start();
    const answer = await user.waitForEvent(allowedRoom, isReplyTo(whileDown), 30_000, 'the answer to the message sent while down');
    assert.equal(answer.content.body, 'sent while down');
    // Another restart must not answer it again.
    await daemon.restart();
    const marker = await user.sendText(allowedRoom, '!echo after second restart');
    await user.waitForEvent(allowedRoom, isReplyTo(marker), 30_000, 'the marker after the second restart');
    const all = (await user.messages(allowedRoom, 200)).filter(isReplyTo(whileDown));
    assert.equal(all.length, 1, 'answered exactly once');
  });

  it('never answers history from before the bot joined', async () => {
    const room = await user.createRoom({ name: 'history' });
    const old = await user.sendText(room, '!echo old history');
    await daemon.api('PUT', '/instance/ping-main', { rooms: [allowedRoom, room] });
    await user.invite(room, botA.id);
    await user.waitForMembership(room, botA.id, 'join', 20_000);
    const fresh = await user.sendText(room, '!echo fresh');
    await user.waitForEvent(room, isReplyTo(fresh), 20_000, 'the answer to the fresh message');
    const events = await user.messages(room);
    assert.equal(events.filter(isReplyTo(old)).length, 0, 'old history is not answered');
  });

  it('kept every secret out of the daemon output', () => {
    const output = daemon.output.join('\n');
    for (const secret of [botPassword, registrationToken, hs.sharedSecret, 'test-admin-password-123']) {
      assert.ok(!output.includes(secret), 'a secret appeared in the daemon output');
    }
    assert.doesNotMatch(output, /syt_[A-Za-z0-9]/, 'no access token in the output');
  });
});
