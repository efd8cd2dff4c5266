/**
 * The webhooks plugin on the test kit: requests to /webhook/<id> rendered by
 * hookshot's rules, formats and transforms; every refusal with its status and
 * nothing stored; the durable queue (stored before the answer, in order,
 * retried while sends fail, delivered after a restart); secrets, rate limit,
 * the admin routes and the !webhook commands.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { startPlugin, TestStorage, TestMatrix, TEST_BOT, type TestContext } from 'trellis/sdk/testing';
import { parse } from 'yaml';
import plugin, { type Config } from '../../plugins/webhooks/index.ts';
import { HOOK_FORMATS } from '../../plugins/webhooks/hooks.ts';

const ROOM = '!alerts:example.org';
const HOOK_ID = '3f1c2e9a-5b7d-4c1e-9f00-0123456789ab';
const ADMIN = '@admin:example.org';

const BASE: Config = {
  prefix: '!',
  hooks: [],
  command_power_level: 50,
  wait_for_delivery_ms: 0,
  include_hook_body: true,
  max_body_bytes: 1024 * 1024,
  transform_timeout_ms: 500,
  transform_memory_mb: 16,
};

const hook = (fields: Partial<Config['hooks'][number]> = {}): Config['hooks'][number] => ({
  id: HOOK_ID,
  name: 'grafana',
  room: ROOM,
  sender: '',
  format: 'generic',
  transform: '',
  expires: '',
  allow_get: false,
  rate_limit_per_minute: 600,
  ...fields,
});

const running: TestContext<Config>[] = [];
async function started(config: Partial<Config> = {}, options: { storage?: TestStorage; matrix?: TestMatrix; senders?: string[] } = {}): Promise<TestContext<Config>> {
  const ctx = await startPlugin(plugin, { config: { ...BASE, hooks: [hook()], ...config }, roomId: ROOM, ...options });
  running.push(ctx);
  return ctx;
}
afterEach(async () => {
  for (const ctx of running.splice(0)) await ctx.stop();
});

const post = (ctx: TestContext<Config>, body: unknown, headers: Record<string, string> = {}, id = HOOK_ID) =>
  ctx.webRequest('POST', `/webhook/${id}`, { body: body as string, headers: typeof body === 'string' ? { 'content-type': 'text/plain', ...headers } : headers });

/** Waits until `n` messages were sent (delivery runs after the answer). */
async function sent(matrix: TestMatrix, n: number): Promise<TestMatrix['sent']> {
  for (let i = 0; i < 500 && matrix.sent.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(matrix.sent.length, n, `expected ${n} messages, got ${matrix.sent.length}`);
  return matrix.sent;
}

const queued = (ctx: TestContext<Config>) => [...ctx.storage.data.keys()].filter((k) => k.startsWith('q:'));

describe('requests become messages by hookshot’s rules', () => {
  test('text is rendered from Markdown as an m.notice with the payload attached; floats become strings', async () => {
    const ctx = await started();
    const answer = await post(ctx, { text: 'Hello **world**', value: 1.5, count: 3 });
    assert.equal(answer.status, 202);
    assert.deepEqual(answer.body, { ok: true, queued: true });
    const [event] = await sent(ctx.matrix, 1);
    assert.equal(event.roomId, ROOM);
    assert.equal(event.content.msgtype, 'm.notice');
    assert.equal(event.content.body, 'Hello **world**');
    assert.equal(event.content.formatted_body, '<p>Hello <strong>world</strong></p>');
    assert.deepEqual(event.content['uk.half-shot.hookshot.webhook_data'], { text: 'Hello **world**', value: '1.5', count: 3 });
  });

  test('html wins over the Markdown, username is prefixed, a payload without text is a JSON block, text/plain is quoted', async () => {
    const ctx = await started();
    await post(ctx, { text: 'plain', html: '<b>bold</b>', username: 'CI <bot>' });
    await post(ctx, { status: 'ok' });
    await post(ctx, 'just text');
    const [first, second, third] = await sent(ctx.matrix, 3);
    assert.equal(first.content.body, '**CI <bot>**: plain');
    assert.equal(first.content.formatted_body, '<strong>CI &lt;bot&gt;</strong>: <b>bold</b>');
    assert.match(String(second.content.body), /^Received webhook data:\n\n```json\n\{\n {2}"status": "ok"\n\}\n```$/);
    assert.match(String(second.content.formatted_body), /<pre><code class="language-json">/);
    assert.equal(third.content.body, 'Received webhook data:\n\n```\njust text\n```');
  });

  test('form and XML bodies are read into objects; GET takes the query when the hook allows it', async () => {
    const ctx = await started({ hooks: [hook({ allow_get: true })] });
    await ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body: 'text=from+a+form', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body: '<alert><text>from xml</text></alert>', headers: { 'content-type': 'application/xml' } });
    assert.equal((await ctx.webRequest('GET', `/webhook/${HOOK_ID}?text=from%20get`)).status, 202);
    const events = await sent(ctx.matrix, 3);
    assert.equal(events[0].content.body, 'from a form');
    assert.deepEqual(events[1].content['uk.half-shot.hookshot.webhook_data'], { alert: { text: 'from xml' } });
    assert.equal(events[2].content.body, 'from get');
  });
});

describe('refusals: a clear 4xx, nothing stored, nothing sent', () => {
  test('unknown id, expired hook, GET when disabled, wrong type, bad JSON or XML, empty and too large bodies', async () => {
    const ctx = await started({ max_body_bytes: 2048, hooks: [hook(), hook({ id: 'expired-hook-0001', name: 'old', expires: '2020-01-01T00:00:00Z' })] });
    const cases: Array<[Promise<{ status: number; body: unknown; headers: Record<string, string> }>, number, RegExp]> = [
      [post(ctx, { text: 'x' }, {}, 'no-such-hook-1234'), 404, /no webhook has this URL/],
      [post(ctx, { text: 'x' }, {}, 'expired-hook-0001'), 404, /This hook has expired/],
      [ctx.webRequest('GET', `/webhook/${HOOK_ID}?text=x`), 405, /GET is not enabled for this hook/],
      [ctx.webRequest('DELETE', `/webhook/${HOOK_ID}`), 405, /DELETE is not accepted/],
      [ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body: new Uint8Array([1, 2, 3]), headers: { 'content-type': 'image/png' } }), 415, /unsupported Content-Type image\/png/],
      [ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body: '{"text": ', headers: { 'content-type': 'application/json' } }), 400, /not valid JSON/],
      [ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body: '<a><b></a>', headers: { 'content-type': 'text/xml' } }), 400, /not valid XML/],
      [ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body: '', headers: { 'content-type': 'application/json' } }), 400, /no body/],
      [post(ctx, 'x'.repeat(4096)), 413, /larger than this hook takes/],
    ];
    for (const [request, status, error] of cases) {
      const answer = await request;
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal((answer.body as { ok: boolean }).ok, false);
      assert.match((answer.body as { error: string }).error, error);
    }
    assert.equal((await ctx.webRequest('GET', `/webhook/${HOOK_ID}`)).headers.allow, 'POST, PUT');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(ctx.matrix.sent.length, 0);
    assert.deepEqual(queued(ctx), []);
  });

  test('a token or an HMAC signature is required when the hook has one', async () => {
    const ctx = await started();
    const token = 'a-long-shared-token-0123';
    const key = 'github-hmac-secret-0123456';
    assert.equal((await ctx.adminRequest('PUT', `/hooks/${HOOK_ID}`, { body: { token, hmac_secret: key } })).status, 200);
    const body = JSON.stringify({ text: 'signed' });
    const signature = `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
    const json = { 'content-type': 'application/json' };
    assert.equal((await ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body, headers: { ...json, authorization: `Bearer ${token}` } })).status, 401);
    assert.equal((await ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body, headers: { ...json, 'x-hub-signature-256': 'sha256=00', authorization: `Bearer ${token}` } })).status, 403);
    assert.equal((await ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body, headers: { ...json, 'x-hub-signature-256': signature } })).status, 401);
    assert.equal((await ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body, headers: { ...json, 'x-hub-signature-256': signature, authorization: 'Bearer wrong-token-0000000' } })).status, 403);
    assert.equal((await ctx.webRequest('POST', `/webhook/${HOOK_ID}`, { body, headers: { ...json, 'x-hub-signature-256': signature, 'x-gitlab-token': token } })).status, 202);
    assert.equal((await sent(ctx.matrix, 1))[0].content.body, 'signed');
    const listed = JSON.stringify((await ctx.adminRequest('GET', `/hooks/${HOOK_ID}`)).body);
    assert.ok(!listed.includes(token) && !listed.includes(key), 'the admin API never shows a secret');
    assert.match(listed, /"has_token":true,"has_hmac_secret":true/);
  });

  test('over the per-hook rate: 429 with Retry-After; another hook is not affected', async () => {
    const ctx = await started({ hooks: [hook({ rate_limit_per_minute: 60 }), hook({ id: 'other-hook-00001', name: 'other' })] });
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push((await post(ctx, { text: `n${i}` })).status);
    assert.deepEqual(answers, [...Array(10).fill(202), 429, 429]);
    const limited = await post(ctx, { text: 'again' });
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal((await post(ctx, { text: 'other' }, {}, 'other-hook-00001')).status, 202);
    await sent(ctx.matrix, 11);
  });
});

describe('nothing lost: stored before the answer, posted in order', () => {
  test('while sends fail the requests wait in storage; they go out in arrival order, each once', async () => {
    const storage = new TestStorage();
    const matrix = new TestMatrix(TEST_BOT);
    matrix.failSends = new Error('homeserver unreachable');
    const ctx = await started({}, { storage, matrix });
    for (let i = 1; i <= 20; i++) assert.equal((await post(ctx, { text: `message ${i}` })).status, 202);
    assert.equal(queued(ctx).length, 20, 'each accepted request is in storage');
    matrix.failSends = null;
    const events = await sent(matrix, 20);
    assert.deepEqual(
      events.map((e) => e.content.body),
      Array.from({ length: 20 }, (_, i) => `message ${i + 1}`),
    );
    for (let i = 0; i < 50 && queued(ctx).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(queued(ctx), []);
  });

  test('what was stored before a stop is posted after the next start, before what arrives later', async () => {
    const storage = new TestStorage();
    const down = new TestMatrix(TEST_BOT);
    down.failSends = new Error('homeserver unreachable');
    const first = await started({}, { storage, matrix: down });
    for (let i = 1; i <= 5; i++) await post(first, { text: `before ${i}` });
    await first.stop();
    running.splice(running.indexOf(first), 1);
    assert.equal(down.sent.length, 0);
    const matrix = new TestMatrix(TEST_BOT);
    const second = await started({}, { storage, matrix });
    await post(second, { text: 'after' });
    const events = await sent(matrix, 6);
    assert.deepEqual(
      events.map((e) => e.content.body),
      ['before 1', 'before 2', 'before 3', 'before 4', 'before 5', 'after'],
    );
  });

  test('with wait_for_delivery_ms the answer is 200 once the message is posted', async () => {
    const ctx = await started({ wait_for_delivery_ms: 5000 });
    const answer = await post(ctx, { text: 'waited' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { ok: true });
    assert.equal(ctx.matrix.sent.length, 1);
  });
});

describe('senders', () => {
  test('a hook with a sender posts as that account', async () => {
    const ctx = await started({ hooks: [hook({ sender: '@grafana:example.org' })] }, { senders: ['@grafana:example.org'] });
    await post(ctx, { text: 'as grafana' });
    for (let i = 0; i < 200 && !ctx.senderMatrices.get('@grafana:example.org')?.sent.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ctx.senderMatrices.get('@grafana:example.org')?.sent[0]?.content.body, 'as grafana');
    assert.equal(ctx.matrix.sent.length, 0);
  });
});

describe('admin routes', () => {
  test('create, list, change, test and remove a hook; config hooks are read-only; bad input changes nothing', async () => {
    const ctx = await started();
    const bad = await ctx.adminRequest('POST', '/hooks', { body: { name: 'x', room: 'not-a-room', format: 'nope', colour: 1 } });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /colour: not a hook field/);
    const invalid = await ctx.adminRequest('POST', '/hooks', { body: { name: 'x', room: 'not-a-room', format: 'nope' } });
    assert.equal(invalid.status, 400);
    assert.match(JSON.stringify(invalid.body), /name: 3–64 characters.*room: a room id.*format: one of generic/);
    const clash = await ctx.adminRequest('POST', '/hooks', { body: { name: 'Grafana', room: ROOM } });
    assert.match(JSON.stringify(clash.body), /already has a hook named/);
    const notAllowed = await ctx.adminRequest('POST', '/hooks', { body: { name: 'sonarr', room: ROOM, sender: '@sonarr:example.org' } });
    assert.match(JSON.stringify(notAllowed.body), /not one of this instance's senders/);
    assert.equal(((await ctx.adminRequest('GET', '/hooks')).body as unknown[]).length, 1, 'nothing was created');

    const created = await ctx.adminRequest('POST', '/hooks', { body: { name: 'sonarr', room: ROOM, format: 'sonarr', expires: '7d' } });
    assert.equal(created.status, 201);
    const view = created.body as { id: string; url: string; source: string; expires: string };
    assert.match(view.id, /^[0-9a-f-]{36}$/);
    assert.equal(view.url, `https://bots.example.org/webhook/${view.id}`);
    assert.equal(view.source, 'api');
    assert.ok(Date.parse(view.expires) > Date.now() + 6 * 86_400_000);

    const readOnly = await ctx.adminRequest('PUT', `/hooks/${HOOK_ID}`, { body: { name: 'renamed' } });
    assert.equal(readOnly.status, 403);
    assert.equal((await ctx.adminRequest('DELETE', `/hooks/${HOOK_ID}`)).status, 403);

    const changed = await ctx.adminRequest('PUT', `/hooks/${view.id}`, { body: { name: 'sonarr tv', allow_get: true } });
    assert.equal(changed.status, 200);
    assert.equal((changed.body as { name: string }).name, 'sonarr tv');

    const tested = await ctx.adminRequest('POST', `/hooks/${view.id}/test`, { body: { text: 'test payload' } });
    assert.equal((tested.body as { delivered: boolean }).delivered, true);
    assert.equal((await sent(ctx.matrix, 1))[0].content.body, 'test payload');

    assert.equal((await ctx.adminRequest('DELETE', `/hooks/${view.id}`)).status, 204);
    assert.equal((await post(ctx, { text: 'gone' }, {}, view.id)).status, 404);
    assert.equal((await ctx.adminRequest('GET', `/hooks/${view.id}`)).status, 404);
  });
});

describe('!webhook commands', () => {
  test('create sends the URL by DM only; list and remove; power level enforced', async () => {
    const ctx = await started({ hooks: [] });
    ctx.matrix.powerLevels.set(ROOM, new Map([[ADMIN, 100]]));
    const low = await ctx.sendMessage('!webhook create uptime', { sender: '@guest:example.org' });
    assert.match(low.sent.at(-1)?.text ?? '', /power level 50 or more/);

    const created = await ctx.sendMessage('!webhook create uptime kuma 7d', { sender: ADMIN });
    assert.match(created.sent.at(-1)?.text ?? '', /Created webhook “uptime kuma”.*direct message.*expires/s);
    const dm = ctx.matrix.directRooms.get(ADMIN)!;
    const urlMessage = ctx.matrix.sent.find((e) => e.roomId === dm)!;
    const url = /https:\/\/bots\.example\.org\/webhook\/([0-9a-f-]{36})/.exec(String(urlMessage.content.body));
    assert.ok(url, 'the DM carries the URL');
    assert.ok(!ctx.matrix.sent.filter((e) => e.roomId === ROOM).some((e) => String(e.content.body).includes(url[1])), 'the room never sees the URL');

    assert.equal((await post(ctx, { text: 'up' }, {}, url[1])).status, 202);
    const listed = await ctx.sendMessage('!webhook list', { sender: '@guest:example.org' });
    assert.match(listed.sent.at(-1)?.text ?? '', /uptime kuma \(generic, expires .* UTC/);

    const removed = await ctx.sendMessage('!webhook remove uptime kuma', { sender: ADMIN });
    assert.match(removed.sent.at(-1)?.text ?? '', /Removed webhook “uptime kuma”/);
    assert.equal((await post(ctx, { text: 'gone' }, {}, url[1])).status, 404);
  });
});

describe('transforms and formats', () => {
  test('a transform without html gets its plain text as Markdown; hints turn link previews off; a failure answers 500 and is said once', async () => {
    const ctx = await started({
      hooks: [
        hook({ transform: 'return { version: "v2", plain: "**" + data.n + "** https://example.org", hints: { showUrlPreviews: false } };' }),
        hook({ id: 'failing-hook-0001', name: 'failing', transform: 'result = { version: "v2", plain: data.missing.field };' }),
      ],
    });
    assert.equal((await post(ctx, { n: 3 })).status, 202);
    const [event] = await sent(ctx.matrix, 1);
    assert.equal(event.content.formatted_body, '<p><strong>3</strong> https://example.org</p>');
    assert.deepEqual(event.content['com.beeper.linkpreviews'], []);
    for (let i = 0; i < 3; i++) {
      const failed = await post(ctx, { n: i }, {}, 'failing-hook-0001');
      assert.equal(failed.status, 500);
      assert.match((failed.body as { error: string }).error, /transformation function failed: TypeError/);
    }
    const notices = (await sent(ctx.matrix, 2)).filter((e) => String(e.content.body).startsWith('Webhook “failing” received a request'));
    assert.equal(notices.length, 1, 'three failures, one notice');
  });

  test('the manifest offers exactly the formats the plugin has', () => {
    const manifest = parse(readFileSync(new URL('../../plugins/webhooks/plugin.yaml', import.meta.url), 'utf8')) as {
      config_schema: { properties: { hooks: { items: { properties: { format: { enum: string[] } } } } } };
    };
    assert.deepEqual(manifest.config_schema.properties.hooks.items.properties.format.enum, [...HOOK_FORMATS]);
  });
});
