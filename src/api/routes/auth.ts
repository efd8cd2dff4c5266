/** POST /auth/login (throttled), /auth/logout, /auth/ping, GET /features and /debug/open (maubot's). */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { verifyPassword } from '../../config/password.ts';
import { LoginThrottle } from '../login-throttle.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, DebugOpen, LoginBody, LoginResult, PingResult, PublicFeatures, errors, noContent } from '../schemas.ts';
import { API_FEATURES } from '../features.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';
import { errorMessage } from '../../shared/error-message.ts';

/** Written by the first `npm start` (src/cli/main.ts) into data_dir; useless once the admin has logged in. */
export const INITIAL_PASSWORD_FILE = 'initial-admin-password';

/** Injected in tests. */
export interface AuthRouteOptions {
  throttle?: LoginThrottle;
  verify?: (hash: string, password: string) => Promise<boolean>;
}

export function registerAuthRoutes(app: FastifyInstance, deps: ApiDeps, options: AuthRouteOptions = {}): void {
  const throttle = options.throttle ?? new LoginThrottle();
  const verify = options.verify ?? verifyPassword;
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        summary: 'Log in with the admin account; returns a bearer token (failed attempts are throttled per address and per username: 429 with Retry-After)',
        tags: ['auth'],
        security: [],
        body: LoginBody,
        response: { 200: LoginResult, ...errors(400, 413, 415, 429, 500), 401: ApiError.meta({ description: 'Wrong username or password (errcode invalid_auth)' }) },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body;
      const admin = deps.config().admin;
      const refused = throttle.attempt(req.ip, username);
      if (refused) {
        const seconds = Math.max(1, Math.ceil(refused.retryAfterMs / 1000));
        const why = refused.reason === 'address' ? 'too many failed logins from this address' : `too many failed logins for ${username.slice(0, 64)}`;
        return reply
          .code(429)
          .header('retry-after', String(seconds))
          .send({ errcode: 'rate_limited', error: `${why}; try again in ${seconds} s`, problems: [] });
      }
      // The hash is checked whatever the username, so a wrong username takes as long as a wrong password
      // (the admin's own hash: same algorithm and cost); the result only counts for the admin's name.
      const passwordOk = await verify(admin.password_hash, password);
      if (!(passwordOk && username === admin.username)) {
        deps.log.warn('failed management login', { username: username.slice(0, 64), ip: req.ip });
        return reply.code(401).send({ errcode: 'invalid_auth', error: 'wrong username or password', problems: [] });
      }
      throttle.succeeded(req.ip, username);
      await removeInitialPassword(deps);
      const { token, expiresAt } = deps.tokens.issue(username);
      return { token, expires_at: expiresAt };
    },
  );

  api.post(
    '/auth/logout',
    { schema: { summary: 'Revoke the bearer token of this request (it stays revoked after a restart)', tags: ['auth'], response: { 204: noContent('Logged out'), ...errors(401, 500) } } },
    async (req, reply) => {
      await deps.tokens.revoke(req.auth?.token ?? '');
      return reply.code(204).send();
    },
  );

  api.post('/auth/ping', { schema: { summary: 'Check a token: who it is for and the features (as maubot)', tags: ['auth'], response: { 200: PingResult, ...errors(401, 500) } } }, async (req) => ({
    username: req.username!,
    features: API_FEATURES,
  }));

  api.get(
    '/features',
    {
      config: { public: true },
      schema: { summary: "maubot's api_features: the full map with a valid token, {login} without one (never 401)", tags: ['auth'], security: [], response: { 200: PublicFeatures, ...errors(500) } },
    },
    async (req) => (req.username !== undefined ? API_FEATURES : { login: API_FEATURES.login }),
  );

  api.get('/debug/open', { schema: { summary: "maubot's open-in-editor helper: never enabled in Trellis", tags: ['system'], response: { 200: DebugOpen, ...errors(401, 500) } } }, async () => ({
    enabled: false as const,
  }));
  api.post('/debug/open', { schema: { summary: "maubot's open-in-editor helper: not supported (501)", tags: ['system'], response: { ...errors(401, 500, 501) } } }, async (_req, reply) =>
    reply.code(501).send({ errcode: 'not_supported', error: "Trellis has no open-in-editor development helper (maubot's dev_open)", problems: [] }),
  );
}

/** The generated first-run password has served its purpose once the admin is in: do not leave it lying around. */
async function removeInitialPassword(deps: ApiDeps): Promise<void> {
  const file = join(deps.config().data_dir, INITIAL_PASSWORD_FILE);
  try {
    await rm(file);
    deps.log.info(`admin logged in: removed the first-run password file ${file} (the password in the config's admin.password_hash is unchanged)`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') deps.log.warn(`could not remove the first-run password file ${file}: ${errorMessage(err)}`);
  }
}
