import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import websocket from '@fastify/websocket';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { ManagementError } from '../core/management.ts';
import { healthReport } from '../core/health.ts';
import { redactText } from '../core/redact.ts';
import { API_PREFIX, type ApiDeps } from './deps.ts';
import { registerAuthRoutes } from './routes/auth.ts';
import { registerPluginRoutes } from './routes/plugins.ts';
import { registerInstanceRoutes } from './routes/instances.ts';
import { registerClientRoutes } from './routes/clients.ts';
import { registerLogRoutes } from './routes/logs.ts';
import { registerLiveRoutes } from './routes/live.ts';
import { registerConsole, type ConsoleAsset } from './console.ts';

declare module 'fastify' {
  interface FastifyRequest {
    username?: string;
  }
  interface FastifyContextConfig {
    public?: boolean;
  }
}

/** Archives and avatars are sent as raw bodies, as maubot's upload endpoint expects. */
const RAW_TYPES = /^(application\/(zip|octet-stream|x-zip-compressed)|image\/[\w.+-]+)$/;
const MAX_BODY = 64 * 1024 * 1024;

export async function createApiServer(deps: ApiDeps, consoleAssets?: Map<string, ConsoleAsset>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: MAX_BODY, trustProxy: false });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Trellis management API', version: deps.version, description: "Shape-compatible with maubot's management API where it covers the same thing." },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(websocket);
  await app.register(rateLimit, { global: false });

  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: FastifyError | ManagementError | Error, req, reply) => {
    if (err instanceof ManagementError) {
      return reply.code(err.status).send({ errcode: codeFor(err.status), error: redactText(err.message), problems: err.problems.map(redactText) });
    }
    const status = (err as FastifyError).statusCode;
    if (status && status < 500) {
      return reply.code(status).send({ errcode: codeFor(status), error: redactText(err.message), problems: [] });
    }
    deps.log.error(`management API ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} failed: ${err.message}`, { err });
    return reply.code(500).send({ errcode: 'internal_error', error: 'internal error; see the daemon log', problems: [] });
  });

  // Every route needs the bearer token except those marked public.
  app.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) {
      const user = deps.tokens.verify(header.slice(7).trim());
      if (user) req.username = user;
    }
    if (req.routeOptions.config?.public || req.username !== undefined) return;
    // Console client-side routes (e.g. /instances/x on reload) fall through to index.html.
    if (req.is404 && consoleAssets && !req.url.startsWith(API_PREFIX)) return;
    // Websocket upgrades may authenticate with their first message instead.
    if (req.headers.upgrade?.toLowerCase() === 'websocket') return;
    return reply.code(401).send({ errcode: 'unauthorized', error: 'missing, invalid or expired bearer token; POST /_matrix/maubot/v1/auth/login first', problems: [] });
  });

  app.get('/health', { config: { public: true }, schema: { summary: 'Health: 200 healthy, 503 degraded', tags: ['system'] } }, async (_req, reply) => {
    const report = await healthReport({ storage: deps.storage, supervisor: deps.supervisor, errors: deps.errors, startedAt: deps.startedAt });
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });
  app.get('/metrics', { config: { public: true }, schema: { summary: 'Prometheus metrics', tags: ['system'] } }, async (_req, reply) => {
    for (const client of deps.supervisor.clients.values()) {
      const last = client.status.lastSuccessAt;
      if (last) deps.metrics.syncAge.set({ client: client.userId }, (Date.now() - last) / 1000);
    }
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  await app.register(
    async (api) => {
      api.get('/version', { config: { public: true }, schema: { summary: 'Version (unauthenticated health probe)', tags: ['system'] } }, async () => ({ version: deps.version, name: 'trellis' }));
      api.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
      registerAuthRoutes(api, deps);
      registerPluginRoutes(api, deps);
      registerInstanceRoutes(api, deps);
      registerClientRoutes(api, deps);
      registerLogRoutes(api, deps);
      registerLiveRoutes(api, deps);
    },
    { prefix: API_PREFIX },
  );
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  if (consoleAssets) registerConsole(app, consoleAssets);
  return app;
}

function codeFor(status: number): string {
  return { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'too_large', 429: 'rate_limited', 502: 'homeserver_error' }[status] ?? 'error';
}
