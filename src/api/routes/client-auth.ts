/** Bot accounts by homeserver login or registration: /client/auth/{server}/register|login. */
import type { FastifyInstance } from 'fastify';
import { ManagementError } from '../../core/management.ts';
import { apiClient } from '../serialize.ts';
import type { ApiDeps } from '../deps.ts';
import { Client, ClientAuthBody, ClientAuthParams, errors } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';
import { profileFrom } from './clients.ts';

export function registerClientAuthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.post(
    '/client/auth/:server/:action',
    {
      schema: {
        summary: 'register | login a bot account on a configured homeserver; the account is added',
        tags: ['clients'],
        params: ClientAuthParams,
        body: ClientAuthBody,
        response: { 201: Client.meta({ description: 'Added' }), ...errors(400, 401, 404, 409, 413, 415, 500, 502) },
      },
    },
    async (req, reply) => {
      const { username, password, method, registration_token: registrationToken } = req.body;
      const profile = profileFrom(req.body);
      let record;
      if (req.params.action === 'login') record = await deps.management.loginClient(req.params.server, username, password, profile);
      else if (req.params.action === 'register') record = await deps.management.registerClient(req.params.server, { username, password, registrationToken, method }, profile);
      else throw new ManagementError(404, `unknown action ${req.params.action}; use register or login`);
      return reply.code(201).send(apiClient(record, deps));
    },
  );
}
