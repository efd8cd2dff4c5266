import type { FastifyInstance } from 'fastify';
import { verifyPassword } from '../../config/password.ts';
import type { ApiDeps } from '../deps.ts';

export function registerAuthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: { username?: unknown; password?: unknown } }>(
    '/auth/login',
    {
      config: { public: true, rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: {
        summary: 'Log in with the admin account; returns a bearer token',
        tags: ['auth'],
        body: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string' } } },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body ?? {};
      const admin = deps.config().admin;
      const ok = typeof username === 'string' && typeof password === 'string' && username === admin.username && (await verifyPassword(admin.password_hash, password));
      if (!ok) {
        deps.log.warn('failed management login', { username: typeof username === 'string' ? username.slice(0, 64) : null, ip: req.ip });
        return reply.code(401).send({ errcode: 'invalid_credentials', error: 'wrong username or password' });
      }
      const { token, expiresAt } = deps.tokens.issue(username);
      return { token, expires_at: expiresAt };
    },
  );

  app.post('/auth/ping', { schema: { summary: 'Check a token', tags: ['auth'] } }, async (req) => ({ username: req.username }));
}
