/**
 * The public listener (config `public:`): serves the web endpoints plugin
 * instances register (src/sdk/web-routes.ts) and nothing else of Trellis:
 * no management route, console or metrics answers here. Every body is read
 * as bytes up to `max_body_bytes`; a plugin's failure is answered with a
 * 5xx for that request only and logged with its instance id.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { JsonValue } from '../sdk/index.ts';
import type { HttpMethod, WebRequest } from '../sdk/web.ts';
import { answerAndLinger, formatLimit } from '../api/server.ts';
import type { Logger } from '../core/logging.ts';
import { invokeRoute, webRequest, type RouteMatch, type WebOutcome, type WebRoutes } from '../sdk/web-routes.ts';

/** A handler that has not answered by then gets 504; the request is not retried. */
const HANDLER_TIMEOUT_MS = 30_000;

export interface PublicServerOptions {
  routes: WebRoutes;
  log: Logger;
  maxBodyBytes: number;
}

/** hookshot's answer shape ({ok, error}), which webhook senders' tooling already expects. */
const refuse = (reply: FastifyReply, status: number, error: string) => reply.code(status).send({ ok: false, error });

export function createPublicServer(options: PublicServerOptions): FastifyInstance {
  const { routes, log } = options;
  const app = Fastify({ logger: false, bodyLimit: options.maxBodyBytes, requestTimeout: 60_000, return503OnClosing: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return answerAndLinger(reply, 413, { ok: false, error: `request body too large: this endpoint takes at most ${formatLimit(options.maxBodyBytes)}` });
    }
    if (err.statusCode && err.statusCode < 500) return refuse(reply, err.statusCode, err.message);
    log.error(`public listener: ${req.method} ${req.url.split('?')[0]} failed: ${err.message}`);
    return refuse(reply, 500, 'internal error');
  });

  app.setNotFoundHandler((_req, reply) => refuse(reply, 404, 'not found'));
  app.all('/*', async (req, reply) => {
    const url = new URL(req.url, 'http://public.invalid');
    const match = routes.match(req.method, url.pathname);
    if (!match) {
      const { status, allow, error } = routes.unmatched(req.method, url.pathname);
      return refuse(allow ? reply.header('allow', allow) : reply, status, error);
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    return answer(reply, await run(match, webRequest(req.method as HttpMethod, match, url, req.headers, body)));
  });
  return app;
}

/** Runs the plugin's handler, bounded in time. */
async function run(match: RouteMatch, request: WebRequest): Promise<WebOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<WebOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, status: 504, error: `the plugin did not answer within ${HANDLER_TIMEOUT_MS / 1000} s` }), HANDLER_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([invokeRoute(match, request), timeout]);
    if (!outcome.ok && outcome.status === 504) match.target.log.warn(`web endpoint ${request.method} ${request.path}: ${outcome.error}`);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

function answer(reply: FastifyReply, outcome: WebOutcome): FastifyReply {
  if (!outcome.ok) return refuse(reply, outcome.status, outcome.error);
  const { status = 200, headers = {}, body } = outcome.response;
  reply.code(status);
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  const typed = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  if (body === undefined) return reply.send();
  if (typeof body === 'string') return (typed ? reply : reply.type('text/plain; charset=utf-8')).send(body);
  if (body instanceof Uint8Array) return (typed ? reply : reply.type('application/octet-stream')).send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  return (typed ? reply : reply.type('application/json; charset=utf-8')).send(JSON.stringify(body as JsonValue));
}
