/**
 * maubot's management API shapes and errcodes through the real daemon and a
 * real Synapse: every maubot field of plugins, instances and clients with
 * its type, the errcodes maubot's clients read, the routes its web app calls
 * (media proxy, clearcache, database browser) and the default room
 * allowlist of an instance created the maubot way (no `rooms`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlugin } from '../../src/plugin-package/build.ts';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { FIXTURE_PLUGINS, TestDaemon } from '../harness/daemon.ts';

type Json = Record<string, unknown>;
interface ApiError {
  errcode: string;
  error: string;
}

const INSTANCE_FIELDS: Record<string, string[]> = {
  id: ['string'],
  type: ['string'],
  enabled: ['boolean'],
  started: ['boolean'],
  primary_user: ['string'],
  config: ['string'],
  base_config: ['string', 'null'],
  database: ['boolean'],
  database_interface: ['string', 'null'],
  database_engine: ['string', 'null'],
};
const PLUGIN_FIELDS: Record<string, string[]> = { id: ['string'], version: ['string'], instances: ['array'], path: ['string'] };
const CLIENT_FIELDS: Record<string, string[]> = {
  id: ['string'],
  homeserver: ['string'],
  device_id: ['string', 'null'],
  fingerprint: ['string', 'null'],
  enabled: ['boolean'],
  started: ['boolean'],
  sync: ['boolean'],
  sync_ok: ['boolean'],
  autojoin: ['boolean'],
  online: ['boolean'],
  displayname: ['string'],
  avatar_url: ['string'],
  remote_displayname: ['string', 'null'],
  remote_avatar_url: ['string', 'null'],
  instances: ['array'],
  trust_state: ['string', 'null'],
};

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every maubot field is there with maubot's type. */
function assertShape(what: string, object: Json, fields: Record<string, string[]>): void {
  for (const [field, types] of Object.entries(fields)) {
    assert.ok(field in object, `${what} has ${field}`);
    assert.ok(types.includes(kind(object[field])), `${what}.${field} is ${types.join(' or ')}, got ${kind(object[field])}`);
  }
}

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

async function helloArchive(): Promise<Buffer> {
  const work = await mkdtemp(join(tmpdir(), 'trellis-mbapi-'));
  try {
    const built = await buildPlugin(join(FIXTURE_PLUGINS, 'hello'), { outFile: join(work, 'hello.zip') });
    return await readFile(built.file);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe("maubot's object shapes, errcodes and routes", () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let bot: TestUser;
  let human: TestUser;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs);
    bot = await TestUser.create(hs, 'mbbot');
    human = await TestUser.create(hs, 'mbhuman');
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('client create: maubot errcodes, nothing saved on a mismatch, then 201 and 409 user_exists', async () => {
    const bad = await daemon.api<ApiError>('POST', '/client/new', { homeserver: hs.url, access_token: 'syt_not_a_token' });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.errcode, 'bad_client_access_token');
    const unknown = await daemon.api<ApiError>('POST', '/client/new', { homeserver: 'nowhere', access_token: bot.accessToken });
    assert.equal(unknown.status, 400, unknown.text);
    assert.equal(unknown.body.errcode, 'bad_client_access_details');
    const down = await daemon.api<ApiError>('POST', '/client/new', { homeserver: 'http://127.0.0.1:9', access_token: bot.accessToken });
    assert.equal(down.status, 400, down.text);
    assert.equal(down.body.errcode, 'bad_client_connection_details');

    const mismatch = await daemon.api<ApiError>('PUT', `/client/${encodeURIComponent('@someone:else')}`, { homeserver: hs.url, access_token: bot.accessToken });
    assert.equal(mismatch.status, 400, mismatch.text);
    assert.equal(mismatch.body.errcode, 'mxid_mismatch');
    const notSaved = await daemon.api<ApiError>('GET', `/client/${encodeURIComponent(bot.userId)}`);
    assert.equal(notSaved.status, 404, 'a mismatching token saves nothing');
    assert.equal(notSaved.body.errcode, 'client_not_found');

    const created = await daemon.api<Json>('POST', '/client/new', { homeserver: hs.url, access_token: bot.accessToken, device_id: bot.deviceId, sync: true, online: true });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.id, bot.userId);
    assert.ok(!created.text.includes(bot.accessToken), 'the access token is never returned');
    const again = await daemon.api<ApiError>('POST', '/client/new', { homeserver: hs.url, access_token: bot.accessToken });
    assert.equal(again.status, 409, again.text);
    assert.equal(again.body.errcode, 'user_exists');
  });

  it("client: maubot's fields and types; PUT with the web app's whole body (disable, null avatar, started false → true)", async () => {
    const path = `/client/${encodeURIComponent(bot.userId)}`;
    const client = await daemon.waitFor('the bot syncing', async () => {
      const c = (await daemon.api<Json>('GET', path)).body;
      return c.sync_ok === true && c.fingerprint !== null ? c : undefined;
    });
    assertShape('client', client, CLIENT_FIELDS);
    assert.ok(!('access_token' in client));
    assert.equal(client.displayname, 'disable', 'an unmanaged display name is "disable"');
    assert.match(String(client.fingerprint), /^\S{4}( \S{1,4})+$/);

    // What maubot's web app sends on Save: the whole object back, with its empty access token field.
    const full = { ...client, access_token: '', displayname: 'disable', avatar_url: null, started: false, verifying: false };
    const stopped = await daemon.api<Json>('PUT', path, full);
    assert.equal(stopped.status, 200, stopped.text);
    assert.equal(stopped.body.started, false);
    assert.equal(stopped.body.enabled, true, 'started does not change enabled');
    assert.equal(stopped.body.displayname, 'disable');
    const startedAgain = await daemon.api<Json>('PUT', path, { ...full, started: true, displayname: 'Maubot Style', avatar_url: 'disable' });
    assert.equal(startedAgain.status, 200, startedAgain.text);
    assert.equal(startedAgain.body.started, true);
    assert.equal(startedAgain.body.displayname, 'Maubot Style');
    assert.equal(startedAgain.body.avatar_url, 'disable');
    assert.equal(startedAgain.body.remote_displayname, 'Maubot Style', "the homeserver's profile");
    const profile = await human.request<{ displayname?: string }>('GET', `/_matrix/client/v3/profile/${encodeURIComponent(bot.userId)}`);
    assert.equal(profile.displayname, 'Maubot Style');
  });

  it("media proxy: avatar upload and download with the bot's token, nothing else passed on", async () => {
    const base = `/proxy/${encodeURIComponent(bot.userId)}`;
    const up = await daemon.api<{ content_uri: string }>('POST', `${base}/_matrix/media/v3/upload?filename=avatar.png`, undefined, { raw: PNG, contentType: 'image/png' });
    assert.equal(up.status, 200, up.text);
    assert.match(up.body.content_uri, /^mxc:\/\//);
    assert.ok(!up.text.includes(bot.accessToken));
    const set = await daemon.api<Json>('PUT', `/client/${encodeURIComponent(bot.userId)}`, { avatar_url: up.body.content_uri });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.avatar_url, up.body.content_uri);

    const [server, media] = up.body.content_uri.slice('mxc://'.length).split('/');
    const down = await fetch(`${daemon.url}/_matrix/maubot/v1${base}/_matrix/client/v1/media/download/${server}/${media}`, { headers: { authorization: `Bearer ${await daemon.login()}` } });
    assert.equal(down.status, 200);
    assert.deepEqual(Buffer.from(await down.arrayBuffer()), PNG, 'downloaded with the bot token (authenticated media)');
    assert.match(down.headers.get('content-security-policy') ?? '', /sandbox/);
    // maubot's web app shows avatars with <img src="…?access_token=<its token>">: that token is not passed on.
    const img = await fetch(`${daemon.url}/_matrix/maubot/v1${base}/_matrix/client/v1/media/thumbnail/${server}/${media}?width=64&height=64&access_token=${await daemon.login()}`);
    assert.equal(img.status, 200, await img.clone().text());
    assert.match(img.headers.get('content-type') ?? '', /^image\//);

    const refused = await daemon.api<ApiError>('GET', `${base}/_matrix/media/v3/upload/x/y`);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.errcode, 'proxy_path_not_allowed');
    const sync = await daemon.api('GET', `${base}/_matrix/client/v3/sync`);
    assert.equal(sync.status, 404, 'no route for anything but media');
    const unknown = await daemon.api<ApiError>('POST', `/proxy/${encodeURIComponent('@nobody:x')}/_matrix/media/v3/upload`, undefined, { raw: PNG, contentType: 'image/png' });
    assert.equal(unknown.body.errcode, 'client_not_found');
  });

  it('plugins: errcodes and statuses as maubot (201 new, 409 plugin_exists, plugin_invalid, pid_mismatch, 200 replaced, reload)', async () => {
    const missing = await daemon.api<ApiError>('GET', '/plugin/org.example.nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.errcode, 'plugin_not_found');
    const raw = await helloArchive();
    const first = await daemon.api<Json>('POST', '/plugins/upload', undefined, { raw });
    assert.equal(first.status, 201, first.text);
    assertShape('plugin', first.body, PLUGIN_FIELDS);
    const exists = await daemon.api<ApiError>('POST', '/plugins/upload', undefined, { raw });
    assert.equal(exists.status, 409, exists.text);
    assert.equal(exists.body.errcode, 'plugin_exists');
    const replaced = await daemon.api<Json>('POST', '/plugins/upload?allow_override=true', undefined, { raw });
    assert.equal(replaced.status, 200, replaced.text);
    const invalid = await daemon.api<ApiError>('POST', '/plugins/upload', undefined, { raw: Buffer.from('not a zip') });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.errcode, 'plugin_invalid');
    const pid = await daemon.api<ApiError>('PUT', '/plugin/org.example.other', undefined, { raw });
    assert.equal(pid.status, 400);
    assert.equal(pid.body.errcode, 'pid_mismatch');
    assert.equal((await daemon.api('GET', '/plugin/org.example.other')).status, 404, 'nothing changed');
    const put = await daemon.api<Json>('PUT', '/plugin/org.example.hello', undefined, { raw });
    assert.equal(put.status, 200, put.text);
    const reload = await daemon.api<Json>('POST', '/plugin/org.example.hello/reload');
    assert.equal(reload.status, 200, reload.text);
    assert.deepEqual(reload.body, { success: true });
  });

  it('instances: maubot errcodes; one created the maubot way (no rooms, YAML config, MixedCase id) hears every room', async () => {
    const put = (id: string, body: Json) => daemon.api<ApiError>('PUT', `/instance/${id}`, body);
    const codes = [
      [await put('x', {}), 400, 'plugin_type_required'],
      [await put('x', { type: 'org.trellis.ping' }), 400, 'primary_user_required'],
      [await put('x', { type: 'org.trellis.ping', primary_user: '@nobody:example.org' }), 404, 'primary_user_not_found'],
      [await put('x', { type: 'org.example.nope', primary_user: bot.userId }), 404, 'plugin_type_not_found'],
      [await daemon.api<ApiError>('GET', '/instance/nope'), 404, 'instance_not_found'],
    ] as const;
    for (const [res, status, errcode] of codes) {
      assert.equal(res.status, status, res.text);
      assert.equal(res.body.errcode, errcode);
    }

    const created = await daemon.api<Json>('PUT', '/instance/MaubotWay', { type: 'org.trellis.ping', primary_user: bot.userId, enabled: true, started: true, config: '', database_engine: '' });
    assert.equal(created.status, 201, created.text);
    assertShape('instance', created.body, INSTANCE_FIELDS);
    assert.equal(created.body.id, 'maubotway', 'the id is lower-cased, as maubot');
    assert.deepEqual(created.body.rooms, ['*'], 'instances_default_rooms: all');
    assert.equal(created.body.hears_no_room, false);
    assert.equal(typeof created.body.config_object, 'object');
    assert.equal((await daemon.api('GET', '/instance/MAUBOTWAY')).status, 200);

    const room = await human.createRoom({ name: 'maubot way', invite: [bot.userId] });
    await human.waitForMembership(room, bot.userId, 'join', 20_000);
    await daemon.waitFor('instance running', async () => (await daemon.api<Json>('GET', '/instance/maubotway')).body.state === 'running' || undefined);
    const ping = await human.sendText(room, '!ping');
    await human.waitForEvent(room, (ev: TestMatrixEvent) => ev.sender === bot.userId && JSON.stringify(ev.content).includes(ping), 20_000, 'the pong');

    const plugin = (await daemon.api<Json>('GET', '/plugin/org.trellis.ping')).body;
    const listed = plugin.instances as Json[];
    assert.ok(listed.some((i) => i.id === 'maubotway'));
    for (const i of listed) assertShape('plugin.instances[]', i, INSTANCE_FIELDS);
    const client = (await daemon.api<Json>('GET', `/client/${encodeURIComponent(bot.userId)}`)).body;
    for (const i of client.instances as Json[]) assertShape('client.instances[]', i, INSTANCE_FIELDS);

    const pluginInUse = await daemon.api<ApiError>('DELETE', '/plugin/org.example.hello');
    assert.equal(pluginInUse.status, 204, 'hello has no instances: deleted');
    const inUse = await daemon.api<ApiError>('DELETE', `/client/${encodeURIComponent(bot.userId)}`);
    assert.equal(inUse.status, 412, inUse.text);
    assert.equal(inUse.body.errcode, 'client_in_use');
  });

  it('plugin in use: 412 plugin_in_use', async () => {
    await daemon.uploadFixture('hello');
    const put = await daemon.api('PUT', '/instance/hello-user', { type: 'org.example.hello', primary_user: bot.userId });
    assert.equal(put.status, 201, put.text);
    const res = await daemon.api<ApiError>('DELETE', '/plugin/org.example.hello');
    assert.equal(res.status, 412, res.text);
    assert.equal(res.body.errcode, 'plugin_in_use');
  });

  it('database: maubot shape, read-only kv table; writes refused', async () => {
    const put = await daemon.api<Json>('PUT', '/instance/wordle', { type: 'org.trellis.wordle', primary_user: bot.userId, config: 'seed: maubot-api\n' });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.body.database, true);
    assert.equal(put.body.database_interface, 'kv');
    assert.equal(put.body.database_engine, 'sqlite');
    const room = await human.createRoom({ name: 'games', invite: [bot.userId] });
    await human.waitForMembership(room, bot.userId, 'join', 20_000);
    await daemon.waitFor('wordle running', async () => (await daemon.api<Json>('GET', '/instance/wordle')).body.state === 'running' || undefined);
    await human.sendText(room, '!wordle');

    const schema = await daemon.api<Json>('GET', '/instance/wordle/database');
    assert.equal(schema.status, 200, schema.text);
    assert.deepEqual(Object.keys(((schema.body.kv as Json).columns as Json) ?? {}), ['key', 'value', 'updated_at']);
    const rows = await daemon.waitFor('a stored row', async () => {
      const res = await daemon.api<{ ok: boolean; rows: unknown[][]; columns: string[] }>('POST', '/instance/wordle/database/query', { query: 'SELECT * FROM "kv" ORDER BY "key" DESC LIMIT 100' });
      assert.equal(res.status, 200, res.text);
      return res.body.rows.length > 0 ? res.body : undefined;
    });
    assert.equal(rows.ok, true);
    assert.deepEqual(rows.columns, ['key', 'value', 'updated_at']);
    const table = await daemon.api<{ rows: Json[] }>('GET', '/instance/wordle/database/kv?rows_as_dict=true&order=key:asc');
    assert.equal(table.status, 200, table.text);
    assert.equal(table.body.rows.length, rows.rows.length);

    const write = await daemon.api<ApiError>('POST', '/instance/wordle/database/query', { query: `DELETE FROM "kv" WHERE key='${String(rows.rows[0]![0])}'` });
    assert.equal(write.status, 403, write.text);
    assert.equal(write.body.errcode, 'read_only');
    assert.match(write.body.error, /read-only/);
    const after = await daemon.api<{ rows: unknown[] }>('POST', '/instance/wordle/database/query', { query: 'SELECT key FROM kv' });
    assert.equal(after.body.rows.length, rows.rows.length, 'nothing was deleted');
    const other = await daemon.api<ApiError>('POST', '/instance/wordle/database/query', { query: 'SELECT * FROM sqlite_master' });
    assert.equal(other.status, 400);
    assert.equal(other.body.errcode, 'sql_error');
  });

  it('clearcache resets the sync token and the bot keeps answering; verify and generate_recovery_key say not supported', async () => {
    const path = `/client/${encodeURIComponent(bot.userId)}`;
    const res = await daemon.api<Json>('POST', `${path}/clearcache`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { success: true });
    assert.equal((await daemon.api<ApiError>('POST', '/client/@nobody:x/clearcache')).body.errcode, 'client_not_found');
    const room = await human.createRoom({ name: 'after clearcache', invite: [bot.userId] });
    await human.waitForMembership(room, bot.userId, 'join', 30_000);
    const ping = await human.sendText(room, '!ping');
    await human.waitForEvent(room, (ev: TestMatrixEvent) => ev.sender === bot.userId && JSON.stringify(ev.content).includes(ping), 20_000, 'the pong after clearcache');

    for (const route of ['verify', 'generate_recovery_key']) {
      const r = await daemon.api<ApiError>('POST', `${path}/${route}`, route === 'verify' ? { recovery_key: 'x' } : undefined);
      assert.equal(r.status, 501, r.text);
      assert.equal(r.body.errcode, 'not_supported');
      assert.match(r.body.error, /not supported/);
    }
  });
});

describe('instances_default_rooms: none', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let bot: TestUser;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs, (config) => {
      config.instances_default_rooms = 'none';
    });
    bot = await TestUser.create(hs, 'mbquiet');
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('an instance created without rooms hears no room, and says so in the API, /health and the log (once)', async () => {
    const created = await daemon.api('POST', '/client/new', { homeserver: hs.url, access_token: bot.accessToken });
    assert.equal(created.status, 201, created.text);
    const put = await daemon.api<Json>('PUT', '/instance/quiet', { type: 'org.trellis.ping', primary_user: bot.userId });
    assert.equal(put.status, 201, put.text);
    assert.deepEqual(put.body.rooms, []);
    assert.equal(put.body.hears_no_room, true);
    const health = await daemon.api<{ instances: { hearing_no_room: string[] } }>('GET', '/health');
    assert.deepEqual(health.body.instances.hearing_no_room, ['quiet']);
    await daemon.api('PUT', '/instance/quiet', { enabled: true });
    assert.equal(daemon.output.filter((l) => l.includes('instance quiet hears no room')).length, 1, 'warned once');
    const given = await daemon.api<Json>('PUT', '/instance/quiet', { rooms: ['*'] });
    assert.equal(given.body.hears_no_room, false);
    assert.deepEqual((await daemon.api<{ instances: { hearing_no_room: string[] } }>('GET', '/health')).body.instances.hearing_no_room, []);
  });
});
