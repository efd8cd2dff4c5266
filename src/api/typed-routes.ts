/**
 * The routes' schemas are the zod schemas of schemas.ts, used three ways:
 * requests are checked with them (a 400 naming every bad field, and the
 * handler gets the parsed, typed value), the handler's types come from them
 * (ZodTypeProvider), and the OpenAPI document is generated from them
 * (openapiTransform for @fastify/swagger, z.toJSONSchema).
 *
 * Responses are serialised with JSON.stringify, as before the schemas: no
 * property is dropped or coerced. With `checkResponses` (the test daemons)
 * every response is compared with its schema first, and one that says more
 * or other than its schema is a 500 naming the difference.
 */
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler, FastifySerializerCompiler, FastifyTypeProvider } from 'fastify';
import { z } from 'zod';
import { ManagementError } from '../core/management.ts';
import { redactText } from '../core/redact.ts';
import { requestError } from './schemas.ts';

export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** Where a request schema's problems go when it names no message of its own (schemas.ts `requestError`). */
const DEFAULT_ERRORS: Record<string, string> = { body: 'invalid request body', querystring: 'invalid query string', params: 'invalid path', headers: 'invalid headers' };

/**
 * A request that does not match its schema: a 400 listing every problem as
 * "field: what it must be". Its texts are redacted already, field names
 * excepted ("password: required…" is about the field, not a password).
 */
export class RequestError extends ManagementError {}

/**
 * Each issue becomes "field: what it must be". An issue about one entry of a
 * list is reported for the list (once), as the hand-written checks did; an
 * issue about the whole request (e.g. "username and password are required")
 * is the error message itself.
 */
function requestProblems(schema: z.ZodType, part: string, issues: readonly z.core.$ZodIssue[]): RequestError {
  const problems = [
    ...new Set(
      issues.map((issue) => {
        const field = issue.path
          .filter((segment) => typeof segment === 'string')
          .map(String)
          .join('.');
        // A message may quote what was sent (a query value): that part is redacted.
        return field ? `${field}: ${redactText(issue.message)}` : redactText(issue.message);
      }),
    ),
  ];
  if (issues.every((issue) => issue.path.length === 0)) return new RequestError(400, problems.join('; '));
  return new RequestError(400, requestError.get(schema)?.error ?? DEFAULT_ERRORS[part] ?? 'invalid request', problems);
}

const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart, method, url }) => {
  if (!(schema instanceof z.ZodType)) throw new Error(`the ${httpPart} schema of ${method} ${url} is not a zod schema (see src/api/schemas.ts)`);
  return (data) => {
    const result = schema.safeParse(data);
    return result.success ? { value: result.data } : { error: requestProblems(schema, httpPart ?? 'body', result.error.issues) };
  };
};

/** Paths in `sent` that `parsed` (the schema's view of it) lacks: what the schema does not describe. */
function undescribed(sent: unknown, parsed: unknown, path: string): string[] {
  if (Array.isArray(sent) && Array.isArray(parsed)) return sent.flatMap((item, i) => undescribed(item, parsed[i], `${path}[${i}]`));
  if (sent !== null && typeof sent === 'object' && parsed !== null && typeof parsed === 'object') {
    return Object.entries(sent).flatMap(([key, value]) => (key in parsed ? undescribed(value, (parsed as Record<string, unknown>)[key], `${path}.${key}`) : [`${path}.${key}`]));
  }
  return isDeepStrictEqual(sent, parsed) ? [] : [path];
}

function serializerCompiler(checkResponses: boolean): FastifySerializerCompiler<z.ZodType> {
  return ({ schema, method, url, httpStatus }) =>
    (data) => {
      const json = JSON.stringify(data);
      if (!checkResponses || !(schema instanceof z.ZodType) || json === undefined) return json;
      const sent: unknown = JSON.parse(json);
      const result = schema.safeParse(sent);
      const problems = result.success ? undescribed(sent, result.data, '$') : result.error.issues.map((i) => `${['$', ...i.path].join('.')}: ${i.message}`);
      if (problems.length) throw new Error(`the ${httpStatus} response of ${method} ${url} does not match its schema: ${problems.join('; ')}`);
      return json;
    };
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  // A response without a body: @fastify/swagger leaves out the content of a `type: null` schema.
  if (schema instanceof z.ZodUndefined) return { type: 'null', description: z.globalRegistry.get(schema)?.description };
  const { $schema: _, ...json } = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' });
  return json;
}

function convert(value: unknown, io: 'input' | 'output'): unknown {
  if (value instanceof z.ZodType) return jsonSchema(value, io);
  // { content: { 'text/plain': { schema } } }
  const content = (value as { content?: Record<string, { schema: unknown }> } | undefined)?.content;
  if (content) {
    return { ...(value as object), content: Object.fromEntries(Object.entries(content).map(([type, media]) => [type, { ...media, schema: convert(media.schema, io) }])) };
  }
  return value;
}

/** @fastify/swagger `transform`: the zod schemas of a route as the JSON Schemas of the OpenAPI document (requests as accepted, responses as sent). */
export function openapiTransform({ schema, url }: { schema: FastifySchema; url: string }): { schema: FastifySchema; url: string } {
  if (!schema) return { schema, url };
  const out: Record<string, unknown> = { ...schema };
  for (const part of ['body', 'querystring', 'params', 'headers'] as const) if (schema[part] !== undefined) out[part] = convert(schema[part], 'input');
  if (schema.response) out.response = Object.fromEntries(Object.entries(schema.response).map(([status, response]) => [status, convert(response, 'output')]));
  return { schema: out as FastifySchema, url };
}

/** Makes the app (and every plugin registered in it) take schemas.ts's zod schemas as route schemas. */
export function useZodSchemas(app: FastifyInstance, options: { checkResponses?: boolean } = {}): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler(options.checkResponses ?? false));
}

/** A raw body (schemas.ts types it as bytes so the console can import the schemas) as the Buffer the server's parser made it. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
