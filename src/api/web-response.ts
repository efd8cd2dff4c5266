/** Sends a plugin web endpoint's answer (src/sdk/web-routes.ts) through fastify: shared by the public listener and the admin routes. */
import type { FastifyReply } from 'fastify';
import type { JsonValue } from '../sdk/index.ts';
import type { WebResponse } from '../sdk/web.ts';

/** A string goes as text/plain, bytes as application/octet-stream, anything else as JSON, unless the plugin set a content-type. */
export function sendWebResponse(reply: FastifyReply, response: WebResponse): FastifyReply {
  const { status = 200, headers = {}, body } = response;
  reply.code(status);
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  const typed = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  if (body === undefined) return reply.send();
  if (typeof body === 'string') return (typed ? reply : reply.type('text/plain; charset=utf-8')).send(body);
  if (body instanceof Uint8Array) return (typed ? reply : reply.type('application/octet-stream')).send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  return (typed ? reply : reply.type('application/json; charset=utf-8')).send(JSON.stringify(body as JsonValue));
}
