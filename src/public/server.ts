/**
 * The public listener (config `public:`): serves the web endpoints plugin
 * instances register (src/sdk/web-routes.ts) and nothing else of Trellis:
 * no management route, console or metrics answers here. Every body is read
 * as bytes up to `max_body_bytes`; a plugin's failure is answered with a
 * 5xx for that request only and logged with its instance id.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { HttpMethod } from '../sdk/web.ts';
import { answerAndLinger, formatLimit } from '../api/server.ts';
import { sendWebResponse } from '../api/web-response.ts';
import type { Logger } from '../core/logging.ts';
import { invokeRoute, webRequest, type WebRoutes } from '../sdk/web-routes.ts';

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
    const outcome = await invokeRoute(match, webRequest(req.method as HttpMethod, match, url, req.headers, body));
    return outcome.ok ? sendWebResponse(reply, outcome.response) : refuse(reply, outcome.status, outcome.error);
  });
  return app;
}
