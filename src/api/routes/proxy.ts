/**
 * `/proxy/{id}/_matrix/…`: what maubot's web app asks of the bot's
 * homeserver with the bot's access token, and nothing else: downloading and
 * thumbnailing media (avatars) and uploading media (a new avatar). The
 * token is added here and never sent back; the caller's `access_token`
 * query parameter (its Trellis token) is not passed on.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ManagementError, notFound } from '../../core/management.ts';
import { BODY_LIMITS, type ApiDeps } from '../deps.ts';
import { ProxiedMedia, ProxiedUpload, ProxyFileName, ProxyMediaParams, ProxyUploadBody, errors } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';

const MEDIA_READ = /^_matrix\/(?:media\/(?:v3|r0)|client\/v1\/media)\/(?:download|thumbnail)\/[^/]+\/[^/]+(?:\/[^/]+)?$/;
const MEDIA_UPLOAD = /^_matrix\/media\/(?:v3|r0)\/upload$/;
/** Headers of the homeserver's answer that are passed on (no cookies, no CSP of its own). */
const PASSED_HEADERS = ['content-type', 'content-length', 'content-disposition', 'cache-control', 'etag', 'last-modified'];
const TIMEOUT_MS = 60_000;

/** Whether the proxy passes this method and homeserver path on (exported for the unit test). */
export function proxyAllowed(method: string, path: string): boolean {
  if (path.split('/').some((segment) => segment === '..' || segment === '.' || segment === '')) return false;
  if (method === 'GET' || method === 'HEAD') return MEDIA_READ.test(path);
  if (method === 'POST') return MEDIA_UPLOAD.test(path);
  return false;
}

type ProxyRequest = FastifyRequest<{ Params: Record<string, string> }>;

export function registerProxyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  /** The homeserver path a proxy route stands for, from its (decoded) parameters. */
  const pathOf = (req: ProxyRequest): string => {
    const { version, kind, server, media, filename } = req.params;
    const tail = [kind, server, media, ...(filename === undefined ? [] : [filename])];
    if (req.method === 'POST') return `_matrix/media/${version}/upload`;
    return version === undefined ? `_matrix/client/v1/media/${tail.join('/')}` : `_matrix/media/${version}/${tail.join('/')}`;
  };
  const handler = async (req: ProxyRequest, reply: FastifyReply) => {
    const id = req.params.id ?? '';
    const path = pathOf(req);
    if (!proxyAllowed(req.method, path)) {
      throw new ManagementError(
        403,
        `the proxy only passes on GET …/media/download|thumbnail/… and POST _matrix/media/v3/upload (what maubot's web app uses), not ${req.method} ${path.slice(0, 100)}`,
        [],
        'proxy_path_not_allowed',
      );
    }
    const record = await deps.storage.clients.get(id);
    if (!record) throw notFound.client(id);
    const url = new URL(`${record.homeserverUrl.replace(/\/+$/, '')}/${path.split('/').map(encodeURIComponent).join('/')}`);
    const query = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
    query.delete('access_token');
    url.search = query.toString();
    const headers: Record<string, string> = { authorization: `Bearer ${record.accessToken}` };
    const contentType = req.headers['content-type'];
    if (req.method === 'POST' && contentType) headers['content-type'] = contentType;
    let res: Response;
    try {
      res = await fetch(url, {
        method: req.method,
        headers,
        ...(req.method === 'POST' ? { body: req.body instanceof Uint8Array ? req.body : new Uint8Array() } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new ManagementError(502, `the homeserver of ${id} did not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    reply.code(res.status);
    for (const name of PASSED_HEADERS) {
      const value = res.headers.get(name);
      if (value !== null) reply.header(name, value);
    }
    // Media is shown from the management API's origin: it may never run as a page there.
    reply.header('content-security-policy', "default-src 'none'; sandbox");
    if (!res.body || req.method === 'HEAD') return reply.send();
    return reply.send(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream));
  };
  const read = {
    summary: "Download or thumbnail media with the bot's token (maubot's client proxy, for avatars; the answer is the homeserver's)",
    tags: ['clients'],
    response: { 200: ProxiedMedia, ...errors(401, 403, 404, 502) },
  };
  api.get('/proxy/:id/_matrix/media/:version/:kind/:server/:media', { schema: { ...read, params: ProxyMediaParams } }, handler);
  api.get('/proxy/:id/_matrix/media/:version/:kind/:server/:media/:filename', { schema: { ...read, params: ProxyMediaParams.extend(ProxyFileName) } }, handler);
  api.get('/proxy/:id/_matrix/client/v1/media/:kind/:server/:media', { schema: { ...read, params: ProxyMediaParams.omit({ version: true }) } }, handler);
  api.get('/proxy/:id/_matrix/client/v1/media/:kind/:server/:media/:filename', { schema: { ...read, params: ProxyMediaParams.omit({ version: true }).extend(ProxyFileName) } }, handler);
  api.post(
    '/proxy/:id/_matrix/media/:version/upload',
    {
      bodyLimit: BODY_LIMITS.avatar,
      schema: {
        summary: "Upload media (an avatar) with the bot's token (maubot's client proxy); answers the homeserver's {content_uri}",
        tags: ['clients'],
        consumes: ['image/*', 'application/octet-stream'],
        params: ProxyMediaParams.pick({ id: true, version: true }),
        body: ProxyUploadBody,
        response: { 200: ProxiedUpload, ...errors(400, 401, 403, 404, 413, 415, 502) },
      },
    },
    handler,
  );
}
