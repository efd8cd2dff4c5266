/**
 * The management API's schemas (src/api/schemas.ts) on the real API server
 * (createApiServer, with stand-ins for what the checked paths do not reach):
 * the served OpenAPI document describes every route's responses and request
 * bodies, a bad request is a 400 naming each bad field, and responses are
 * sent exactly as built (no property dropped), with `checkResponses` refusing
 * one its schema does not describe.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from '../../src/api/server.ts';
import type { ApiDeps } from '../../src/api/deps.ts';
import { Version } from '../../src/api/schemas.ts';
import type { ZodTypeProvider } from '../../src/api/typed-routes.ts';

const API = '/_matrix/maubot/v1';
const TOKEN = 'a-valid-token';

/** Enough of the daemon for building the server, its auth hook and the request checks (which run before any handler). */
function fakeDeps(errorsLogged: string[]): ApiDeps {
  return {
    config: () => ({ server: { trusted_proxies: [], public_metrics: false } }),
    tokens: {
      load: async () => {},
      named: null,
      verify: (token: string) => (token === TOKEN ? 'admin' : null),
      authenticate: async (token: string) => (token === TOKEN ? { username: 'admin', kind: 'session' } : null),
    },
    log: { error: (message: string) => errorsLogged.push(message), warn: () => {}, info: () => {} },
    version: '1.2.3-test',
  } as unknown as ApiDeps;
}

async function server(options: { checkResponses?: boolean } = { checkResponses: true }, errorsLogged: string[] = []): Promise<FastifyInstance> {
  return createApiServer(fakeDeps(errorsLogged), undefined, options);
}

interface Operation {
  security?: unknown[];
  requestBody?: { content: Record<string, { schema?: object }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }>;
}

/** Every method and path the server answers (Fastify's route tree; HEAD routes are Fastify's automatic twins of GET). */
function registeredRoutes(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n').filter(Boolean)) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    assert.ok(m, `unexpected line in Fastify's route tree: ${line}`);
    const depth = m[1].length / 4;
    stack[depth] = (depth > 0 ? stack[depth - 1] : '') + m[2];
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${stack[depth]}`);
  }
  return routes;
}

/** Routes that take no request body (any other POST/PUT/PATCH must document one). */
const BODYLESS = new Set([
  `POST ${API}/auth/logout`,
  `POST ${API}/auth/ping`,
  `POST ${API}/instance/{id}/{action}`,
  `POST ${API}/debug/open`,
  `POST ${API}/plugin/{id}/reload`,
  `POST ${API}/client/{id}/clearcache`,
  `POST ${API}/client/{id}/generate_recovery_key`,
]);
/** Routes that only ever refuse (maubot's, not supported by Trellis). */
const NEVER_SUCCEED = new Set([`POST ${API}/debug/open`, `POST ${API}/client/{id}/verify`, `POST ${API}/client/{id}/generate_recovery_key`]);
/** Served but deliberately not in the document: the OpenAPI documents, and each plugin's own admin API (documented by the plugin). */
const UNDOCUMENTED = new Set([`GET /openapi.json`, `GET ${API}/openapi.json`, ...['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => `${m} ${API}/instance/{id}*`)]);
/** Error statuses that answer with something else than the error shape. */
const NOT_ERRORS = new Set(['GET /health 503']);
/** Responses without a body. */
const NO_BODY = new Set(['101', '204']);

describe('the OpenAPI document', () => {
  test('describes every route: a schema for each response (errors included) and for each request body', async () => {
    const app = await server();
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json() as { paths: Record<string, Record<string, Operation>> };
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) => Object.entries(operations).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })));

    const served = registeredRoutes(app).map((r) => r.replace(/:(\w+)/g, '{$1}'));
    assert.ok(served.includes(`PUT ${API}/instance/{id}`) && served.length > 20, `the route tree was read: ${served.join(', ')}`);
    const missing = served.filter((r) => !UNDOCUMENTED.has(r) && !documented.some((d) => d.route === r));
    assert.deepEqual(missing, [], 'served routes missing from the document (a websocket: true route is hidden by @fastify/websocket; use wsHandler)');

    const problems: string[] = [];
    for (const { route, op } of documented) {
      const statuses = Object.keys(op.responses);
      if (!NEVER_SUCCEED.has(route) && !statuses.some((s) => s === '101' || s.startsWith('2'))) problems.push(`${route}: no success response`);
      for (const [status, response] of Object.entries(op.responses)) {
        if (response.description === 'Default Response') problems.push(`${route} ${status}: no response schema`);
        const schemas = Object.values(response.content ?? {}).map((media) => media.schema);
        if (!NO_BODY.has(status) && response.content !== undefined && schemas.some((s) => !s || Object.keys(s).length === 0)) problems.push(`${route} ${status}: empty response schema`);
        if (!NO_BODY.has(status) && response.content === undefined && status !== '404') problems.push(`${route} ${status}: no response body described`);
        if (/^[45]/.test(status) && response.content !== undefined && !NOT_ERRORS.has(`${route} ${status}`)) {
          const props = Object.keys(schemas[0]?.properties ?? {}).sort();
          if (props.join() !== 'errcode,error,problems') problems.push(`${route} ${status}: not the error shape {errcode, error, problems}`);
        }
      }
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      if (!isPublic && !statuses.includes('401')) problems.push(`${route}: needs a token but documents no 401`);
      const method = route.split(' ')[0];
      if (['POST', 'PUT', 'PATCH'].includes(method) && !BODYLESS.has(route)) {
        const bodies = Object.values(op.requestBody?.content ?? {});
        if (bodies.length === 0 || bodies.some((media) => !media.schema || Object.keys(media.schema).length === 0)) problems.push(`${route}: takes a body but has no request body schema`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('names the routes that need no token (security: [])', async () => {
    const doc = (await (await server()).inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
    const open = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security?.length === 0)
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(open.sort(), [`GET ${API}/features`, `GET ${API}/version`, 'GET /health', `POST ${API}/auth/login`].sort());
  });
});

describe('request checks', () => {
  const send = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const res = await (await server()).inject({ method, url: API + url, payload: payload as string, headers: { authorization: `Bearer ${TOKEN}`, ...headers } });
    return { status: res.statusCode, body: res.json() as { errcode: string; error: string; problems: string[] } };
  };

  test('an instance: every bad field named with what it must be, in one 400', async () => {
    const res = await send('PUT', '/instance/x', { type: 5, primary_user: ['@a:b'], enabled: 'yes', rooms: '!r:x', config: 'a: [', started: 1, unknown_field: true });
    assert.equal(res.status, 400);
    assert.equal(res.body.errcode, 'bad_request');
    assert.equal(res.body.error, `invalid instance: ${res.body.problems.join('; ')}`, "the error names the problems (maubot's web app and mbc show only it)");
    assert.deepEqual(res.body.problems.slice(0, 4), ['type: must be a plugin id string', 'primary_user: must be a user id string', 'enabled: must be true or false', 'rooms: must be a list']);
    assert.match(res.body.problems[4], /^config: not valid YAML: /);
    assert.equal(res.body.problems[5], 'started: must be true or false');
    assert.equal(res.body.problems.length, 6, 'a field the API does not know is ignored, not refused');
    for (const config of [5, null, ['a'], '- a\n- b', 'just text']) {
      const bad = await send('PUT', '/instance/x', { config });
      assert.deepEqual(bad.body.problems, ['config: must be an object (or a YAML mapping string)'], JSON.stringify(config));
    }
  });

  test('bot accounts: settings, and the fields each way of adding one needs', async () => {
    const res = await send('PUT', '/client/@bot:x', { displayname: 5, avatar_url: 5, autojoin: 'y', enabled: 1, encryption: 'yes', autojoin_allow: ['@a:b', 3, false] });
    assert.equal(res.status, 400);
    assert.match(res.body.error, /^invalid bot account settings: displayname: must be a string; /);
    assert.deepEqual(res.body.problems, [
      'displayname: must be a string',
      'avatar_url: must be an mxc:// string',
      'autojoin: must be true or false',
      'enabled: must be true or false',
      'encryption: must be true or false',
      'autojoin_allow: must be a list of user ids or server names',
    ]);
    assert.deepEqual((await send('POST', '/client/new', { homeserver: 'main', access_token: null })).body, {
      errcode: 'bad_request',
      error: 'homeserver (a configured name or URL) and access_token are required',
      problems: [],
    });
    assert.equal((await send('POST', '/client/auth/main/login', { username: 'bot' })).body.error, 'username and password are required');
    assert.deepEqual((await send('POST', '/client/auth/main/register', { username: 'bot', password: 'pw', method: 'magic' })).body.problems, ['method: must be "token" or "shared_secret"']);
  });

  test('login, log queries and raw bodies', async () => {
    const login = await send('POST', '/auth/login', { username: 'admin' }, { authorization: '' });
    assert.equal(login.status, 400);
    assert.deepEqual(login.body.problems, ['password: required: the admin password']);
    const query = await send('GET', '/logs?limit=abc&before=0&levels=warn,loud');
    assert.deepEqual(query.body.problems, [
      'limit: must be a whole number from 1 to 1000 (got "abc")',
      `before: must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER} (got "0"); it is the id of the oldest record already shown`,
      'levels: "loud" is not one of debug, info, warn, error, critical',
    ]);
    const upload = await send('POST', '/plugins/upload', { not: 'a zip' });
    assert.deepEqual(upload.body, { errcode: 'bad_request', error: 'send the plugin archive (zip) as the raw request body with Content-Type: application/zip', problems: [] });
  });
});

describe('responses', () => {
  const drifting = async (checkResponses: boolean, errorsLogged: string[] = []) => {
    const app = await server({ checkResponses }, errorsLogged);
    // A handler that sends more than its schema says.
    app.withTypeProvider<ZodTypeProvider>().get('/drift', { config: { public: true }, schema: { response: { 200: Version } } }, async () => ({ version: '1', name: 'trellis' as const, extra: 42 }));
    return app.inject({ method: 'GET', url: '/drift' });
  };

  test('are sent as built: a property the schema lacks is not dropped', async () => {
    const res = await drifting(false);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { version: '1', name: 'trellis', extra: 42 });
  });

  test('with checkResponses, one its schema does not describe is a 500 naming the difference', async () => {
    const errorsLogged: string[] = [];
    const res = await drifting(true, errorsLogged);
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { errcode: 'internal_error', error: 'internal error; see the daemon log', problems: [] });
    assert.match(errorsLogged.join('\n'), /the 200 response of GET \/drift does not match its schema: \$\.extra/);
    const ok = await (await server()).inject({ method: 'GET', url: `${API}/version` });
    assert.deepEqual(ok.json(), { version: '1.2.3-test', name: 'trellis' });
  });
});
