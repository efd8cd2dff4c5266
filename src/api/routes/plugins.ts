/** Plugin routes: /plugins, /plugin/{id}, uploads (raw zip bodies). */
import type { FastifyInstance } from 'fastify';
import { ManagementError } from '../../core/management.ts';
import { apiPlugin } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { IdParams, Plugin, PluginArchiveBody, UploadQuery, errors, noContent } from '../schemas.ts';
import { asBuffer, type ZodTypeProvider } from '../typed-routes.ts';

const ARCHIVE_TYPES = ['application/zip', 'application/octet-stream', 'application/x-zip-compressed'];

export function registerPluginRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const view = (id: string) => {
    const plugin = deps.registry.get(id);
    if (!plugin) throw new ManagementError(404, `plugin ${id} not found`);
    return apiPlugin(plugin, deps);
  };

  api.get('/plugins', { schema: { summary: 'List plugins', tags: ['plugins'], response: { 200: Plugin.array().meta({ description: 'Every installed plugin' }), ...errors(401, 500) } } }, async () =>
    deps.registry.list().map((p) => apiPlugin(p, deps)),
  );
  api.get('/plugin/:id', { schema: { summary: 'Get a plugin', tags: ['plugins'], params: IdParams, response: { 200: Plugin, ...errors(401, 404, 500) } } }, async (req) => view(req.params.id));
  api.delete(
    '/plugin/:id',
    { schema: { summary: 'Delete a plugin (refused while in use)', tags: ['plugins'], params: IdParams, response: { 204: noContent('Deleted'), ...errors(400, 401, 404, 409, 500) } } },
    async (req, reply) => {
      await deps.management.deletePlugin(req.params.id);
      return reply.code(204).send();
    },
  );
  api.post(
    '/plugins/upload',
    {
      bodyLimit: BODY_LIMITS.upload,
      schema: {
        summary: 'Upload a plugin archive (raw body)',
        tags: ['plugins'],
        consumes: ARCHIVE_TYPES,
        querystring: UploadQuery,
        body: PluginArchiveBody,
        response: { 200: Plugin, ...errors(400, 401, 409, 413, 415, 500) },
      },
    },
    async (req) => {
      const plugin = await deps.management.uploadPlugin(asBuffer(req.body), req.query.allow_override);
      return view(plugin.id);
    },
  );
  api.put(
    '/plugin/:id',
    {
      bodyLimit: BODY_LIMITS.upload,
      schema: {
        summary: 'Upload a plugin archive for this id (raw body); an archive of another plugin is refused',
        tags: ['plugins'],
        consumes: ARCHIVE_TYPES,
        params: IdParams,
        body: PluginArchiveBody,
        response: { 200: Plugin, ...errors(400, 401, 409, 413, 415, 500) },
      },
    },
    async (req) => {
      const plugin = await deps.management.uploadPlugin(asBuffer(req.body), true, req.params.id);
      return view(plugin.id);
    },
  );
}
