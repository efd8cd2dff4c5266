import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { ManagementError, type InstanceInput } from '../../core/management.ts';
import { apiInstance } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { errorMessage } from '../../shared/error-message.ts';

interface InstanceBody {
  type?: unknown;
  primary_user?: unknown;
  enabled?: unknown;
  started?: unknown;
  config?: unknown;
  rooms?: unknown;
}

function parseInstanceBody(body: InstanceBody | undefined): { input: InstanceInput; started?: boolean } {
  const b = body ?? {};
  const problems: string[] = [];
  const input: InstanceInput = {};
  if (b.type !== undefined) typeof b.type === 'string' ? (input.pluginId = b.type) : problems.push('type: must be a plugin id string');
  if (b.primary_user !== undefined) typeof b.primary_user === 'string' ? (input.clientId = b.primary_user) : problems.push('primary_user: must be a user id string');
  if (b.enabled !== undefined) typeof b.enabled === 'boolean' ? (input.enabled = b.enabled) : problems.push('enabled: must be true or false');
  if (b.rooms !== undefined) Array.isArray(b.rooms) ? (input.rooms = b.rooms as string[]) : problems.push('rooms: must be a list');
  if (b.config !== undefined) {
    // maubot sends config as a YAML string; we also take a JSON object.
    let config: unknown = b.config;
    if (typeof config === 'string') {
      try {
        config = config.trim() ? parseYaml(config) : {};
      } catch (err) {
        problems.push(`config: not valid YAML: ${errorMessage(err)}`);
      }
    }
    if (config !== null && typeof config === 'object' && !Array.isArray(config)) input.config = config as Record<string, unknown>;
    else if (!problems.length) problems.push('config: must be an object (or a YAML mapping string)');
  }
  if (b.started !== undefined && typeof b.started !== 'boolean') problems.push('started: must be true or false');
  if (problems.length) throw new ManagementError(400, 'invalid instance', problems);
  return { input, started: b.started as boolean | undefined };
}

export function registerInstanceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const view = async (id: string) => {
    const record = await deps.storage.instances.get(id);
    if (!record) throw new ManagementError(404, `instance ${id} not found`);
    return apiInstance(record, deps);
  };

  app.get('/instances', { schema: { summary: 'List instances', tags: ['instances'] } }, async () => (await deps.storage.instances.list()).map((r) => apiInstance(r, deps)));
  app.get<{ Params: { id: string } }>('/instance/:id', { schema: { summary: 'Get an instance', tags: ['instances'] } }, async (req) => view(req.params.id));
  app.put<{ Params: { id: string }; Body: InstanceBody }>(
    '/instance/:id',
    { bodyLimit: BODY_LIMITS.instance, schema: { summary: 'Create or update an instance (config validated against the plugin schema)', tags: ['instances'] } },
    async (req, reply) => {
      const existed = await deps.storage.instances.get(req.params.id);
      const { input, started } = parseInstanceBody(req.body);
      const onlyStartStop = started !== undefined && Object.keys(input).length === 0 && existed;
      if (!onlyStartStop) await deps.management.putInstance(req.params.id, input);
      if (started === false) await deps.supervisor.stopInstance(req.params.id);
      else if (started === true && onlyStartStop) await deps.supervisor.startInstance(req.params.id);
      return reply.code(existed ? 200 : 201).send(await view(req.params.id));
    },
  );
  app.post<{ Params: { id: string; action: string } }>('/instance/:id/:action', { schema: { summary: 'start | stop | restart an instance', tags: ['instances'] } }, async (req) => {
    await view(req.params.id);
    const { id, action } = req.params;
    if (action === 'start' || action === 'restart') await deps.supervisor.startInstance(id);
    else if (action === 'stop') await deps.supervisor.stopInstance(id);
    else throw new ManagementError(404, `unknown action ${action}; use start, stop or restart`);
    return view(id);
  });
  app.delete<{ Params: { id: string } }>('/instance/:id', { schema: { summary: 'Delete an instance and its storage', tags: ['instances'] } }, async (req, reply) => {
    await deps.management.deleteInstance(req.params.id);
    return reply.code(204).send();
  });
  app.get<{ Params: { id: string }; Querystring: { prefix?: string } }>(
    '/instance/:id/database',
    { schema: { summary: "Read-only view of the instance's plugin storage", tags: ['instances'] } },
    async (req) => {
      await view(req.params.id);
      const rows = await deps.storage.pluginStorage.list(req.params.id, req.query.prefix ?? '');
      return { tables: [{ name: 'kv', columns: ['key', 'value', 'updated_at'], rows: rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as unknown, updated_at: r.updatedAt })) }] };
    },
  );
}
