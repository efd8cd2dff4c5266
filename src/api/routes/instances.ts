/** Instance routes: /instances, /instance/{id} (create, update, start/stop/restart, delete) and its database (read-only, maubot's shape). */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ManagementError, notFound, type InstanceInput } from '../../core/management.ts';
import { apiInstance } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { KV_COLUMNS, KV_SCHEMA, KV_TABLE, KvQueryError, parseKvQuery, runKvQuery, type KvRow } from '../kv-query.ts';
import {
  DatabaseQueryBody,
  DatabaseRows,
  DatabaseTableQuery,
  Instance,
  InstanceActionParams,
  InstanceBody,
  InstanceDatabase,
  InstanceIdParams,
  InstanceTableParams,
  errors,
  noContent,
} from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';

/** The checked body as management's input (`started` is not stored: it starts or stops the instance). */
function instanceInput(body: z.output<typeof InstanceBody>): InstanceInput {
  const input: InstanceInput = {};
  if (body.type !== undefined) input.pluginId = body.type;
  if (body.primary_user !== undefined) input.clientId = body.primary_user;
  if (body.enabled !== undefined) input.enabled = body.enabled;
  // Each entry is checked by putInstance, which names the bad ones.
  if (body.rooms !== undefined) input.rooms = body.rooms as string[];
  if (body.senders !== undefined) input.senders = body.senders as string[];
  if (body.config !== undefined) input.config = body.config;
  return input;
}

/** A query the kv view does not run: 403 for writes, 400 for what it does not understand. */
function queryError(err: unknown): never {
  if (err instanceof KvQueryError) throw new ManagementError(err.readOnly ? 403 : 400, err.message, [], err.readOnly ? 'read_only' : 'sql_error');
  throw err;
}

export function registerInstanceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const record = async (id: string) => {
    const found = await deps.storage.instances.get(id);
    if (!found) throw notFound.instance(id);
    return found;
  };
  const view = async (id: string) => apiInstance(await record(id), deps);
  /** The instance's storage as rows of the kv table. */
  const kvRows = async (id: string, prefix = ''): Promise<KvRow[]> => {
    await record(id);
    return (await deps.storage.pluginStorage.list(id, prefix)).map((r) => ({ key: r.key, value: r.value, updated_at: r.updatedAt }));
  };

  api.get('/instances', { schema: { summary: 'List instances', tags: ['instances'], response: { 200: Instance.array().meta({ description: 'Every instance' }), ...errors(401, 500) } } }, async () =>
    (await deps.storage.instances.list()).map((r) => apiInstance(r, deps)),
  );
  api.get('/instance/:id', { schema: { summary: 'Get an instance', tags: ['instances'], params: InstanceIdParams, response: { 200: Instance, ...errors(401, 404, 500) } } }, async (req) =>
    view(req.params.id),
  );
  api.put(
    '/instance/:id',
    {
      bodyLimit: BODY_LIMITS.instance,
      schema: {
        summary: 'Create or update an instance (config validated against the plugin schema; the id is lower-cased)',
        tags: ['instances'],
        params: InstanceIdParams,
        body: InstanceBody,
        response: { 200: Instance.meta({ description: 'Updated' }), 201: Instance.meta({ description: 'Created' }), ...errors(400, 401, 403, 404, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const existed = await deps.storage.instances.get(id);
      const input = instanceInput(req.body);
      const started = req.body.started;
      const onlyStartStop = started !== undefined && Object.keys(input).length === 0 && existed;
      if (!onlyStartStop) await deps.management.putInstance(id, input);
      if (started === false) await deps.supervisor.stopInstance(id);
      else if (started === true && onlyStartStop) await deps.supervisor.startInstance(id);
      return reply.code(existed ? 200 : 201).send(await view(id));
    },
  );
  api.get(
    '/instance/:id/database',
    {
      schema: {
        summary: "The instance's plugin storage as maubot describes a database: one read-only table kv",
        tags: ['instances'],
        params: InstanceIdParams,
        response: { 200: InstanceDatabase, ...errors(401, 404, 500) },
      },
    },
    async (req) => {
      await record(req.params.id);
      return KV_SCHEMA;
    },
  );
  api.get(
    '/instance/:id/database/:table',
    {
      schema: {
        summary: 'Rows of the kv table (read-only)',
        tags: ['instances'],
        params: InstanceTableParams,
        querystring: DatabaseTableQuery,
        response: { 200: DatabaseRows, ...errors(400, 401, 404, 500) },
      },
    },
    async (req) => {
      const { id, table } = req.params;
      if (table !== KV_TABLE) throw new ManagementError(404, `no table ${table}; the only table is ${KV_TABLE}`, [], 'table_not_found');
      const order = req.query.order.map((o) => {
        const [column = '', direction = 'asc'] = o.split(':');
        if (!/^(asc|desc)$/i.test(direction)) throw new ManagementError(400, `order: ${JSON.stringify(o)} must be column:asc or column:desc`);
        return `"${column.replace(/"/g, '')}" ${direction.toUpperCase()}`;
      });
      const sql = `SELECT * FROM "${KV_TABLE}"${order.length ? ` ORDER BY ${order.join(', ')}` : ''} LIMIT ${req.query.limit ?? 100}`;
      let parsed;
      try {
        parsed = parseKvQuery(sql);
      } catch (err) {
        queryError(err);
      }
      const rows = runKvQuery(parsed, await kvRows(id, req.query.prefix));
      const columns = [...KV_COLUMNS];
      return { ok: true as const, query: sql, columns, rows: req.query.rows_as_dict ? rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]]))) : rows };
    },
  );
  api.post(
    '/instance/:id/database/query',
    {
      schema: {
        summary: 'Run a SELECT on the kv table (read-only: any other statement is refused)',
        tags: ['instances'],
        params: InstanceIdParams,
        body: DatabaseQueryBody,
        response: { 200: DatabaseRows, ...errors(400, 401, 403, 404, 500) },
      },
    },
    async (req) => {
      const sql = req.body.query;
      if (!sql?.trim()) throw new ManagementError(400, 'query is missing', [], 'query_missing');
      await record(req.params.id);
      let parsed;
      try {
        parsed = parseKvQuery(sql);
      } catch (err) {
        queryError(err);
      }
      const rows = runKvQuery(parsed, await kvRows(req.params.id));
      const { columns } = parsed;
      return { ok: true as const, query: sql, columns, rows: req.body.rows_as_dict ? rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]]))) : rows };
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
    { schema: { summary: 'Delete an instance and its storage', tags: ['instances'], params: InstanceIdParams, response: { 204: noContent('Deleted'), ...errors(401, 403, 404, 500) } } },
    async (req, reply) => {
      await deps.management.deleteInstance(req.params.id);
      return reply.code(204).send();
    },
  );
}
