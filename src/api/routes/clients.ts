import type { FastifyInstance } from 'fastify';
import { ManagementError, type ClientProfileInput } from '../../core/management.ts';
import { apiClient } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';

type Body = Record<string, unknown> | undefined;

function str(body: Body, key: string): string | undefined {
  const v = body?.[key];
  return typeof v === 'string' ? v : undefined;
}

function profileFrom(body: Body): ClientProfileInput {
  const problems: string[] = [];
  const profile: ClientProfileInput = {};
  const name = body?.displayname ?? body?.display_name;
  if (name !== undefined) typeof name === 'string' ? (profile.displayName = name) : problems.push('displayname: must be a string');
  if (body?.avatar_url !== undefined) typeof body.avatar_url === 'string' ? (profile.avatarUrl = body.avatar_url) : problems.push('avatar_url: must be an mxc:// string');
  if (body?.autojoin !== undefined) typeof body.autojoin === 'boolean' ? (profile.autojoin = body.autojoin) : problems.push('autojoin: must be true or false');
  if (body?.enabled !== undefined) typeof body.enabled === 'boolean' ? (profile.enabled = body.enabled) : problems.push('enabled: must be true or false');
  if (body?.encryption !== undefined) typeof body.encryption === 'boolean' ? (profile.encryption = body.encryption) : problems.push('encryption: must be true or false');
  if (body?.autojoin_allow !== undefined) {
    const list = body.autojoin_allow;
    Array.isArray(list) && list.every((x) => typeof x === 'string') ? (profile.autojoinAllow = list as string[]) : problems.push('autojoin_allow: must be a list of user ids or server names');
  }
  if (problems.length) throw new ManagementError(400, 'invalid bot account settings', problems);
  return profile;
}

export function registerClientRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const view = async (id: string) => {
    const record = await deps.storage.clients.get(id);
    if (!record) throw new ManagementError(404, `bot account ${id} not found`);
    return apiClient(record, deps);
  };

  app.get('/clients', { schema: { summary: 'List bot accounts', tags: ['clients'] } }, async () => (await deps.storage.clients.list()).map((r) => apiClient(r, deps)));
  app.get<{ Params: { id: string } }>('/client/:id', { schema: { summary: 'Get a bot account', tags: ['clients'] } }, async (req) => view(req.params.id));

  app.get<{ Params: { id: string } }>('/client/:id/rooms', { schema: { summary: "The bot account's joined rooms with their names (for room allowlists)", tags: ['clients'] } }, async (req) => {
    await view(req.params.id);
    const runtime = deps.supervisor.clients.get(req.params.id);
    if (!runtime) return { rooms: [] };
    // Names are looked up on demand; a room without m.room.name falls back to its canonical alias.
    const rooms = await Promise.all(
      [...runtime.joinedRooms].map(async (roomId) => {
        const name = await runtime.matrix.getStateEvent(roomId, 'm.room.name').catch(() => null);
        const alias = name?.name ? null : await runtime.matrix.getStateEvent(roomId, 'm.room.canonical_alias').catch(() => null);
        const label = typeof name?.name === 'string' && name.name ? name.name : typeof alias?.alias === 'string' ? alias.alias : null;
        return { room_id: roomId, name: label };
      }),
    );
    return { rooms };
  });

  app.post<{ Body: Body }>('/client/new', { schema: { summary: 'Add a bot account by access token', tags: ['clients'] } }, async (req, reply) => {
    const homeserver = str(req.body, 'homeserver');
    const token = str(req.body, 'access_token');
    if (!homeserver || !token) throw new ManagementError(400, 'homeserver (a configured name or URL) and access_token are required');
    const record = await deps.management.addClientWithToken(homeserver, token, profileFrom(req.body));
    return reply.code(201).send(await view(record.id));
  });

  app.put<{ Params: { id: string }; Body: Body }>(
    '/client/:id',
    { schema: { summary: 'Update a bot account (profile, autojoin, enabled, encryption) or create it with access_token', tags: ['clients'] } },
    async (req, reply) => {
      const existing = await deps.storage.clients.get(req.params.id);
      const token = str(req.body, 'access_token');
      if (!existing) {
        const homeserver = str(req.body, 'homeserver');
        if (!homeserver || !token) throw new ManagementError(404, `bot account ${req.params.id} not found; to create it send homeserver and access_token`);
        const record = await deps.management.addClientWithToken(homeserver, token, profileFrom(req.body));
        if (record.id !== req.params.id) throw new ManagementError(400, `the access token belongs to ${record.id}, not ${req.params.id} (saved as ${record.id})`);
        return reply.code(201).send(await view(record.id));
      }
      if (token) await deps.management.addClientWithToken(existing.homeserver || existing.homeserverUrl, token, {});
      await deps.management.updateClient(req.params.id, profileFrom(req.body));
      return view(req.params.id);
    },
  );

  app.put<{ Params: { id: string } }>('/client/:id/avatar', { bodyLimit: BODY_LIMITS.avatar, schema: { summary: 'Upload an avatar image (raw body) and set it', tags: ['clients'] } }, async (req) => {
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new ManagementError(400, 'send the image as the raw request body with its Content-Type');
    await deps.management.setClientAvatar(req.params.id, req.body, String(req.headers['content-type'] ?? ''));
    return view(req.params.id);
  });

  app.delete<{ Params: { id: string } }>('/client/:id', { schema: { summary: 'Remove a bot account (refused while instances use it)', tags: ['clients'] } }, async (req, reply) => {
    await deps.management.deleteClient(req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: { server: string; action: string }; Body: Body }>(
    '/client/auth/:server/:action',
    { schema: { summary: 'register | login a bot account on a configured homeserver; the account is added', tags: ['clients'] } },
    async (req, reply) => {
      const username = str(req.body, 'username');
      const password = str(req.body, 'password');
      if (!username || !password) throw new ManagementError(400, 'username and password are required');
      const profile = profileFrom(req.body);
      let record;
      if (req.params.action === 'login') record = await deps.management.loginClient(req.params.server, username, password, profile);
      else if (req.params.action === 'register') {
        const method = str(req.body, 'method');
        if (method !== undefined && method !== 'token' && method !== 'shared_secret') throw new ManagementError(400, 'method must be "token" or "shared_secret"');
        record = await deps.management.registerClient(req.params.server, { username, password, registrationToken: str(req.body, 'registration_token'), method }, profile);
      } else throw new ManagementError(404, `unknown action ${req.params.action}; use register or login`);
      return reply.code(201).send(await view(record.id));
    },
  );
}
