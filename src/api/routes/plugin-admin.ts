/**
 * An instance's admin routes (`ctx.web.adminRoute`): /instance/{id}/plugin/*, the plugin's own
 * management API (the webhooks plugin's hooks), behind the API's token like every route here.
 */
import type { FastifyInstance } from 'fastify';
import { ManagementError, notFound } from '../../core/management.ts';
import type { HttpMethod } from '../../sdk/web.ts';
import { invokeRoute, webRequest } from '../../sdk/web-routes.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { sendWebResponse } from '../web-response.ts';

const METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function registerPluginAdminRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.route({
    method: METHODS,
    url: '/instance/:id/plugin/*',
    bodyLimit: BODY_LIMITS.instance,
    config: { rawBody: true },
    // Each plugin defines what is below (its own docs describe it), so the OpenAPI document cannot.
    schema: { hide: true },
    handler: async (req, reply) => {
      const url = new URL(req.url, 'http://management.invalid');
      const id = (req.params as { id: string }).id;
      const table = deps.supervisor.web.admin!;
      const match = table.match(req.method, url.pathname);
      if (!match) {
        if (!(await deps.storage.instances.get(id))) throw notFound.instance(id);
        const { status, allow, error } = table.unmatched(req.method, url.pathname);
        if (allow) reply.header('allow', allow);
        throw new ManagementError(status, status === 404 ? `instance ${id} serves no ${url.pathname} (is it running, and does its plugin have this route?)` : error);
      }
      // A JSON body arrives parsed (the API reads JSON whatever the type); the plugin gets bytes as on the public listener.
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body === undefined ? '' : JSON.stringify(req.body));
      const outcome = await invokeRoute(match, webRequest(req.method as HttpMethod, match, url, req.headers, body));
      if (!outcome.ok) throw new ManagementError(outcome.status, outcome.error);
      return sendWebResponse(reply, outcome.response);
    },
  });
}
