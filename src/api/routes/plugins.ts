/** Plugin routes: /plugins, /plugin/{id}, uploads (raw zip bodies). */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../core/management.ts';
import { apiPlugin } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { IdParams, Plugin, PluginArchiveBody, Success, UploadQuery, errors, noContent } from '../schemas.ts';
import { asBuffer, type ZodTypeProvider } from '../typed-routes.ts';

const ARCHIVE_TYPES = ['application/zip', 'application/octet-stream', 'application/x-zip-compressed'];

export function registerPluginRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const view = (id: string) => {
    const plugin = deps.registry.get(id);
    if (!plugin) throw notFound.plugin(id);
    return apiPlugin(plugin, deps);
  };

  api.get('/plugins', { schema: { summary: 'List plugins', tags: ['plugins'], response: { 200: Plugin.array().meta({ description: 'Every installed plugin' }), ...errors(401, 500) } } }, async () =>
    deps.registry.list().map((p) => apiPlugin(p, deps)),
  );
  api.get('/plugin/:id', { schema: { summary: 'Get a plugin', tags: ['plugins'], params: IdParams, response: { 200: Plugin, ...errors(401, 404, 500) } } }, async (req) => view(req.params.id));
  api.delete(
    '/plugin/:id',
    { schema: { summary: 'Delete a plugin (refused while in use)', tags: ['plugins'], params: IdParams, response: { 204: noContent('Deleted'), ...errors(400, 401, 404, 412, 500) } } },
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
        response: { 200: Plugin.meta({ description: 'Replaced (allow_override)' }), 201: Plugin.meta({ description: 'Installed' }), ...errors(400, 401, 409, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const { plugin, previous } = await deps.management.uploadPlugin(asBuffer(req.body), req.query.allow_override);
      return reply.code(previous ? 200 : 201).send(view(plugin.id));
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
        response: { 200: Plugin.meta({ description: 'Replaced' }), 201: Plugin.meta({ description: 'Installed' }), ...errors(400, 401, 413, 415, 500) },
      },
    },
    async (req, reply) => {
      const { plugin, previous } = await deps.management.uploadPlugin(asBuffer(req.body), true, req.params.id);
      return reply.code(previous ? 200 : 201).send(view(plugin.id));
    },
  );
  api.post(
    '/plugin/:id/reload',
    {
      schema: {
        summary: "Restart the plugin's instances (maubot's reload; new code comes with an upload)",
        tags: ['plugins'],
        params: IdParams,
        response: { 200: Success, ...errors(401, 404, 500) },
      },
    },
    async (req) => {
      await deps.management.reloadPlugin(req.params.id);
      return { success: true as const };
    },
  );
}
