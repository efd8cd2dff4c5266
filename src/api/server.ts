/**
 * The management API's Fastify server: the token hook (Authorization header
 * or ?access_token=), lenient body parsing (JSON whatever the Content-Type,
 * as maubot), error shape and maubot's errcodes, body limits, /health,
 * /metrics, OpenAPI, the routes and the console.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import { ManagementError } from '../core/management.ts';
import { healthReport } from '../core/health.ts';
import { redactText } from '../core/redact.ts';
import { API_PREFIX, BODY_LIMITS, type ApiDeps } from './deps.ts';
import { registerAuthRoutes } from './routes/auth.ts';
import { registerPluginRoutes } from './routes/plugins.ts';
import { registerInstanceRoutes } from './routes/instances.ts';
import { registerClientRoutes } from './routes/clients.ts';
import { registerClientAuthRoutes } from './routes/client-auth.ts';
import { registerLogRoutes } from './routes/logs.ts';
import { registerLiveRoutes } from './routes/live.ts';
import { registerConsole, type ConsoleAsset } from './console.ts';
import { Health, Metrics, RAW_BODIES, Version, errors } from './schemas.ts';
import type { TokenOwner } from './session-tokens.ts';
import { registerTokenRoutes } from './routes/tokens.ts';
import { registerPluginAdminRoutes } from './routes/plugin-admin.ts';
import { RequestError, openapiTransform, useZodSchemas, type ZodTypeProvider } from './typed-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    username?: string;
    /** The valid token this request carried (Authorization header or ?access_token=) and whom it speaks for. */
    auth?: TokenOwner & { token: string };
  }
  interface FastifyContextConfig {
    /** Served without a bearer token (a function: decided per request, e.g. by the config). */
    public?: boolean | (() => boolean);
    /** A websocket route that may authenticate with its first message instead (browsers cannot set headers on a websocket). */
    websocketAuth?: boolean;
    /** The body is handed over raw (bytes) whatever its Content-Type, also without a body schema (e.g. a passthrough). */
    rawBody?: boolean;
  }
}

/** Archives and avatars are sent as raw bodies, as maubot's upload endpoint expects. */
const RAW_TYPES = /^(application\/(zip|octet-stream|x-zip-compressed)|image\/[\w.+-]+)$/;

/**
 * A websocket handshake the HTTP server really handed over ('upgrade' event,
 * which @fastify/websocket marks as req.ws), not just a request carrying an
 * Upgrade header: only those may skip the bearer token check.
 */
function isWebsocketHandshake(req: FastifyRequest): boolean {
  const h = req.headers;
  return (
    req.ws === true &&
    req.method === 'GET' &&
    h.upgrade?.toLowerCase() === 'websocket' &&
    (h.connection ?? '')
      .toLowerCase()
      .split(',')
      .some((t) => t.trim() === 'upgrade') &&
    typeof h['sec-websocket-key'] === 'string' &&
    h['sec-websocket-key'] !== ''
  );
}

/**
 * An error's `error` text names its problems too ("invalid instance: config.greeting: must be string"):
 * maubot's web app and `mbc` show only `error`. `problems` keeps them one by one (the console lists them).
 */
export function errorWithProblems(message: string, problems: readonly string[]): string {
  return problems.length ? `${message}: ${problems.join('; ')}` : message;
}

/** The token a request carries: `Authorization: Bearer …`, else `?access_token=` (as maubot; e.g. an <img> URL). */
export function requestToken(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || null;
  const query = (req.query as Record<string, unknown> | undefined)?.access_token;
  const value = Array.isArray(query) ? query[0] : query;
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A JSON body that is not JSON (maubot's errcode). */
class BodyNotJson extends Error {
  readonly statusCode = 400;
}

/** Route URL patterns (`/plugin/:id`) as expressions matching concrete paths, to tell a wrong method (405) from an unknown path (404). */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/** Only listed proxies may set the client address (X-Forwarded-For); none by default. */
function trustedProxies(list: string[]): string[] | false {
  return list.length > 0 ? list : false;
}

export interface ApiServerOptions {
  /** Compare every response with its schema (typed-routes.ts); a difference is a 500. For tests: TRELLIS_CHECK_API_RESPONSES=1. */
  checkResponses?: boolean;
}

export async function createApiServer(deps: ApiDeps, consoleAssets?: Map<string, ConsoleAsset>, options: ApiServerOptions = {}): Promise<FastifyInstance> {
  // Every body is buffered in memory, so the default limit is small; routes that take more say so (BODY_LIMITS).
  // A body over the limit is refused from its Content-Length (or as soon as it is over) before it is buffered.
  // requestTimeout (Node's own default; fastify turns it off) bounds how long one request may take to arrive.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMITS.small, trustProxy: trustedProxies(deps.config().server.trusted_proxies), requestTimeout: 300_000 });
  await deps.tokens.load();
  useZodSchemas(app, { checkResponses: options.checkResponses });

  await app.register(swagger, {
    transform: openapiTransform,
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Trellis management API', version: deps.version, description: "Shape-compatible with maubot's management API where it covers the same thing." },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, access_token: { type: 'apiKey', in: 'query', name: 'access_token' } } },
      security: [{ bearer: [] }, { access_token: [] }],
    },
  });
  await app.register(websocket, {
    // As maubot: a shutdown closes the websockets with 1012 (service restart), so clients know to reconnect.
    preClose(this: FastifyInstance, done: () => void) {
      for (const client of this.websocketServer.clients) client.close(1012, 'server shutting down');
      this.websocketServer.close(done);
    },
  });

  // No bodyLimit here: the parser would otherwise lift the limit of every route that does not set its own.
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // Like maubot (aiohttp's request.json()), a JSON body is read whatever the Content-Type says: none, text/plain
  // (a browser's fetch without headers), application/x-www-form-urlencoded (curl -d) or application/json. An empty
  // body is no body, never a 400; a route that reads no body ignores what came; a raw-body route gets the bytes.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    const schema = req.routeOptions.schema?.body;
    const raw = req.routeOptions.config?.rawBody || (schema !== undefined && RAW_BODIES.has(schema as never));
    // A raw-body route takes bytes of any type (curl --data-binary sends form-urlencoded) except declared JSON, which its schema refuses by name.
    if (raw && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return done(null, body);
    const text = body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      return done(null, JSON.parse(text));
    } catch {
      if (!schema) return done(null, undefined);
      return done(new BodyNotJson(`the request body is not valid JSON (${req.method} ${req.routeOptions.url ?? ''} takes a JSON object)`), undefined);
    }
  });

  // Every route's method and URL pattern, for the 405 of a known path.
  const routes: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, pattern: routePattern(route.url) });
  });

  app.setErrorHandler((err: FastifyError | ManagementError | Error, req, reply) => {
    if (err instanceof ManagementError) {
      const redact = err instanceof RequestError ? (text: string) => text : redactText;
      return reply.code(err.status).send({ errcode: err.errcode ?? codeFor(err.status), error: redact(errorWithProblems(err.message, err.problems)), problems: err.problems.map(redact) });
    }
    if (err instanceof BodyNotJson) return reply.code(400).send({ errcode: 'body_not_json', error: err.message, problems: [] });
    const status = (err as FastifyError).statusCode;
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = req.routeOptions.bodyLimit ?? BODY_LIMITS.small;
      return answerAndLinger(reply, 413, {
        errcode: 'too_large',
        error: `request body too large: ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} takes at most ${formatLimit(limit)}`,
        problems: [],
      });
    }
    if (status && status < 500) {
      return reply.code(status).send({ errcode: codeFor(status), error: redactText(err.message), problems: [] });
    }
    deps.log.error(`management API ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} failed: ${err.message}`, { err });
    return reply.code(500).send({ errcode: 'internal_error', error: 'internal error; see the daemon log', problems: [] });
  });

  // Every route needs a token (header or ?access_token=) except those marked public; errcodes as maubot's.
  app.addHook('onRequest', async (req, reply) => {
    const token = requestToken(req);
    if (token !== null) {
      const owner = await deps.tokens.authenticate(token);
      if (owner) {
        req.auth = { ...owner, token };
        req.username = owner.username;
      }
    }
    const open = req.routeOptions.config?.public;
    if (req.username !== undefined || open === true || (typeof open === 'function' && open())) return;
    // Console client-side routes (e.g. /instances/x on reload) fall through to index.html.
    if (req.is404 && consoleAssets && !req.url.startsWith(API_PREFIX)) return;
    // The two websocket routes check the token sent as the first message themselves.
    if (req.routeOptions.config?.websocketAuth && isWebsocketHandshake(req)) return;
    if (token === null) {
      return reply.code(401).send({ errcode: 'auth_token_missing', error: 'no token: send Authorization: Bearer <token> (or ?access_token=); POST /_matrix/maubot/v1/auth/login first', problems: [] });
    }
    return reply.code(401).send({ errcode: 'auth_token_invalid', error: 'invalid, expired or revoked token; POST /_matrix/maubot/v1/auth/login for a new one', problems: [] });
  });

  // Defence in depth for browsers: nothing here may be framed or content-sniffed; the console sets its own fuller policy.
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    return payload;
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/health',
    {
      config: { public: true },
      schema: {
        summary: 'Health: 200 healthy, 503 degraded; without a token only {status}',
        tags: ['system'],
        security: [],
        response: { 200: Health, 503: Health.meta({ description: 'Degraded: the report says why (with the token)' }), ...errors(500) },
      },
    },
    async (req, reply) => {
      const report = await healthReport({ storage: deps.storage, supervisor: deps.supervisor, errors: deps.errors, startedAt: deps.startedAt });
      // Bot ids, instance ids and error texts are for the admin; a load balancer needs only the verdict.
      return reply.code(report.status === 'ok' ? 200 : 503).send(req.username !== undefined ? report : { status: report.status });
    },
  );
  // Metrics carry bot and instance ids: a token is needed unless the operator opted in (server.public_metrics).
  const publicMetrics = () => deps.config().server.public_metrics;
  typed.get(
    '/metrics',
    {
      config: { public: publicMetrics },
      schema: {
        summary: 'Prometheus metrics (bearer token, or none with server.public_metrics: true)',
        tags: ['system'],
        response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Metrics } } }, ...errors(401, 500) },
      },
    },
    async (_req, reply) => {
      for (const client of deps.supervisor.clients.values()) {
        const last = client.status.lastSuccessAt;
        if (last) deps.metrics.syncAge.set({ client: client.userId }, (Date.now() - last) / 1000);
      }
      return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    },
  );

  await app.register(
    async (api) => {
      api
        .withTypeProvider<ZodTypeProvider>()
        .get(
          '/version',
          { config: { public: true }, schema: { summary: 'Version (unauthenticated health probe)', tags: ['system'], security: [], response: { 200: Version, ...errors(500) } } },
          async () => ({ version: deps.version, name: 'trellis' as const }),
        );
      api.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
      registerAuthRoutes(api, deps);
      registerTokenRoutes(api, deps);
      registerPluginRoutes(api, deps);
      registerInstanceRoutes(api, deps);
      registerPluginAdminRoutes(api, deps);
      registerClientRoutes(api, deps);
      registerClientAuthRoutes(api, deps);
      registerLogRoutes(api, deps);
      registerLiveRoutes(api, deps);
    },
    { prefix: API_PREFIX },
  );
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  const consoleFallback = consoleAssets ? registerConsole(app, consoleAssets) : null;
  // maubot's errcodes: a path no route has is 404 resource_not_found; a known path with another method is 405 method_not_allowed.
  app.setNotFoundHandler((req, reply) => {
    if (consoleFallback?.(req, reply)) return reply;
    const path = req.url.split('?')[0];
    const allowed = [...new Set(routes.filter((r) => r.method !== req.method && r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({ errcode: 'method_not_allowed', error: `${req.method} is not allowed on ${path.slice(0, 200)}; use ${allowed.join(', ')}`, problems: [] });
    }
    return reply.code(404).send({ errcode: 'resource_not_found', error: `no route ${req.method} ${path.slice(0, 200)}`, problems: [] });
  });
  return app;
}

/** How long a refused body may keep arriving (read and dropped) after the answer. */
const LINGER_MS = 10_000;

/**
 * Answers and closes the connection the way nginx's "lingering close" does:
 * the answer goes out and our side is shut, but what the client is still
 * sending is read and dropped (never buffered) until it stops or LINGER_MS
 * have passed. Closing at once with unread data resets the connection, and a
 * client still sending its body then usually loses the answer.
 */
export function answerAndLinger(reply: FastifyReply, status: number, payload: object): void {
  const socket = reply.request.raw.socket;
  const text = JSON.stringify(payload);
  reply.hijack();
  if (socket.destroyed) return;
  reply.request.raw.resume();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
      `x-content-type-options: nosniff\r\nconnection: close\r\n\r\n${text}`,
  );
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

export function formatLimit(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}

function codeFor(status: number): string {
  return { 400: 'bad_request', 401: 'auth_token_invalid', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'too_large', 429: 'rate_limited', 502: 'homeserver_error' }[status] ?? 'error';
}
