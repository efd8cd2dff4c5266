/** Bot accounts by homeserver login or registration, as maubot: /client/auth/servers, /client/auth/{server}/register|login. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ManagementError } from '../../core/management.ts';
import { apiClient, apiMatrixLogin } from '../serialize.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, AuthServers, Client, ClientAuthBody, ClientAuthParams, ClientAuthQuery, ClientAuthSsoParams, ClientAuthSsoWaitBody, MatrixLogin, errors } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';
import { profileFrom } from './clients.ts';

const SSO_NOT_SUPPORTED = 'single sign-on is not supported: log in or register with a username and password';

/** An error with maubot's errcode (the clients match on it). */
function refuse(reply: FastifyReply, status: number, errcode: string, error: string) {
  return reply.code(status).send({ errcode, error, problems: [] });
}

export function registerClientAuthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/client/auth/servers',
    { schema: { summary: 'The homeservers bot accounts can log in or register on: name to URL (from the config)', tags: ['clients'], response: { 200: AuthServers, ...errors(401) } } },
    async () => deps.management.homeserverUrls(),
  );

  api.post(
    '/client/auth/:server/:action',
    {
      schema: {
        summary:
          'register | login a bot account on a configured homeserver. Without update_client=true nothing is saved and the answer is the Matrix login, access token included (as maubot); with it the account is added (201) or its token replaced (202)',
        tags: ['clients'],
        params: ClientAuthParams,
        querystring: ClientAuthQuery,
        body: ClientAuthBody,
        response: {
          200: MatrixLogin,
          201: Client.meta({ description: 'Added' }),
          202: Client.meta({ description: 'Updated: logged in again with a new device and token' }),
          403: ApiError.meta({ description: 'sso_not_supported: single sign-on (sso=true) is not supported' }),
          ...errors(400, 401, 404, 409, 413, 415, 500, 502),
        },
      },
      // Before the body is checked: an SSO request has no username or password to check.
      preValidation: async (req, reply) => {
        if ((req.query as Record<string, unknown>).sso === 'true') return refuse(reply, 403, 'sso_not_supported', SSO_NOT_SUPPORTED);
      },
    },
    async (req, reply) => {
      const { server, action } = req.params;
      if (action !== 'login' && action !== 'register') throw new ManagementError(404, `unknown action ${action}; use register or login`);
      // maubot's names only (Trellis's other client routes also take a URL).
      if (!(server in deps.management.homeserverUrls())) return refuse(reply, 404, 'server_not_found', `no homeserver named ${server} in the config; GET /client/auth/servers lists them`);
      const { username, password, method, registration_token: registrationToken, device_name: deviceName } = req.body;
      if (action === 'register' && registrationToken === undefined && !deps.management.registrationConfigured(server)) {
        return refuse(reply, 404, 'registration_secret_not_found', `homeserver ${server} has neither registration_token nor shared_secret configured; configure one or pass registration_token`);
      }
      const { hs, creds } =
        action === 'login'
          ? await deps.management.passwordLogin(server, username, password, deviceName)
          : await deps.management.registerAccount(server, { username, password, registrationToken, method });
      if (!req.query.update_client) {
        // The operator asked for the token itself: the one response that carries one (never logged).
        return reply.code(200).send(apiMatrixLogin(creds));
      }
      const { record, created } = await deps.management.saveLoggedInClient(hs, creds, profileFrom(req.body));
      return reply.code(created ? 201 : 202).send(apiClient(record, deps));
    },
  );

  api.post(
    '/client/auth/:server/sso/:id/wait',
    {
      schema: {
        summary: 'Single sign-on is not supported: always 403 sso_not_supported',
        tags: ['clients'],
        params: ClientAuthSsoParams,
        body: ClientAuthSsoWaitBody,
        response: {
          200: MatrixLogin.meta({ description: "Never sent (maubot's answer once the single sign-on finished)" }),
          403: ApiError.meta({ description: 'sso_not_supported' }),
          ...errors(401),
        },
      },
    },
    async (_req, reply) => refuse(reply, 403, 'sso_not_supported', SSO_NOT_SUPPORTED),
  );
}
