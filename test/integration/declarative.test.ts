/**
 * Declarative clients and instances (seed FR-010): declared in the config
 * file with the access token in a secret file, read-only in the API, and
 * reconciled on SIGHUP; an invalid file is refused and the running setup stays.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerUser, sharedOrOwnHomeserver, type HomeserverInfo, type RegisteredUser } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon, type ApiResponse } from '../harness/daemon.ts';

interface ApiInstance {
  id: string;
  state: string;
  managed_by: string;
  config_object: Record<string, unknown>;
}
interface ApiClient {
  id: string;
  managed_by: string;
}

const isReplyTo = (eventId: string) => (ev: TestMatrixEvent) =>
  ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

type Instances = Record<string, Record<string, unknown>>;

describe('declarative clients and instances', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;
  let bot: RegisteredUser;
  let room: string;
  let secretsDir: string;
  /** Every API response body, to prove the access token never leaves the daemon. */
  const responses: string[] = [];

  const api = async <T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> => {
    const res = await daemon.api<T>(method, path, body);
    responses.push(res.text);
    return res;
  };
  const listInstances = async () => (await api<ApiInstance[]>('GET', '/instances')).body;
  const pingAnswer = async (): Promise<string> => {
    const ping = await user.sendText(room, '!ping');
    return String((await user.waitForEvent(room, isReplyTo(ping), 20_000, 'the answer to !ping')).content.body);
  };
  const reload = async (patch: (instances: Instances) => void): Promise<void> => {
    const before = daemon.output.filter((l) => l.includes('configuration reloaded')).length;
    await daemon.editConfig((config) => patch(config.instances as Instances));
    daemon.signal('SIGHUP');
    await daemon.waitFor('the reload to finish', async () => daemon.output.filter((l) => l.includes('configuration reloaded')).length > before);
  };

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    user = await TestUser.create(hs, 'human');
    const localpart = uniqueLocalpart('declbot');
    bot = await registerUser(hs, localpart, `password-${localpart}`);
    room = await user.createRoom({ name: 'declarative', invite: [bot.userId] });
    secretsDir = mkdtempSync(join(tmpdir(), 'trellis-decl-secrets-'));
    const tokenFile = join(secretsDir, 'declbot-access-token');
    writeFileSync(tokenFile, bot.accessToken + '\n', { mode: 0o600 });
    daemon = await TestDaemon.create(hs, (config) => {
      config.clients = { [bot.userId]: { homeserver: 'main', access_token_file: tokenFile } };
      config.instances = { 'decl-ping': { plugin: 'org.trellis.ping', client: bot.userId, rooms: [room], config: { pong_text: 'Declared!' } } };
    });
    await user.waitForMembership(room, bot.userId, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
    await hs?.release();
  });

  it('starts the declared instance, marked as managed by the config file', async () => {
    const running = await daemon.waitFor('decl-ping running', async () => (await listInstances()).find((i) => i.id === 'decl-ping' && i.state === 'running'));
    assert.equal(running.managed_by, 'config');
    const client = (await api<ApiClient>('GET', `/client/${encodeURIComponent(bot.userId)}`)).body;
    assert.equal(client.managed_by, 'config');
    assert.match(await pingAnswer(), /^Declared! \d+ ms$/);
  });

  it('refuses to change or delete a file-managed instance through the API', async () => {
    const put = await api<{ error: string }>('PUT', '/instance/decl-ping', { config: { pong_text: 'Hijacked' } });
    assert.equal(put.status, 403, put.text);
    assert.match(put.body.error, /config file/);
    const del = await api<{ error: string }>('DELETE', '/instance/decl-ping');
    assert.equal(del.status, 403, del.text);
    assert.match(del.body.error, /config file.*SIGHUP/);
    const kept = (await api<ApiInstance>('GET', '/instance/decl-ping')).body;
    assert.equal(kept.config_object.pong_text, 'Declared!');
  });

  it('applies a changed and an added instance on SIGHUP', async () => {
    await reload((instances) => {
      (instances['decl-ping'].config as Record<string, unknown>).pong_text = 'Reloaded!';
      // Another prefix, so both instances can share the bot and the room without answering each other's commands.
      instances['decl-echo'] = { plugin: 'org.trellis.ping', client: bot.userId, rooms: [room], config: { prefix: '?' } };
    });
    assert.match(await pingAnswer(), /^Reloaded! \d+ ms$/);
    const echo = await daemon.waitFor('decl-echo running', async () => (await listInstances()).find((i) => i.id === 'decl-echo' && i.state === 'running'));
    assert.equal(echo.managed_by, 'config');
    const sent = await user.sendText(room, '?echo declared twice');
    assert.equal((await user.waitForEvent(room, isReplyTo(sent), 20_000, 'the answer from decl-echo')).content.body, 'declared twice');
  });

  it('removes an instance deleted from the file on SIGHUP', async () => {
    await reload((instances) => {
      delete instances['decl-echo'];
    });
    assert.deepEqual(
      (await listInstances()).map((i) => i.id),
      ['decl-ping'],
    );
    const ignored = await user.sendText(room, '?echo nobody hears this');
    // The !ping answer after it proves the bot has processed the ?echo message too.
    assert.match(await pingAnswer(), /^Reloaded! \d+ ms$/);
    assert.equal((await user.messages(room)).filter(isReplyTo(ignored)).length, 0, 'the removed instance no longer answers');
  });

  it('refuses an unknown key in an instance entry with an error naming the file and the key, and keeps the instance as it was', async () => {
    await reload((instances) => {
      instances['decl-ping'].config = { pong_text: 'Typo', pong_txt: 'Typo' };
    });
    const line = daemon.output.find((l) => l.includes('instances.decl-ping in'));
    assert.ok(line, 'the refused entry is logged');
    const record = JSON.parse(line) as { level: string; msg: string };
    assert.equal(record.level, 'error');
    assert.equal(record.msg, `instances.decl-ping in ${daemon.configPath} was not applied: config.pong_txt: unknown key`);
    assert.match(await pingAnswer(), /^Reloaded! \d+ ms$/);
    assert.deepEqual((await api<ApiInstance>('GET', '/instance/decl-ping')).body.config_object, { pong_text: 'Reloaded!' });
  });

  it('refuses an invalid config on SIGHUP and keeps the running setup', async () => {
    const errorsBefore = daemon.output.filter((l) => l.includes('reload refused')).length;
    await daemon.editConfig((config) => {
      (config.server as Record<string, unknown>).port = 'abc';
      (config.instances as Instances)['decl-ping'].config = { pong_text: 'Never applied' };
    });
    daemon.signal('SIGHUP');
    const line = await daemon.waitFor('the refused reload in the log', async () => daemon.output.filter((l) => l.includes('reload refused')).slice(errorsBefore)[0]);
    const record = JSON.parse(line) as { level: string; msg: string };
    assert.equal(record.level, 'error');
    assert.match(record.msg, /server\.port/);
    assert.match(await pingAnswer(), /^Reloaded! \d+ ms$/);
    assert.equal((await api<ApiInstance>('GET', '/instance/decl-ping')).body.state, 'running');
  });

  it('never shows the access token in the output or in API responses', async () => {
    for (const path of ['/clients', `/client/${encodeURIComponent(bot.userId)}`, '/instances', '/logs?limit=500', '/notifications']) {
      const res = await api('GET', path);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    assert.ok(!daemon.output.join('\n').includes(bot.accessToken), 'the access token appeared in the daemon output');
    assert.ok(!responses.join('\n').includes(bot.accessToken), 'the access token appeared in an API response');
    assert.ok(responses.length >= 10);
  });
});
