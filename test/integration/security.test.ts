/**
 * Hostile requests against the real daemon process (issue 10, security):
 * upgrade headers never bypass the token, bodies are bounded per route,
 * logins are throttled, tokens can be revoked, refused uploads run and leave
 * nothing, inputs are bounded and checked, and unauthenticated endpoints
 * reveal nothing about bots or rooms. Requests are sent with node:http so
 * that headers fetch() forbids (Connection, Upgrade) and source addresses
 * (127.0.0.x) can be chosen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { uniqueLocalpart } from '../harness/matrix-user.ts';
import { ADMIN_PASSWORD, trellisBin, freePort, TestDaemon } from '../harness/daemon.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const API = '/_matrix/maubot/v1';
const MiB = 1024 * 1024;

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

interface RawOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Source address (any 127.0.0.x works on Linux): another client as far as the daemon can tell. */
  from?: string;
  token?: string;
}

/** One request on its own connection; a 101 answer (websocket accepted) is reported and the socket closed. */
function raw(port: number, method: string, path: string, options: RawOptions = {}): Promise<RawResponse> {
  return new Promise((resolvePromise, reject) => {
    const headers = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, localAddress: options.from, agent: false });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolvePromise({ status: res.statusCode!, headers: res.headers, text: '' });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Sends a `size`-byte body as fast as the daemon reads it (one reused 1 MiB
 * buffer, so the test process does not hold it either) and reports the
 * status the daemon answered. The daemon may answer before the body is
 * through and then close the connection; the client stops sending then.
 */
function streamBody(port: number, path: string, size: number, options: { method?: string; chunked?: boolean; contentType?: string; token?: string } = {}): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
    if (!options.chunked) headers['content-length'] = String(size);
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'POST', path, headers, agent: false });
    let status = 0;
    req.on('response', (res) => {
      status = res.statusCode!;
      res.resume();
      res.on('end', () => resolvePromise(status));
    });
    // Once answered, the end of the connection is expected.
    req.on('error', (err) => status === 0 && reject(err));
    const chunk = Buffer.alloc(MiB, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < size && !req.destroyed) {
        const part = size - sent >= chunk.length ? chunk : chunk.subarray(0, size - sent);
        sent += part.length;
        if (!req.write(part)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

async function zip(files: Record<string, string>): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) z.addBuffer(Buffer.from(content), name);
  z.end();
  const chunks: Buffer[] = [];
  for await (const chunk of z.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A plugin whose module appends a line to `marker` when it is imported: the marker counts how often its code ran. */
function markerPlugin(id: string, version: string, marker: string): Promise<Buffer> {
  return zip({
    'plugin.yaml': `id: ${id}\nversion: ${version}\nmain: index.js\n`,
    'index.js': `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(marker)}, 'ran\\n');\nexport default { setup() {} };\n`,
  });
}

function plainPlugin(id: string, configSchema: string): Promise<Buffer> {
  return zip({ 'plugin.yaml': `id: ${id}\nversion: 1.0.0\nmain: index.js\nconfig_schema: ${configSchema}\n`, 'index.js': 'export default { setup() {} };\n' });
}

function runs(marker: string): number {
  return existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean).length : 0;
}

function tree(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

function vmRssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) * 1024;
}

const WS_HANDSHAKE = () => ({ upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-version': '13' });

describe('security of the management API', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let work: string;
  let daemonTmp: string;
  let botId: string;
  let token: string;

  const pluginsDir = () => join(daemon.dir, 'data', 'plugins');
  const req = (method: string, path: string, options: RawOptions = {}) => raw(daemon.port, method, path, options);
  const json = (body: unknown): RawOptions => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const authed = (options: RawOptions = {}): RawOptions => ({ ...options, token });
  const login = async (username = 'admin', password = ADMIN_PASSWORD, from?: string) => {
    const res = await req('POST', `${API}/auth/login`, { ...json({ username, password }), from });
    return { status: res.status, token: res.status === 200 ? (JSON.parse(res.text) as { token: string }).token : '', res };
  };
  const sighup = async () => {
    const count = () => daemon.output.filter((l) => l.includes('configuration reloaded') || l.includes('reload refused')).length;
    const before = count();
    daemon.signal('SIGHUP');
    await daemon.waitFor('the reload', async () => count() > before);
    assert.ok(!daemon.output.some((l) => l.includes('reload refused')), 'the edited config was accepted');
  };

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    work = mkdtempSync(join(tmpdir(), 'trellis-security-'));
    // The daemon's own temp folder, so that "leaves nothing behind" covers temp files too.
    daemonTmp = mkdtempSync(join(tmpdir(), 'trellis-security-daemon-tmp-'));
    daemon = await TestDaemon.create(
      hs,
      (config) => {
        (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
      },
      { env: { TMPDIR: daemonTmp } },
    );
    token = (await login()).token;
    assert.ok(token);
    const res = await req(
      'POST',
      `${API}/client/auth/main/register?update_client=true`,
      authed(json({ username: uniqueLocalpart('secbot'), password: 'bot-password-' + randomBytes(6).toString('hex'), method: 'shared_secret' })),
    );
    assert.equal(res.status, 201, res.text);
    botId = (JSON.parse(res.text) as { id: string }).id;
  });

  after(async () => {
    await daemon?.dispose();
    for (const dir of [work, daemonTmp]) if (dir) rmSync(dir, { recursive: true, force: true });
    await hs?.release();
  });

  it('refuses every non-public route without a token, whatever Upgrade headers the request carries', async () => {
    const doc = JSON.parse((await req('GET', '/openapi.json')).text) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })));
    assert.ok(
      routes.some((r) => r.path === `${API}/live`),
      'the websocket routes are in the document',
    );
    // /features is public as in maubot (without a token it says only {login}).
    const PUBLIC = new Set([`GET ${API}/version`, `GET ${API}/features`, `POST ${API}/auth/login`, 'GET /health']);
    const WEBSOCKET = new Set([`GET ${API}/logs`, `GET ${API}/live`]);
    assert.ok(routes.length > 25, `only ${routes.length} routes found`);
    const failures: string[] = [];
    for (const { method, path } of routes) {
      const key = `${method} ${path}`;
      if (PUBLIC.has(key)) continue;
      const url = path.replace(/\{[^}]+\}/g, 'x');
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
      const variants: Array<[string, Record<string, string>]> = [
        ['Upgrade header only', { upgrade: 'websocket' }],
        ['Upgrade + Connection: Upgrade', { upgrade: 'websocket', connection: 'Upgrade' }],
        ['full websocket handshake', WS_HANDSHAKE()],
      ];
      for (const [name, headers] of variants) {
        if (body) headers['content-type'] = 'application/json';
        const res = await req(method, url, { headers, body });
        // A websocket route may take a real handshake and wait for the token as the first message.
        const expected = WEBSOCKET.has(key) && name === 'full websocket handshake' ? 101 : 401;
        if (res.status !== expected) failures.push(`${key} (${name}): ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('refuses a fake websocket upgrade to the websocket routes, and closes a real one without a valid first message', async () => {
    for (const path of [`${API}/logs`, `${API}/live`]) {
      const post = await req('POST', path, { headers: WS_HANDSHAKE() });
      assert.ok(post.status === 401 || post.status === 404, `POST ${path}: ${post.status}`);
      const { 'sec-websocket-key': _key, ...noKey } = WS_HANDSHAKE();
      assert.equal((await req('GET', path, { headers: noKey })).status, 401, `${path} without Sec-WebSocket-Key`);
      const history = await req('GET', `${API}/logs?limit=5`, { headers: { upgrade: 'websocket' } });
      assert.equal(history.status, 401, 'the log history behind a bare Upgrade header');
      const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}${path}`);
      ws.onopen = () => ws.send('not-a-token');
      const code = await new Promise<number>((r) => (ws.onclose = (ev) => r(ev.code)));
      // /logs as maubot: {auth_success: false}, then 4000 when no valid token came within 5 s; /live closes at once.
      assert.equal(code, path.endsWith('/logs') ? 4000 : 4001);
    }
  });

  it('refuses an unauthenticated plugin upload with an Upgrade header, and its code never runs', async () => {
    const marker = join(work, 'unauth-upload.marker');
    const archive = await markerPlugin('org.example.sneaky', '1.0.0', marker);
    const treeBefore = tree(pluginsDir());
    const variants: Array<Record<string, string>> = [{ upgrade: 'websocket' }, { upgrade: 'websocket', connection: 'Upgrade' }, WS_HANDSHAKE()];
    for (const headers of variants) {
      const res = await req('POST', `${API}/plugins/upload`, { headers: { ...headers, 'content-type': 'application/zip' }, body: archive });
      assert.equal(res.status, 401, res.text);
    }
    const plugins = JSON.parse((await req('GET', `${API}/plugins`, authed())).text) as Array<{ id: string }>;
    assert.ok(!plugins.some((p) => p.id === 'org.example.sneaky'), 'not installed');
    assert.equal(runs(marker), 0, 'its code never ran');
    assert.deepEqual(tree(pluginsDir()), treeBefore);
  });

  it('bounds request bodies per route with a 413 in the usual error shape', async () => {
    const tooLarge = (res: RawResponse) => {
      assert.equal(res.status, 413, res.text);
      const body = JSON.parse(res.text) as { errcode: string; error: string; problems: unknown[] };
      assert.equal(body.errcode, 'too_large');
      assert.match(body.error, /request body too large: .* takes at most \d+ (KiB|MiB)/);
      assert.deepEqual(body.problems, []);
    };
    tooLarge(await req('POST', `${API}/auth/login`, json({ username: 'admin', password: 'x'.repeat(20 * 1024) })));
    tooLarge(await req('POST', `${API}/client/new`, authed(json({ homeserver: 'main', access_token: 'x'.repeat(100 * 1024) }))));
    // Larger bodies are streamed: the daemon answers from the Content-Length and closes the connection.
    const large = (method: string, path: string, size: number, contentType: string) => streamBody(daemon.port, path, size, { method, contentType, token });
    // A raw content type on a small route must not get the upload limit.
    assert.equal(await large('POST', `${API}/auth/login`, MiB, 'application/zip'), 413);
    assert.equal(await large('PUT', `${API}/instance/too-big`, 2 * MiB, 'application/json'), 413);
    assert.equal(await large('PUT', `${API}/client/${encodeURIComponent(botId)}/avatar`, 9 * MiB, 'image/png'), 413);
    assert.equal(await large('POST', `${API}/plugins/upload`, 70 * MiB, 'application/zip'), 413);
    assert.equal(await large('PUT', `${API}/plugin/org.example.hello`, 70 * MiB, 'application/zip'), 413);
    // Within its limit an instance config of a few hundred KiB is read (and judged on its merits).
    const big = await req('PUT', `${API}/instance/big-but-fine`, authed(json({ type: 'org.trellis.ping', primary_user: botId, rooms: [], config: { pad: 'x'.repeat(300 * 1024) } })));
    assert.notEqual(big.status, 413, big.text);
    if (big.status < 300) await req('DELETE', `${API}/instance/big-but-fine`, authed());
    assert.equal((await req('GET', `${API}/instance/too-big`, authed())).status, 404, 'nothing was created');
  });

  it('ten concurrent 60 MB login bodies are refused without growing the daemon', async () => {
    const pid = daemon.pid!;
    // Warm up the paths involved so that first-use allocations are not counted.
    await streamBody(daemon.port, `${API}/auth/login`, 60 * MiB);
    const rssBefore = vmRssBytes(pid);
    const statuses = await Promise.all([
      ...Array.from({ length: 10 }, () => streamBody(daemon.port, `${API}/auth/login`, 60 * MiB)),
      // Without Content-Length the limit is enforced on the bytes as they arrive.
      ...Array.from({ length: 2 }, () => streamBody(daemon.port, `${API}/auth/login`, 60 * MiB, { chunked: true })),
    ]);
    const rssAfter = vmRssBytes(pid);
    assert.deepEqual(statuses, Array(12).fill(413));
    assert.ok(rssAfter - rssBefore < 100 * MiB, `daemon RSS grew by ${((rssAfter - rssBefore) / MiB).toFixed(1)} MiB`);
    assert.equal((await req('GET', `${API}/version`)).status, 200, 'still serving');
  });

  it('a refused upload never runs the archive and leaves nothing behind; PUT /plugin/A with B changes nothing', async () => {
    const marker = join(work, 'marker-b.marker');
    const archiveB = await markerPlugin('org.example.marker-b', '1.0.0', marker);
    const throwing = await zip({ 'plugin.yaml': 'id: org.example.throws\nversion: 1.0.0\nmain: index.js\n', 'index.js': "throw new Error('broken at import');\n" });
    const treeBefore = tree(pluginsDir());
    const tmpBefore = tree(daemonTmp);
    const pluginsBefore = (await req('GET', `${API}/plugins`, authed())).text;

    const wrongId = await req('PUT', `${API}/plugin/org.example.hello`, authed({ headers: { 'content-type': 'application/zip' }, body: archiveB }));
    assert.equal(wrongId.status, 400, wrongId.text);
    assert.equal((JSON.parse(wrongId.text) as { errcode: string }).errcode, 'pid_mismatch');
    assert.match(wrongId.text, /the archive is plugin org\.example\.marker-b, not org\.example\.hello; nothing was installed/);
    const notZip = await req('POST', `${API}/plugins/upload`, authed({ headers: { 'content-type': 'application/zip' }, body: Buffer.from('not a zip') }));
    assert.equal(notZip.status, 400);
    // A module that throws while loading is refused too, and its files are removed (its own code did run: loading is the check).
    const broken = await req('POST', `${API}/plugins/upload`, authed({ headers: { 'content-type': 'application/zip' }, body: throwing }));
    assert.equal(broken.status, 400, broken.text);
    assert.match(broken.text, /failed to load: broken at import/);

    assert.equal(runs(marker), 0, "the refused archive's code never ran");
    assert.deepEqual(tree(pluginsDir()), treeBefore, 'nothing left under data/plugins');
    assert.deepEqual(tree(daemonTmp), tmpBefore, "nothing left in the daemon's temp folder");
    assert.equal((await req('GET', `${API}/plugins`, authed())).text, pluginsBefore);

    // Installed for real, its code runs once; the same version again is a 409 that runs nothing.
    const installed = await req('POST', `${API}/plugins/upload`, authed({ headers: { 'content-type': 'application/zip' }, body: archiveB }));
    assert.equal(installed.status, 201, installed.text);
    assert.equal(runs(marker), 1);
    const treeInstalled = tree(pluginsDir());
    const again = await req('POST', `${API}/plugins/upload`, authed({ headers: { 'content-type': 'application/zip' }, body: archiveB }));
    assert.equal(again.status, 409, again.text);
    const otherMarker = join(work, 'marker-c.marker');
    const intoB = await req(
      'PUT',
      `${API}/plugin/org.example.marker-b`,
      authed({ headers: { 'content-type': 'application/zip' }, body: await markerPlugin('org.example.marker-c', '1.0.0', otherMarker) }),
    );
    assert.equal(intoB.status, 400, intoB.text);
    assert.equal(runs(marker), 1);
    assert.equal(runs(otherMarker), 0);
    assert.deepEqual(tree(pluginsDir()), treeInstalled);
    assert.equal((await req('DELETE', `${API}/plugin/org.example.marker-b`, authed())).status, 204);
  });

  it('bounds and checks room allowlists: a clear 400 that creates nothing', async () => {
    const put = (rooms: unknown) => req('PUT', `${API}/instance/rooms-check`, authed(json({ type: 'org.trellis.ping', primary_user: botId, rooms, config: {} })));
    const tooMany = await put(Array.from({ length: 1001 }, (_, i) => `!room${i}:example.org`));
    assert.equal(tooMany.status, 400, tooMany.text);
    assert.match(tooMany.text, /rooms: 1001 entries is more than the limit of 1000/);
    const bad = await put(['!ok:example.org', 'general', 42, '#alias:example.org']);
    assert.equal(bad.status, 400, bad.text);
    assert.ok(
      (JSON.parse(bad.text) as { problems: string[] }).problems.some((p) => p.startsWith('rooms: "general", a number, "#alias:example.org" are not room ids')),
      bad.text,
    );
    const long = await put([`!${'a'.repeat(300)}:example.org`]);
    assert.equal(long.status, 400, long.text);
    assert.equal((await req('GET', `${API}/instance/rooms-check`, authed())).status, 404);
    // Disabled, so that the bot does not try to join a thousand made-up rooms.
    const fine = await req(
      'PUT',
      `${API}/instance/rooms-check`,
      authed(json({ type: 'org.trellis.ping', primary_user: botId, enabled: false, rooms: Array.from({ length: 1000 }, (_, i) => `!room${i}:example.org`), config: {} })),
    );
    assert.equal(fine.status, 201, fine.text);
    assert.equal((await req('DELETE', `${API}/instance/rooms-check`, authed())).status, 204);
  });

  it('checks the log query: bad limit or before is a 400, limit is capped at 1000', async () => {
    for (const query of ['limit=abc', 'limit=-1', 'limit=0', 'limit=1.5', 'limit=1001', 'before=abc', 'before=-5', 'level=loud', 'levels=warn,loud']) {
      const res = await req('GET', `${API}/logs?${query}`, authed());
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      const body = JSON.parse(res.text) as { errcode: string; problems: string[] };
      assert.equal(body.errcode, 'bad_request');
      assert.equal(body.problems.length, 1, query);
    }
    const ok = await req('GET', `${API}/logs?limit=1000&level=info`, authed());
    assert.equal(ok.status, 200, ok.text);
    assert.ok((JSON.parse(ok.text) as { records: unknown[] }).records.length <= 1000);
  });

  it('serves the console with a Content-Security-Policy that forbids framing, and nosniff everywhere', async () => {
    for (const path of ['/', '/instances/some-instance']) {
      const res = await req('GET', path);
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /text\/html/);
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
    const api = await req('GET', `${API}/instances`, authed());
    assert.equal(api.headers['x-content-type-options'], 'nosniff');
    assert.match(String(api.headers['content-security-policy']), /frame-ancestors 'none'/);
  });

  it('never returns a writeOnly value, whichever plugin the instance is switched to', async () => {
    const SECRET = 'hunter2-' + randomBytes(8).toString('hex');
    const upload = async (archive: Buffer) =>
      assert.equal((await req('POST', `${API}/plugins/upload?allow_override=true`, authed({ headers: { 'content-type': 'application/zip' }, body: archive }))).status, 201);
    await upload(await plainPlugin('org.example.secret-x', '{ type: object, properties: { password: { type: string, writeOnly: true } } }'));
    await upload(await plainPlugin('org.example.plain-y', '{ type: object }'));
    await upload(await plainPlugin('org.example.plain-z', '{ type: object, properties: { password: { type: string } } }'));
    const put = (body: unknown) => req('PUT', `${API}/instance/switcher`, authed(json(body)));
    const get = async () => (await req('GET', `${API}/instance/switcher`, authed())).text;

    assert.equal((await put({ type: 'org.example.secret-x', primary_user: botId, rooms: [], config: { password: SECRET, note: 'kept' } })).status, 201);
    assert.match(await get(), /"password":"\*{8}"/);
    const toY = await put({ type: 'org.example.plain-y' });
    assert.equal(toY.status, 200, toY.text);
    assert.ok(!toY.text.includes(SECRET) && !(await get()).includes(SECRET), 'switched without a config: the secret is not shown');
    assert.match(await get(), /"note":"kept"/, 'other values move with the instance');
    // Back to X with the masked value the console shows, then to Z (which does not mark it) the same way.
    assert.equal((await put({ type: 'org.example.secret-x' })).status, 200);
    assert.equal((await put({ type: 'org.example.secret-x', config: { password: SECRET } })).status, 200);
    const toZ = await put({ type: 'org.example.plain-z', config: { password: '********' } });
    assert.equal(toZ.status, 200, toZ.text);
    assert.ok(!(await get()).includes(SECRET));
    assert.ok(!(await req('GET', `${API}/instances`, authed())).text.includes(SECRET));
    assert.equal((await req('DELETE', `${API}/instance/switcher`, authed())).status, 204);
  });

  it('/health without a token says only ok or not; details and /metrics need the token unless public_metrics is on', async () => {
    const open = await req('GET', '/health');
    assert.ok(open.status === 200 || open.status === 503);
    assert.deepEqual(Object.keys(JSON.parse(open.text) as object), ['status']);
    assert.ok(!open.text.includes(botId));
    const full = await req('GET', '/health', authed());
    assert.equal(full.status, open.status);
    assert.ok(full.text.includes(botId), 'with the token the report names the bots');

    const metrics = await req('GET', '/metrics');
    assert.equal(metrics.status, 401);
    assert.ok(!metrics.text.includes(botId));
    assert.equal((await req('GET', '/metrics', { headers: { upgrade: 'websocket' } })).status, 401);
    assert.match((await req('GET', '/metrics', authed())).text, /trellis_/);

    await daemon.editConfig((c) => ((c.server as Record<string, unknown>).public_metrics = true));
    await sighup();
    const opted = await req('GET', '/metrics');
    assert.equal(opted.status, 200);
    assert.match(opted.text, /trellis_/);
    assert.deepEqual(Object.keys(JSON.parse((await req('GET', '/health')).text) as object), ['status'], 'health stays terse');
    await daemon.editConfig((c) => delete (c.server as Record<string, unknown>).public_metrics);
    await sighup();
    assert.equal((await req('GET', '/metrics')).status, 401);
  });

  it('logout revokes the token server-side, also across a restart and on open websockets', async () => {
    const kept = (await login()).token;
    const revoked = (await login()).token;
    const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}${API}/live`);
    const hello = new Promise<void>((r) => (ws.onmessage = (ev) => String(ev.data).includes('"hello"') && r()));
    const closed = new Promise<number>((r) => (ws.onclose = (ev) => r(ev.code)));
    ws.onopen = () => ws.send(revoked);
    await hello;

    const out = await req('POST', `${API}/auth/logout`, { token: revoked });
    assert.equal(out.status, 204);
    assert.equal((await req('GET', `${API}/instances`, { token: revoked })).status, 401);
    assert.equal(await closed, 4001, 'the live socket of that session was closed');
    assert.equal((await req('GET', `${API}/instances`, { token: kept })).status, 200, 'another session is unaffected');

    await daemon.restart();
    await daemon.waitFor('the restarted daemon', async () => (await fetch(`${daemon.url}${API}/version`)).ok);
    assert.equal((await req('GET', `${API}/instances`, { token: revoked })).status, 401, 'still revoked after a restart');
    assert.equal((await req('GET', `${API}/instances`, { token: kept })).status, 200);
  });

  it('a new token_secret (SIGHUP) invalidates every token; so does renaming the admin', async () => {
    const before = (await login()).token;
    await daemon.editConfig((c) => ((c.server as Record<string, unknown>).token_secret = randomBytes(32).toString('base64url')));
    await sighup();
    assert.equal((await req('GET', `${API}/instances`, { token: before })).status, 401);
    const afterRotation = (await login()).token;
    assert.equal((await req('GET', `${API}/instances`, { token: afterRotation })).status, 200);

    await daemon.editConfig((c) => ((c.admin as Record<string, unknown>).username = 'root'));
    await sighup();
    assert.equal((await req('GET', `${API}/instances`, { token: afterRotation })).status, 401, 'a token whose subject is no longer the admin');
    assert.equal((await login('admin')).status, 401);
    const asRoot = await login('root');
    assert.equal(asRoot.status, 200);
    assert.equal((await req('GET', `${API}/instances`, { token: asRoot.token })).status, 200);
    await daemon.editConfig((c) => ((c.admin as Record<string, unknown>).username = 'admin'));
    await sighup();
    token = (await login()).token;
    await daemon.login();
  });

  it('throttles failed logins per address and per username; the right password gets in after a short back-off', async () => {
    // Successful logins never count.
    for (let i = 0; i < 12; i++) assert.equal((await login('admin', ADMIN_PASSWORD, '127.0.0.6')).status, 200);

    // One attacker address: blocked after its failures, for any username and even with the right password.
    for (let i = 0; i < 10; i++) assert.equal((await login(`nobody${i}`, 'guess', '127.0.0.2')).status, 401);
    const blocked = await login('admin', ADMIN_PASSWORD, '127.0.0.2');
    assert.equal(blocked.status, 429, blocked.res.text);
    assert.match(blocked.res.text, /too many failed logins from this address/);
    assert.ok(Number(blocked.res.headers['retry-after']) > 60);
    assert.equal((await login('admin', ADMIN_PASSWORD, '127.0.0.1')).status, 200, 'the admin elsewhere is not affected');

    // Guesses at the admin's name from several addresses: everyone waits a few seconds at most.
    for (let i = 0; i < 3; i++) assert.equal((await login('admin', `guess ${i}`, `127.0.0.${10 + i}`)).status, 401);
    let admin = await login('admin', ADMIN_PASSWORD, '127.0.0.1');
    if (admin.status === 429) {
      assert.match(admin.res.text, /too many failed logins for admin/);
      const wait = Number(admin.res.headers['retry-after']);
      assert.ok(wait >= 1 && wait <= 5, `Retry-After ${wait}`);
      await new Promise((r) => setTimeout(r, wait * 1000));
      admin = await login('admin', ADMIN_PASSWORD, '127.0.0.1');
    }
    assert.equal(admin.status, 200, admin.res.text);
  });

  it('kept every secret out of the daemon output', () => {
    const output = daemon.output.join('\n');
    assert.ok(!output.includes(ADMIN_PASSWORD));
    assert.ok(!output.includes(token));
  });
});

describe('first run (npm start without a config)', () => {
  it('creates data/ 0700 and the password file 0600, and removes the file after the first login', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-first-run-'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, TRELLIS_PORT: String(port) };
    delete env.TRELLIS_CONFIG;
    const child = spawn(trellisBin(), [], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    try {
      const t0 = Date.now();
      while (!output.includes('listening on')) {
        assert.ok(Date.now() - t0 < 30_000 && child.exitCode === null, `the first run did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const passwordFile = join(dir, 'data', 'initial-admin-password');
      assert.equal(statSync(join(dir, 'data')).mode & 0o777, 0o700);
      assert.equal(statSync(passwordFile).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'trellis.yaml')).mode & 0o777, 0o600);
      const password = readFileSync(passwordFile, 'utf8').trim();
      assert.ok(!output.includes(password), 'the password is not in the output');

      assert.equal((await raw(port, 'POST', `${API}/auth/login`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'wrong' }) })).status, 401);
      assert.ok(existsSync(passwordFile), 'a failed login leaves it');
      const ok = await raw(port, 'POST', `${API}/auth/login`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
      assert.equal(ok.status, 200, ok.text);
      assert.ok(!existsSync(passwordFile), 'removed after the first successful login');
      assert.match(output, /removed the first-run password file/);
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('.gitignore keeps the first-run config out of git', () => {
    const ignore = readFileSync(join(REPO, '.gitignore'), 'utf8').split('\n');
    assert.ok(ignore.includes('/trellis.yaml') || ignore.includes('trellis.yaml'));
    assert.ok(ignore.includes('/data/'));
  });
});
