import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiDeps } from '../deps.ts';
import type { LogEntry } from '../../core/logging.ts';
import { ManagementError } from '../../core/management.ts';
import { apiLogEntry, apiLogRecord } from '../serialize.ts';
import { authenticateWebsocket } from '../websocket-session.ts';

const LEVELS = ['debug', 'info', 'warn', 'error', 'critical'];
export const MAX_LOG_LIMIT = 1000;
const DEFAULT_LOG_LIMIT = 100;

type LogQueryString = { level?: string; levels?: string; instance?: string; q?: string; before?: string; limit?: string };

/** `level=warn` means warn and above; `levels=warn,error` means exactly those. */
function levelsFrom(query: { level?: string; levels?: string }): string[] | undefined {
  if (query.levels) return query.levels.split(',').filter((l) => LEVELS.includes(l));
  if (query.level && LEVELS.includes(query.level)) return LEVELS.slice(LEVELS.indexOf(query.level));
  return undefined;
}

/** A whole number in [min, max], or the problem with it. */
function wholeNumber(name: string, value: string, min: number, max: number): number | string {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : `${name}: must be a whole number from ${min} to ${max} (got ${JSON.stringify(value.slice(0, 40))})`;
}

/** Checks the history query completely: a bad value is a 400 naming it, never a silently different query. */
function parseLogQuery(q: LogQueryString) {
  const problems: string[] = [];
  const limit = q.limit === undefined ? DEFAULT_LOG_LIMIT : wholeNumber('limit', q.limit, 1, MAX_LOG_LIMIT);
  const before = q.before === undefined ? undefined : wholeNumber('before', q.before, 1, Number.MAX_SAFE_INTEGER);
  if (typeof limit === 'string') problems.push(limit);
  if (typeof before === 'string') problems.push(`${before}; it is the id of the oldest record already shown`);
  if (q.level !== undefined && !LEVELS.includes(q.level)) problems.push(`level: must be one of ${LEVELS.join(', ')}`);
  for (const l of q.levels?.split(',') ?? []) if (!LEVELS.includes(l)) problems.push(`levels: ${JSON.stringify(l.slice(0, 20))} is not one of ${LEVELS.join(', ')}`);
  if (problems.length) throw new ManagementError(400, 'invalid log query', problems);
  return { levels: levelsFrom(q), instanceId: q.instance, search: q.q, before: before as number | undefined, limit: limit as number };
}

export function registerLogRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.route<{ Querystring: LogQueryString }>({
    method: 'GET',
    url: '/logs',
    config: { websocketAuth: true },
    schema: { summary: `Log history (newest first; limit 1 to ${MAX_LOG_LIMIT}, default ${DEFAULT_LOG_LIMIT}; before: a record id), or a live stream over a websocket`, tags: ['logs'] },
    handler: async (req) => ({ records: (await deps.storage.logs.query(parseLogQuery(req.query))).map(apiLogRecord) }),
    // maubot-style: the browser cannot set headers on a websocket, so the
    // first message may carry the token; an Authorization header also works.
    wsHandler: (socket: WebSocket, req) => {
      const levels = levelsFrom(req.query as { level?: string; levels?: string });
      authenticateWebsocket(socket, req, deps.tokens, (session) => {
        if (session.via === 'message') socket.send(JSON.stringify({ authenticated: true }));
        return deps.logHub.subscribe((entry: LogEntry) => {
          if (levels && !levels.includes(entry.level)) return;
          // A logged-out (or rotated-out) token stops the stream at the next record.
          if (!session.valid()) return socket.close(4001, 'token revoked or expired');
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(apiLogEntry(entry)));
        });
      });
    },
  });

  app.get('/notifications', { schema: { summary: 'Recent WARN, ERROR and CRITICAL records', tags: ['logs'] } }, async () => ({
    records: (await deps.storage.logs.query({ levels: ['warn', 'error', 'critical'], limit: 100 })).map(apiLogRecord),
  }));
}
