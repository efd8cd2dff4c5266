/**
 * Plugin web routes (src/sdk/web-routes.ts) through the test kit's
 * TestContext.webRequest, which matches and answers as the public listener does.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { definePlugin } from '../../src/sdk/index.ts';
import { startPlugin, TestContext } from '../../src/sdk/testing.ts';
import { WebRoutes } from '../../src/sdk/web-routes.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };

describe('senders in the test kit', () => {
  test('matrixAs records what a listed sender sent and refuses an account not listed', async () => {
    const ctx = new TestContext({ config: {}, senders: ['@grafana:example.org'] });
    await ctx.matrixAs('@grafana:example.org').sendText('!room:example.org', 'disk almost full');
    assert.deepEqual(
      ctx.senderMatrices.get('@grafana:example.org')?.sent.map((s) => s.text),
      ['disk almost full'],
    );
    assert.deepEqual(ctx.matrix.sent, [], 'nothing went out as the instance itself');
    assert.throws(() => ctx.matrixAs('@other:example.org'), /may not send as @other:example.org/);
  });
});

describe('plugin web routes', () => {
  test('params, query, headers and body reach the handler; its status, headers and body come back', async () => {
    const ctx = new TestContext({ config: {}, instanceId: 'hooks', publicBaseUrl: 'https://bots.example.org/' });
    ctx.web.route('POST', '/items/:id', (req) => ({
      status: 202,
      headers: { 'x-seen': req.headers['x-token'] ?? '' },
      body: { id: req.params.id, q: req.query.q ?? null, text: req.text(), path: req.path },
    }));
    const res = await ctx.webRequest('POST', '/_matrix/maubot/plugin/hooks/items/42?q=yes', { headers: { 'X-Token': 't' }, body: 'hello' });
    assert.deepEqual(res, { status: 202, headers: { 'x-seen': 't' }, body: { id: '42', q: 'yes', text: 'hello', path: '/items/42' } });
    assert.equal(ctx.web.baseUrl, 'https://bots.example.org/_matrix/maubot/plugin/hooks');
    assert.equal(ctx.web.publicUrl('/webhook/abc'), 'https://bots.example.org/webhook/abc');
  });

  test('a throw is a 500 for that request (logged), invalid JSON a 400, an unknown path 404, another method 405', async () => {
    const ctx = new TestContext({ config: {} });
    ctx.web.route('POST', '/json', (req) => ({ body: { got: req.json() as never } }));
    ctx.web.route('GET', '/boom', () => {
      throw new Error('boom');
    });
    const base = `/_matrix/maubot/plugin/${ctx.instanceId}`;
    assert.equal((await ctx.webRequest('GET', `${base}/boom`)).status, 500);
    assert.ok(ctx.logs.some((l) => l.level === 'error' && l.message.includes('boom')));
    assert.equal((await ctx.webRequest('POST', `${base}/json`, { body: '{nope' })).status, 400);
    assert.deepEqual((await ctx.webRequest('POST', `${base}/json`, { body: { a: [1] } })).body, { got: { a: [1] } });
    assert.equal((await ctx.webRequest('GET', `${base}/missing`)).status, 404);
    assert.deepEqual((await ctx.webRequest('GET', `${base}/json`)).headers, { allow: 'POST' }, 'another method: 405 with Allow');
    assert.equal((await ctx.webRequest('GET', `${base}/json`)).status, 405);
  });

  test('refuses a duplicate route, a bad path or method, and a bad or held prefix, naming the holder', () => {
    const routes = new WebRoutes('https://bots.example.org');
    const a = routes.forInstance('a', quiet);
    const b = routes.forInstance('b', quiet);
    const ok = () => ({ body: 'ok' });
    a.route('GET', '/x', ok);
    assert.throws(() => a.route(['POST', 'GET'], '/x', ok), /GET \/_matrix\/maubot\/plugin\/a\/x is already served/);
    assert.equal(routes.match('POST', '/_matrix/maubot/plugin/a/x'), null, 'a refused route adds none of its methods');
    assert.throws(() => a.route('GET', 'x', ok), /a path starts with "\/"/);
    assert.throws(() => a.route('FETCH' as never, '/y', ok), /unknown method FETCH/);
    a.claimPrefix('/webhook/', ok);
    assert.throws(() => b.claimPrefix('/webhook/', ok), /\/webhook\/ is held by instance a/);
    for (const bad of ['/', 'webhook/', '/two/levels/', '/_matrix/', '/no-slash']) assert.throws(() => b.claimPrefix(bad, ok), /cannot claim/, bad);
  });

  test('stopping the instance removes its routes and frees its prefix; a stopped instance cannot add routes', async () => {
    const plugin = definePlugin({
      setup(ctx) {
        ctx.web.claimPrefix('/webhook/', (req) => ({ body: { path: req.path } }));
      },
    });
    const ctx = await startPlugin(plugin, { config: {} });
    assert.deepEqual((await ctx.webRequest('PUT', '/webhook/abc/def')).body, { path: '/abc/def' });
    await ctx.stop();
    assert.equal((await ctx.webRequest('PUT', '/webhook/abc')).status, 404);
    assert.throws(() => ctx.web.route('GET', '/late', () => ({})), /has stopped/);

    const routes = new WebRoutes(null);
    const first = routes.forInstance('first', quiet);
    first.claimPrefix('/webhook/', () => ({}));
    first.dispose();
    routes.forInstance('second', quiet).claimPrefix('/webhook/', () => ({}));
    assert.equal(routes.match('POST', '/webhook/x')?.target.instanceId, 'second');
    assert.equal(routes.forInstance('third', quiet).baseUrl, null, 'no public listener: no URL');
  });
});
