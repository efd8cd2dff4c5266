/** Instance routes: /instances, /instance/{id} (create, update, start/stop/restart, delete) and its database view. */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ManagementError, type InstanceInput } from '../../core/management.ts';
import { apiInstance } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { DatabaseQuery, IdParams, Instance, InstanceActionParams, InstanceBody, InstanceDatabase, errors, noContent } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';

/** The checked body as management's input (`started` is not stored: it starts or stops the instance). */
function instanceInput(body: z.output<typeof InstanceBody>): InstanceInput {
  const input: InstanceInput = {};
  if (body.type !== undefined) input.pluginId = body.type;
  if (body.primary_user !== undefined) input.clientId = body.primary_user;
  if (body.enabled !== undefined) input.enabled = body.enabled;
  // Each entry is checked by putInstance, which names the bad ones.
  if (body.rooms !== undefined) input.rooms = body.rooms as string[];
  if (body.config !== undefined) input.config = body.config;
  return input;
}

export function registerInstanceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const view = async (id: string) => {
    const record = await deps.storage.instances.get(id);
    if (!record) throw new ManagementError(404, `instance ${id} not found`);
    return apiInstance(record, deps);
  };

  api.get('/instances', { schema: { summary: 'List instances', tags: ['instances'], response: { 200: Instance.array().meta({ description: 'Every instance' }), ...errors(401, 500) } } }, async () =>
    (await deps.storage.instances.list()).map((r) => apiInstance(r, deps)),
  );
  api.get('/instance/:id', { schema: { summary: 'Get an instance', tags: ['instances'], params: IdParams, response: { 200: Instance, ...errors(401, 404, 500) } } }, async (req) =>
    view(req.params.id),
  );
  api.put(
    '/instance/:id',
    {
      bodyLimit: BODY_LIMITS.instance,
      schema: {
        summary: 'Create or update an instance (config validated against the plugin schema)',
        tags: ['instances'],
        params: IdParams,
        body: InstanceBody,
        response: { 200: Instance.meta({ description: 'Updated' }), 201: Instance.meta({ description: 'Created' }), ...errors(400, 401, 403, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const existed = await deps.storage.instances.get(req.params.id);
      const input = instanceInput(req.body);
      const started = req.body.started;
      const onlyStartStop = started !== undefined && Object.keys(input).length === 0 && existed;
      if (!onlyStartStop) await deps.management.putInstance(req.params.id, input);
      if (started === false) await deps.supervisor.stopInstance(req.params.id);
      else if (started === true && onlyStartStop) await deps.supervisor.startInstance(req.params.id);
      return reply.code(existed ? 200 : 201).send(await view(req.params.id));
    },
  );
  api.post(
    '/instance/:id/:action',
    { schema: { summary: 'start | stop | restart an instance', tags: ['instances'], params: InstanceActionParams, response: { 200: Instance, ...errors(401, 404, 500) } } },
    async (req) => {
      await view(req.params.id);
      const { id, action } = req.params;
      if (action === 'start' || action === 'restart') await deps.supervisor.startInstance(id);
      else if (action === 'stop') await deps.supervisor.stopInstance(id);
      else throw new ManagementError(404, `unknown action ${action}; use start, stop or restart`);
      return view(id);
    },
  );
  api.delete(
    '/instance/:id',
    { schema: { summary: 'Delete an instance and its storage', tags: ['instances'], params: IdParams, response: { 204: noContent('Deleted'), ...errors(401, 403, 404, 500) } } },
    async (req, reply) => {
      await deps.management.deleteInstance(req.params.id);
      return reply.code(204).send();
    },
  );
  api.get(
    '/instance/:id/database',
    {
      schema: {
        summary: "Read-only view of the instance's plugin storage",
        tags: ['instances'],
        params: IdParams,
        querystring: DatabaseQuery,
        response: { 200: InstanceDatabase, ...errors(400, 401, 404, 500) },
      },
    },
    async (req) => {
      await view(req.params.id);
      const rows = await deps.storage.pluginStorage.list(req.params.id, req.query.prefix ?? '');
      return { tables: [{ name: 'kv', columns: ['key', 'value', 'updated_at'], rows: rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as unknown, updated_at: r.updatedAt })) }] };
    },
  );
}
