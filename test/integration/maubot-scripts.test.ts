/**
 * maubot's tools and scripts against the real daemon (issue 12, transport
 * and auth): requests as curl and maubot's frontend send them — JSON with
 * any Content-Type or none, empty bodies with `Content-Type:
 * application/json`, the token in `?access_token=` — maubot's errcodes for
 * missing and invalid tokens, unknown routes and wrong methods, /features,
 * /debug/open, and named long-lived tokens made by `trellis token create`
 * while the daemon runs. No homeserver is needed: no bot account is added.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { ADMIN_PASSWORD, FIXTURE_PLUGINS, TestDaemon } from '../harness/daemon.ts';
import { buildPlugin } from '../../src/plugin-package/build.ts';
// The real mbc 0.6.0 (scripts/test.ts installs .venv-maubot for a test file that uses harness/maubot.ts).
import { MAUBOT_VENV_DIR } from '../../scripts/python-tools.ts';
import '../harness/maubot.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const API = '/_matrix/maubot/v1';
const FORM = 'application/x-www-form-urlencoded';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/** `bin/trellis` as an operator runs it. */
function trellis(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(join(REPO, 'bin/trellis'), args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((r) => child.on('exit', (code) => r({ code, stdout, stderr })));
}

describe('maubot-style scripts and tools', { timeout: 120_000 }, () => {
  let daemon: TestDaemon;
  /** Every token this test saw: none may appear in the daemon's output. */
  const secrets: string[] = [];

  /** A raw request as curl makes it: the body as given, only the headers given. */
  async function call(method: string, path: string, options: { body?: string | Uint8Array; contentType?: string; token?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (options.contentType) headers['content-type'] = options.contentType;
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    // A Uint8Array body makes fetch send no Content-Type of its own.
    const body = typeof options.body === 'string' ? new TextEncoder().encode(options.body) : options.body;
    const res = await fetch(daemon.url + (path.startsWith('/_') || path.startsWith('/health') ? path : API + path), { method, headers, body });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  const credentials = JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD });

  async function login(contentType?: string): Promise<string> {
    const res = await call('POST', '/auth/login', { body: credentials, contentType });
    assert.equal(res.status, 200, `login with Content-Type ${contentType}: ${res.text}`);
    const token = String(res.body.token);
    secrets.push(token);
    return token;
  }

  before(async () => {
    daemon = await TestDaemon.create({ url: 'http://127.0.0.1:9' });
  });
  after(async () => {
    await daemon?.dispose();
  });

  it('logs in with JSON sent as curl -d (form type), without a Content-Type, as text/plain (maubot UI) and as JSON', async () => {
    for (const type of [FORM, undefined, 'text/plain;charset=UTF-8', 'application/json']) await login(type);
    const wrong = await call('POST', '/auth/login', { body: JSON.stringify({ username: 'admin', password: 'wrong password' }), contentType: FORM });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.errcode, 'invalid_auth');
    const notJson = await call('POST', '/auth/login', { body: 'username=admin&password=x', contentType: FORM });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.errcode, 'body_not_json');
    assert.match(String(notJson.body.error), /not valid JSON/);
    const empty = await call('POST', '/auth/login', { contentType: 'application/json' });
    assert.equal(empty.status, 400, 'no body where one is needed: a 400 naming the fields');
    assert.equal(empty.body.errcode, 'bad_request');
  });

  it('takes the token from ?access_token= as from Authorization: Bearer, on every route', async () => {
    const token = await login();
    assert.equal((await call('GET', `/plugins?access_token=${encodeURIComponent(token)}`)).status, 200);
    assert.equal((await call('GET', '/plugins', { token })).status, 200);
    assert.equal((await call('GET', `/health?access_token=${encodeURIComponent(token)}`)).body.instances !== undefined, true, '/health gives the full report with a query token');
    const ping = await call('POST', `/auth/ping?access_token=${encodeURIComponent(token)}`);
    assert.equal(ping.status, 200);
  });

  it("answers maubot's errcodes for a missing or invalid token", async () => {
    const missing = await call('GET', '/plugins');
    assert.equal(missing.status, 401);
    assert.equal(missing.body.errcode, 'auth_token_missing');
    for (const bad of [{ token: 'not-a-token' }, {}]) {
      const res = await call('GET', bad.token ? '/plugins' : '/plugins?access_token=forged.token', bad);
      assert.equal(res.status, 401);
      assert.equal(res.body.errcode, 'auth_token_invalid');
      assert.equal(typeof res.body.error, 'string');
    }
    const ping = await call('POST', '/auth/ping', { contentType: 'application/json' });
    assert.deepEqual([ping.status, ping.body.errcode], [401, 'auth_token_missing']);
    const pingBad = await call('POST', '/auth/ping', { contentType: 'application/json', token: 'expired.token' });
    assert.deepEqual([pingBad.status, pingBad.body.errcode], [401, 'auth_token_invalid']);
  });

  it('pings with an empty JSON body and answers {username, features}; /features without a token says only {login}', async () => {
    const token = await login();
    const ping = await call('POST', '/auth/ping', { contentType: 'application/json', token });
    assert.equal(ping.status, 200, ping.text);
    assert.equal(ping.body.username, 'admin');
    const features = ping.body.features as Record<string, boolean>;
    assert.deepEqual(Object.keys(features).sort(), ['client', 'client_auth', 'client_proxy', 'dev_open', 'instance', 'instance_database', 'log', 'login', 'plugin', 'plugin_upload']);
    assert.equal(features.login, true);
    assert.equal(features.dev_open, false);
    assert.deepEqual((await call('GET', '/features', { token })).body, features);
    assert.deepEqual((await call('GET', '/features')).body, { login: true });
    assert.deepEqual((await call('GET', '/features', { token: 'bad.token' })).body, { login: true }, 'a bad token is no 401 here');
  });

  it('DELETE with Content-Type: application/json and no body is no 400', async () => {
    const token = await login();
    const created = await call('POST', '/tokens', { body: JSON.stringify({ name: 'to-delete' }), contentType: FORM, token });
    assert.equal(created.status, 201, created.text);
    secrets.push(String(created.body.token));
    const del = await call('DELETE', '/tokens/to-delete', { contentType: 'application/json', token });
    assert.equal(del.status, 204, del.text);
    const again = await call('DELETE', '/tokens/to-delete', { contentType: 'application/json', token });
    assert.deepEqual([again.status, again.body.errcode], [404, 'token_not_found']);
    const instance = await call('DELETE', '/instance/nothing-here', { contentType: 'application/json', token });
    assert.equal(instance.status, 404, instance.text);
  });

  it('unknown routes are 404 resource_not_found, a wrong method 405 method_not_allowed', async () => {
    const token = await login();
    const unknown = await call('GET', '/no/such/route', { token });
    assert.deepEqual([unknown.status, unknown.body.errcode], [404, 'resource_not_found']);
    const wrong = await call('PATCH', '/plugins', { token });
    assert.deepEqual([wrong.status, wrong.body.errcode], [405, 'method_not_allowed']);
    assert.match(String(wrong.headers.get('allow')), /GET/);
    const wrongWithId = await call('POST', '/instance/some-id', { token, contentType: 'application/json' });
    assert.deepEqual([wrongWithId.status, wrongWithId.body.errcode], [405, 'method_not_allowed']);
    assert.equal((await call('GET', '/no/such/route')).status, 401, 'without a token: 401 first, as maubot');
  });

  it('GET /debug/open is {enabled: false}; POST is 501', async () => {
    const token = await login();
    assert.deepEqual((await call('GET', '/debug/open', { token })).body, { enabled: false });
    const post = await call('POST', '/debug/open', { token, body: JSON.stringify({ path: 'x', line: 1 }), contentType: 'application/json' });
    assert.deepEqual([post.status, post.body.errcode], [501, 'not_supported']);
  });

  it('uploads a plugin archive sent raw whatever the Content-Type (mbc upload; curl --data-binary)', async () => {
    const token = await login();
    const work = await mkdtemp(join(tmpdir(), 'trellis-upload-'));
    try {
      const built = await buildPlugin(join(FIXTURE_PLUGINS, 'hello'), { outFile: join(work, 'hello.zip') });
      const raw = new Uint8Array(await readFile(built.file));
      for (const contentType of ['application/zip', FORM, undefined]) {
        const res = await call('POST', '/plugins/upload?allow_override=true', { body: raw, contentType, token });
        assert.ok([200, 201].includes(res.status), `${contentType}: ${res.status} ${res.text}`);
        assert.equal(res.body.id, built.manifest.id);
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('trellis token create|list|revoke work while the daemon runs; the token never expires and is refused at once once revoked', async () => {
    const config = ['--config', daemon.configPath];
    const created = await trellis(['token', 'create', '--name', 'ci', ...config]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    secrets.push(token);
    assert.match(token, /^trellis_at_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /shown only now/);
    // No restart, no reload: the daemon asks its database.
    assert.equal((await call('GET', '/plugins', { token })).status, 200);
    assert.equal((await call('GET', `/instances?access_token=${token}`)).status, 200);
    assert.equal((await call('POST', '/auth/ping', { token, contentType: 'application/json' })).body.username, 'admin');

    const dup = await trellis(['token', 'create', '--name', 'ci', ...config]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /exists already/);

    const list = await trellis(['token', 'list', ...config]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+CREATED\s+LAST USED\n/);
    assert.match(list.stdout, /\nci\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\d{4}-\d\d-\d\dT/, 'used: the time shows');
    assert.ok(!list.stdout.includes(token.slice(12)), 'no secret in the list');

    // The API: a login session manages tokens; a named token may not.
    const session = await login();
    const listed = await call('GET', '/tokens', { token: session });
    assert.deepEqual(
      (listed.body.tokens as Array<{ name: string }>).map((t) => t.name),
      ['ci'],
    );
    assert.ok(!listed.text.includes(token.slice(12)));
    assert.deepEqual([(await call('GET', '/tokens', { token })).status, (await call('POST', '/tokens', { token, body: '{"name":"x"}' })).status], [403, 403]);
    const clash = await call('POST', '/tokens', { token: session, body: '{"name":"ci"}' });
    assert.deepEqual([clash.status, clash.body.errcode], [409, 'token_exists']);
    const badName = await call('POST', '/tokens', { token: session, body: '{"name":"a b"}' });
    assert.equal(badName.status, 400);

    // A websocket handshake with the token in the URL (the console's /live).
    const hello = await new Promise<string>((res, rej) => {
      const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}${API}/live?access_token=${encodeURIComponent(token)}`);
      ws.onmessage = (ev) => {
        res(String(ev.data));
        ws.close();
      };
      ws.onerror = () => rej(new Error('websocket failed'));
    });
    assert.equal(JSON.parse(hello).type, 'hello');

    const revoked = await trellis(['token', 'revoke', 'ci', ...config]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const refused = await call('GET', '/plugins', { token });
    assert.deepEqual([refused.status, refused.body.errcode], [401, 'auth_token_invalid']);
    assert.equal((await trellis(['token', 'revoke', 'ci', ...config])).code, 1);
    assert.equal((await trellis(['token', 'frobnicate', ...config])).code, 2);
  });

  it("the mbc recipe: a named token in mbc's config file; mbc upload works with it", async () => {
    const created = await trellis(['token', 'create', '--name', 'mbc', '--config', daemon.configPath]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    secrets.push(token);
    const home = await mkdtemp(join(tmpdir(), 'trellis-mbc-'));
    try {
      // What docs/maubot-compatibility.md tells mbc users to write.
      await writeFile(join(home, 'maubot-cli.json'), JSON.stringify({ servers: { [daemon.url]: token }, aliases: {}, default_server: daemon.url }), { mode: 0o600 });
      const built = await buildPlugin(join(FIXTURE_PLUGINS, 'hello'), { outFile: join(home, 'hello.zip') });
      const mbc = spawn(join(MAUBOT_VENV_DIR, 'bin', 'mbc'), ['upload', '-s', daemon.url, built.file], {
        env: { ...process.env, XDG_CONFIG_HOME: home, HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      mbc.stdout.on('data', (d: Buffer) => (out += d));
      mbc.stderr.on('data', (d: Buffer) => (out += d));
      const code = await new Promise<number | null>((r) => mbc.on('exit', r));
      assert.equal(code, 0, out);
      // mbc colours its output.
      assert.match(stripVTControlCharacters(out), new RegExp(`Plugin ${built.manifest.id.replaceAll('.', '\\.')} v${built.manifest.version} uploaded to .* successfully`));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('never prints a token (header, query or CLI-made) in the daemon output', async () => {
    // A request that fails and is logged, carrying a token in its query.
    await call('GET', `/no/such/route?access_token=${secrets[0]}`);
    assert.ok(secrets.length >= 5);
    const output = daemon.output.join('\n');
    for (const secret of secrets) assert.ok(!output.includes(secret), 'a token is in the daemon output');
    assert.ok(!/trellis_at_[A-Za-z0-9_-]{20}/.test(output));
  });
});
