import type { FastifyInstance } from 'fastify';
import { ManagementError } from '../../core/management.ts';
import { apiPlugin } from '../serialize.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';

export function registerPluginRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const view = (id: string) => {
    const plugin = deps.registry.get(id);
    if (!plugin) throw new ManagementError(404, `plugin ${id} not found`);
    return apiPlugin(plugin, deps);
  };
  const body = (raw: unknown): Buffer => {
    if (!Buffer.isBuffer(raw) || raw.length === 0) throw new ManagementError(400, 'send the plugin archive (zip) as the raw request body with Content-Type: application/zip');
    return raw;
  };

  app.get('/plugins', { schema: { summary: 'List plugins', tags: ['plugins'] } }, async () => deps.registry.list().map((p) => apiPlugin(p, deps)));
  app.get<{ Params: { id: string } }>('/plugin/:id', { schema: { summary: 'Get a plugin', tags: ['plugins'] } }, async (req) => view(req.params.id));
  app.delete<{ Params: { id: string } }>('/plugin/:id', { schema: { summary: 'Delete a plugin (refused while in use)', tags: ['plugins'] } }, async (req, reply) => {
    await deps.management.deletePlugin(req.params.id);
    return reply.code(204).send();
  });
  app.post<{ Querystring: { allow_override?: string } }>(
    '/plugins/upload',
    {
      bodyLimit: BODY_LIMITS.upload,
      schema: { summary: 'Upload a plugin archive (raw body)', tags: ['plugins'], querystring: { type: 'object', properties: { allow_override: { type: 'string' } } } },
    },
    async (req) => {
      const plugin = await deps.management.uploadPlugin(body(req.body), req.query.allow_override === 'true');
      return view(plugin.id);
    },
  );
  app.put<{ Params: { id: string } }>(
    '/plugin/:id',
    { bodyLimit: BODY_LIMITS.upload, schema: { summary: 'Upload a plugin archive for this id (raw body); an archive of another plugin is refused', tags: ['plugins'] } },
    async (req) => {
      const plugin = await deps.management.uploadPlugin(body(req.body), true, req.params.id);
      return view(plugin.id);
    },
  );
}
