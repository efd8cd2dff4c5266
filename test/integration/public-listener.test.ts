/**
 * The public listener (issue 13's platform part): plugin instances serve
 * HTTP endpoints under /_matrix/maubot/plugin/<instance id>/ and claimed
 * prefixes (/webhook/), on a listener that serves nothing else of Trellis.
 * Real daemon process, real HTTP requests, the `webby` fixture plugin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart } from '../harness/matrix-user.ts';
import { freePort, httpRequest, TestDaemon, withSharedSecret } from '../harness/daemon.ts';

const BASE_URL = 'https://hooks.example.org';
const MAX_BODY = 4096;

describe('public listener for plugin web endpoints', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let publicUrl: string;
  let botId: string;

  const call = (method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string> } = {}) => httpRequest(`${publicUrl}${path}`, { method, ...init });
  const instanceState = async (id: string) => (await daemon.api<{ state: string; last_error: string | null }>('GET', `/instance/${id}`)).body;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    daemon = await TestDaemon.create(hs, withSharedSecret(hs, { port, base_url: BASE_URL, max_body_bytes: MAX_BODY }));
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('webbot'),
      password: `bot-password-${uniqueLocalpart('pw')}`,
      method: 'shared_secret',
      encryption: false,
    });
    assert.equal(res.status, 201, res.text);
    botId = res.body.id;
    await daemon.uploadFixture('webby');
    await daemon.createInstance('webby1', { type: 'org.example.webby', primary_user: botId, rooms: [], config: { claim: '/webhook/' } });
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('serves an instance route with its params, query and public base URL', async () => {
    const res = await call('GET', '/_matrix/maubot/plugin/webby1/hello/ada?x=1&y=two');
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(res.json, { hello: 'ada', query: { x: '1', y: 'two' }, base: `${BASE_URL}/_matrix/maubot/plugin/webby1` });
  });

  it('hands the plugin the raw body of any content type and sends its status, headers and bytes back', async () => {
    const form = 'a=1&b=%C3%A9';
    const res = await call('POST', '/_matrix/maubot/plugin/webby1/echo', { body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(res.status, 201);
    assert.equal(res.text, form);
    assert.equal(res.headers.get('x-echo-method'), 'POST');
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const put = await fetch(`${publicUrl}/_matrix/maubot/plugin/webby1/echo`, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.deepEqual(new Uint8Array(await put.arrayBuffer()), bytes);
  });

  it('answers bad input with a clear 4xx: malformed JSON 400, oversized body 413, wrong method 405, unknown path 404', async () => {
    const bad = await call('POST', '/_matrix/maubot/plugin/webby1/json', { body: '{"unclosed": ', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json?.ok, false);
    assert.match(String(bad.json?.error), /not valid JSON/);
    const good = await call('POST', '/_matrix/maubot/plugin/webby1/json', { body: '{"n": 1}', headers: { 'content-type': 'application/json' } });
    assert.deepEqual(good.json, { got: { n: 1 } });

    const big = await call('POST', '/_matrix/maubot/plugin/webby1/echo', { body: 'x'.repeat(MAX_BODY + 1), headers: { 'content-type': 'text/plain' } });
    assert.equal(big.status, 413);
    assert.match(String(big.json?.error), /at most 4 KiB/);

    const wrong = await call('DELETE', '/_matrix/maubot/plugin/webby1/echo');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST, PUT');
    const unknown = await call('GET', '/_matrix/maubot/plugin/webby1/nothing-here');
    assert.deepEqual([unknown.status, unknown.json], [404, { ok: false, error: 'not found' }]);
  });

  it('a throwing handler gets a 500 for that request only, logged with its instance; the next request is served', async () => {
    const res = await call('GET', '/_matrix/maubot/plugin/webby1/throw');
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text, /deliberate failure/, 'the error stays in the log');
    await daemon.waitFor('the failure in the log', async () => daemon.output.some((l) => l.includes('webby fixture: deliberate failure') && l.includes('"instance":"webby1"')));
    assert.equal((await call('GET', '/_matrix/maubot/plugin/webby1/hello/again')).status, 200);

    // A throw that escapes the request (a plain setTimeout) is blamed on the instance; the daemon stays up.
    assert.equal((await call('GET', '/_matrix/maubot/plugin/webby1/stray')).text, 'armed');
    await daemon.waitFor('the stray throw in the log', async () => daemon.output.some((l) => l.includes('a plain setTimeout threw after the answer') && l.includes('"instance":"webby1"')));
    assert.equal((await call('GET', '/_matrix/maubot/plugin/webby1/hello/still')).status, 200);
  });

  it('a claimed prefix serves every method below it; a second instance cannot claim it', async () => {
    const res = await call('POST', '/webhook/3f1c-abc', { body: '{}', headers: { 'content-type': 'application/json' } });
    assert.deepEqual(res.json, { instance: 'webby1', path: '/3f1c-abc', method: 'POST', url: `${BASE_URL}/webhook/` });
    assert.equal((await call('PUT', '/webhook/x')).json?.method, 'PUT');

    const created = await daemon.api('PUT', '/instance/webby2', { type: 'org.example.webby', primary_user: botId, rooms: [], config: { claim: '/webhook/' } });
    assert.ok(created.status === 200 || created.status === 201, created.text);
    const failed = await daemon.waitFor('webby2 to fail', async () => {
      const state = await instanceState('webby2');
      return state.state === 'failed' ? state : undefined;
    });
    assert.match(String(failed.last_error), /\/webhook\/ is held by instance webby1/);
    // Its own routes did not stay behind either.
    assert.equal((await call('GET', '/_matrix/maubot/plugin/webby2/hello/x')).status, 404);
    assert.equal((await daemon.api('DELETE', '/instance/webby2')).status, 204);
  });

  it('serves nothing else of Trellis, with or without a token; the management listener does not serve plugin routes', async () => {
    const token = await daemon.login();
    for (const path of ['/', '/_matrix/maubot/v1/plugins', '/_matrix/maubot/v1/auth/login', '/metrics', '/health', '/openapi.json', '/app.js']) {
      for (const headers of [{}, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
        const res = await call('GET', path, { headers });
        assert.equal(res.status, 404, `${path} ${JSON.stringify(headers)}: ${res.status} ${res.text.slice(0, 80)}`);
      }
    }
    const onManagement = await daemon.api('GET', '/_matrix/maubot/plugin/webby1/hello/ada');
    assert.notEqual(onManagement.status, 200);
  });

  it('an instance sends as another bot account only when the operator listed it among its senders', async () => {
    const register = async (name: string) => {
      const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
        username: uniqueLocalpart(name),
        password: `bot-password-${uniqueLocalpart('pw')}`,
        method: 'shared_secret',
        encryption: false,
      });
      assert.equal(res.status, 201, res.text);
      return res.body.id;
    };
    const grafana = await register('grafana');
    const stranger = await register('stranger');
    const user = await TestUser.create(hs, 'hookuser');
    const room = await user.createRoom({ name: 'alerts', invite: [grafana, stranger] });
    await user.waitForMembership(room, grafana, 'join', 30_000);
    const say = (as: string, text: string) => call('POST', '/_matrix/maubot/plugin/webby1/say', { body: JSON.stringify({ as, room, text }), headers: { 'content-type': 'application/json' } });

    // Not listed: refused, naming the fix.
    const refused = await say(grafana, 'too early');
    assert.equal(refused.status, 403);
    assert.match(String(refused.json?.error), /may not send as .*add it to the instance's senders/);

    // Bad senders change nothing: the own account, an unknown account, not a list.
    for (const [senders, problem] of [
      [[botId], /is the instance's own bot account/],
      [['@nobody:example.org'], /no bot account @nobody:example\.org/],
      ['@grafana', /must be a list/],
    ] as const) {
      const bad = await daemon.api<{ error: string; problems: string[] }>('PUT', '/instance/webby1', { senders });
      assert.equal(bad.status, 400, bad.text);
      assert.match(JSON.stringify(bad.body), problem);
    }
    assert.deepEqual((await daemon.api<{ senders: string[] }>('GET', '/instance/webby1')).body.senders, []);

    const allowed = await daemon.api<{ senders: string[]; state: string }>('PUT', '/instance/webby1', { senders: [grafana] });
    assert.equal(allowed.status, 200, allowed.text);
    assert.deepEqual(allowed.body.senders, [grafana]);
    const sent = await say(grafana, 'disk almost full');
    assert.equal(sent.status, 200, sent.text);
    assert.deepEqual((sent.json as { senders: string[] }).senders, [grafana], 'the running instance sees the new list without a restart');
    const event = await user.waitForEvent(room, (e) => e.event_id === (sent.json as { event_id: string }).event_id, 20_000, 'the sender’s message');
    assert.equal(event.sender, grafana);
    assert.equal(event.content.body, 'disk almost full');
    assert.equal((await say(stranger, 'not me')).status, 403, 'another account is still refused');
  });

  it('routes go with their instance and come back with it, also after a daemon restart', async () => {
    assert.equal((await daemon.api('PUT', '/instance/webby1', { enabled: false })).status, 200);
    await daemon.waitFor('webby1 disabled', async () => (await instanceState('webby1')).state === 'disabled');
    assert.equal((await call('GET', '/_matrix/maubot/plugin/webby1/hello/ada')).status, 404);
    assert.equal((await call('POST', '/webhook/x')).status, 404);

    assert.equal((await daemon.api('PUT', '/instance/webby1', { enabled: true })).status, 200);
    await daemon.waitFor('webby1 running', async () => (await instanceState('webby1')).state === 'running');
    assert.equal((await call('GET', '/_matrix/maubot/plugin/webby1/hello/ada')).status, 200);

    await daemon.restart();
    await daemon.waitFor('webby1 running after the restart', async () => (await instanceState('webby1')).state === 'running');
    assert.equal((await call('POST', '/webhook/after-restart')).json?.path, '/after-restart');
  });
});
