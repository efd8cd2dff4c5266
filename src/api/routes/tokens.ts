/** Named, long-lived API tokens for scripts and mbc: GET/POST /tokens, DELETE /tokens/{name} (a login session only). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { TokenNameError, type ApiTokenInfo as StoredInfo } from '../api-tokens.ts';
import { ApiTokenList, NewApiToken, NewApiTokenBody, TokenNameParams, errors, noContent, type ApiTokenInfo } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';

function apiToken(info: StoredInfo): ApiTokenInfo {
  return { name: info.name, created_at: info.createdAt, last_used_at: info.lastUsedAt };
}

/** A named token may not mint or revoke tokens: a leaked script token must not outlive its own revocation. */
async function sessionOnly(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (req.auth?.kind !== 'session') {
    await reply.code(403).send({ errcode: 'forbidden', error: 'API tokens are managed with a login session (POST /auth/login), not with an API token', problems: [] });
  }
}

export function registerTokenRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const named = () => {
    if (!deps.tokens.named) throw new Error('named API tokens are not configured');
    return deps.tokens.named;
  };

  api.get(
    '/tokens',
    { preHandler: sessionOnly, schema: { summary: 'Named API tokens (never their secrets)', tags: ['auth'], response: { 200: ApiTokenList, ...errors(401, 403, 500) } } },
    async () => ({ tokens: (await named().list()).map(apiToken) }),
  );

  api.post(
    '/tokens',
    {
      preHandler: sessionOnly,
      schema: {
        summary: 'Create a named API token for a script or mbc; it never expires and is shown only in this answer',
        tags: ['auth'],
        body: NewApiTokenBody,
        response: { 201: NewApiToken, ...errors(400, 401, 403, 409, 500) },
      },
    },
    async (req, reply) => {
      try {
        const created = await named().create(req.body.name);
        deps.log.info(`API token ${created.name} created`);
        return reply.code(201).send({ name: created.name, token: created.token, created_at: created.createdAt, last_used_at: null });
      } catch (err) {
        if (!(err instanceof TokenNameError)) throw err;
        if (err.reason === 'exists') return reply.code(409).send({ errcode: 'token_exists', error: err.message, problems: [] });
        return reply.code(400).send({ errcode: 'bad_request', error: 'invalid token request', problems: [`name: ${err.message}`] });
      }
    },
  );

  api.delete(
    '/tokens/:name',
    {
      preHandler: sessionOnly,
      schema: {
        summary: 'Revoke a named API token (at once, also for open websockets within a second)',
        tags: ['auth'],
        params: TokenNameParams,
        response: { 204: noContent('Revoked'), ...errors(401, 403, 404, 500) },
      },
    },
    async (req, reply) => {
      if (!(await named().revoke(req.params.name))) return reply.code(404).send({ errcode: 'token_not_found', error: `no API token named ${req.params.name.slice(0, 80)}`, problems: [] });
      deps.log.info(`API token ${req.params.name.slice(0, 80)} revoked`);
      return reply.code(204).send();
    },
  );
}
