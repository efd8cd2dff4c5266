/** Bot account routes: /clients, /client/{id} (with rooms and avatar), /client/new. Logging in and registering: client-auth.ts. */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ManagementError, type ClientProfileInput } from '../../core/management.ts';
import { apiClient } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { AvatarBody, Client, ClientBody, ClientRooms, IdParams, NewClientBody, errors, noContent } from '../schemas.ts';
import { asBuffer, type ZodTypeProvider } from '../typed-routes.ts';

/** The settings of a checked client body as management's input. */
export function profileFrom(body: z.output<typeof ClientBody>): ClientProfileInput {
  const profile: ClientProfileInput = {};
  const name = body.displayname ?? body.display_name;
  if (name !== undefined && name !== null) profile.displayName = name;
  if (body.avatar_url !== undefined) profile.avatarUrl = body.avatar_url;
  if (body.autojoin !== undefined) profile.autojoin = body.autojoin;
  if (body.enabled !== undefined) profile.enabled = body.enabled;
  if (body.encryption !== undefined) profile.encryption = body.encryption;
  if (body.autojoin_allow !== undefined) profile.autojoinAllow = body.autojoin_allow;
  return profile;
}

export function registerClientRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const view = async (id: string) => {
    const record = await deps.storage.clients.get(id);
    if (!record) throw new ManagementError(404, `bot account ${id} not found`);
    return apiClient(record, deps);
  };

  api.get('/clients', { schema: { summary: 'List bot accounts', tags: ['clients'], response: { 200: Client.array().meta({ description: 'Every bot account' }), ...errors(401, 500) } } }, async () =>
    (await deps.storage.clients.list()).map((r) => apiClient(r, deps)),
  );
  api.get('/client/:id', { schema: { summary: 'Get a bot account', tags: ['clients'], params: IdParams, response: { 200: Client, ...errors(401, 404, 500) } } }, async (req) => view(req.params.id));

  api.get(
    '/client/:id/rooms',
    { schema: { summary: "The bot account's joined rooms with their names (for room allowlists)", tags: ['clients'], params: IdParams, response: { 200: ClientRooms, ...errors(401, 404, 500) } } },
    async (req) => {
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
    },
  );

  api.post(
    '/client/new',
    {
      schema: {
        summary: 'Add a bot account by access token',
        tags: ['clients'],
        body: NewClientBody,
        response: { 201: Client.meta({ description: 'Added' }), ...errors(400, 401, 413, 415, 500, 502) },
      },
    },
    async (req, reply) => {
      const record = await deps.management.addClientWithToken(req.body.homeserver, req.body.access_token, profileFrom(req.body));
      return reply.code(201).send(await view(record.id));
    },
  );

  api.put(
    '/client/:id',
    {
      schema: {
        summary: 'Update a bot account (profile, autojoin, enabled, encryption) or create it with access_token',
        tags: ['clients'],
        params: IdParams,
        body: ClientBody,
        response: { 200: Client.meta({ description: 'Updated' }), 201: Client.meta({ description: 'Added' }), ...errors(400, 401, 403, 404, 413, 415, 500, 502) },
      },
    },
    async (req, reply) => {
      const existing = await deps.storage.clients.get(req.params.id);
      const { homeserver, access_token: token } = req.body;
      if (!existing) {
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

  api.put(
    '/client/:id/avatar',
    {
      bodyLimit: BODY_LIMITS.avatar,
      schema: {
        summary: 'Upload an avatar image (raw body) and set it',
        tags: ['clients'],
        consumes: ['image/*'],
        params: IdParams,
        body: AvatarBody,
        response: { 200: Client, ...errors(400, 401, 404, 413, 415, 500, 502) },
      },
    },
    async (req) => {
      await deps.management.setClientAvatar(req.params.id, asBuffer(req.body), String(req.headers['content-type'] ?? ''));
      return view(req.params.id);
    },
  );

  api.delete(
    '/client/:id',
    { schema: { summary: 'Remove a bot account (refused while instances use it)', tags: ['clients'], params: IdParams, response: { 204: noContent('Removed'), ...errors(401, 403, 404, 409, 500) } } },
    async (req, reply) => {
      await deps.management.deleteClient(req.params.id);
      return reply.code(204).send();
    },
  );
}
