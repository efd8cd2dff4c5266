/** Bot account routes: /clients, /client/{id} (with rooms, avatar, clearcache), /client/new, and the media proxy (proxy.ts). Logging in and registering: client-auth.ts. */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ManagementError, notFound, type ClientProfileInput } from '../../core/management.ts';
import { apiClient } from '../serialize.ts';
import { RemoteProfiles } from '../remote-profile.ts';
import { registerProxyRoutes } from './proxy.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { AvatarBody, Client, ClientBody, ClientRooms, IdParams, NewClientBody, Success, VerifyBody, errors, noContent } from '../schemas.ts';
import { asBuffer, type ZodTypeProvider } from '../typed-routes.ts';

/** The settings of a checked client body as management's input. */
export function profileFrom(body: z.output<typeof ClientBody>): ClientProfileInput {
  const profile: ClientProfileInput = {};
  const name = body.displayname ?? body.display_name;
  if (name !== undefined && name !== null) profile.displayName = name;
  // null (and maubot's empty field) means unchanged; "disable" stops managing it.
  if (body.avatar_url !== undefined && body.avatar_url !== null && body.avatar_url !== '') profile.avatarUrl = body.avatar_url;
  if (body.autojoin !== undefined) profile.autojoin = body.autojoin;
  if (body.enabled !== undefined) profile.enabled = body.enabled;
  if (body.encryption !== undefined) profile.encryption = body.encryption;
  if (body.autojoin_allow !== undefined) profile.autojoinAllow = body.autojoin_allow;
  return profile;
}

export function registerClientRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  registerProxyRoutes(app, deps);
  const remote = new RemoteProfiles(deps.supervisor);
  const view = async (id: string) => {
    const record = await deps.storage.clients.get(id);
    if (!record) throw notFound.client(id);
    return apiClient(record, deps, await remote.get(id));
  };
  const notSupported = (what: string) =>
    new ManagementError(501, `${what} is not supported by Trellis: it does not keep cross-signing keys or a recovery key for its bot devices (see docs/maubot-compatibility.md)`, [], 'not_supported');

  api.get('/clients', { schema: { summary: 'List bot accounts', tags: ['clients'], response: { 200: Client.array().meta({ description: 'Every bot account' }), ...errors(401, 500) } } }, async () =>
    Promise.all((await deps.storage.clients.list()).map(async (r) => apiClient(r, deps, await remote.get(r.id)))),
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
        response: { 201: Client.meta({ description: 'Added' }), ...errors(400, 401, 409, 413, 415, 500, 502) },
      },
    },
    async (req, reply) => {
      const check = { mustBeNew: true, ...(req.body.device_id ? { deviceId: req.body.device_id } : {}) };
      const record = await deps.management.addClientWithToken(req.body.homeserver, req.body.access_token, profileFrom(req.body), 'api', check);
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
        response: { 200: Client.meta({ description: 'Updated' }), 201: Client.meta({ description: 'Added' }), ...errors(400, 401, 403, 404, 409, 413, 415, 500, 502) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const existing = await deps.storage.clients.get(id);
      const { homeserver, access_token: token, started } = req.body;
      // What the token must be for: this account (maubot's mxid_mismatch), checked before anything is saved.
      const check = { userId: id, ...(req.body.device_id ? { deviceId: req.body.device_id } : {}) };
      remote.forget(id);
      if (!existing) {
        if (!homeserver || !token) throw new ManagementError(404, `bot account ${id} not found; to create it send homeserver and access_token`, [], 'client_not_found');
        await deps.management.addClientWithToken(homeserver, token, profileFrom(req.body), 'api', check);
        return reply.code(201).send(await view(id));
      }
      // maubot's web app sends its access_token field back empty.
      const profile = profileFrom(req.body);
      if (started === true && !(profile.enabled ?? existing.enabled)) throw new ManagementError(400, `bot account ${id} is disabled; send enabled: true to start it`);
      if (token) await deps.management.addClientWithToken(existing.homeserver || existing.homeserverUrl, token, {}, existing.managedBy, check);
      await deps.management.updateClient(id, profile);
      // `started` starts or stops the sync now, without changing `enabled` (what the daemon does at its next start).
      const account = deps.supervisor.clients.get(id);
      if (started === false) await account?.stop();
      else if (started === true) account?.start();
      return view(id);
    },
  );

  api.post(
    '/client/:id/clearcache',
    {
      schema: {
        summary: "Forget the account's sync token: its next sync starts afresh (events already handled are not handled again)",
        tags: ['clients'],
        params: IdParams,
        response: { 200: Success, ...errors(401, 404, 500) },
      },
    },
    async (req) => {
      await deps.management.clearClientCache(req.params.id);
      return { success: true as const };
    },
  );

  api.post(
    '/client/:id/verify',
    {
      schema: {
        summary: 'Not supported: verify the bot device with a recovery key (maubot); always 501',
        tags: ['clients'],
        params: IdParams,
        body: VerifyBody,
        response: { ...errors(401, 404, 501) },
      },
    },
    async (req) => {
      await view(req.params.id);
      throw notSupported('verifying a bot device with a recovery key');
    },
  );

  api.post(
    '/client/:id/generate_recovery_key',
    {
      schema: { summary: 'Not supported: create cross-signing keys and a recovery key (maubot); always 501', tags: ['clients'], params: IdParams, response: { ...errors(401, 404, 501) } },
    },
    async (req) => {
      await view(req.params.id);
      throw notSupported('generating a recovery key');
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
      remote.forget(req.params.id);
      await deps.management.setClientAvatar(req.params.id, asBuffer(req.body), String(req.headers['content-type'] ?? ''));
      return view(req.params.id);
    },
  );

  api.delete(
    '/client/:id',
    { schema: { summary: 'Remove a bot account (refused while instances use it)', tags: ['clients'], params: IdParams, response: { 204: noContent('Removed'), ...errors(401, 403, 404, 412, 500) } } },
    async (req, reply) => {
      await deps.management.deleteClient(req.params.id);
      return reply.code(204).send();
    },
  );
}
