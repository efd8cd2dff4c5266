/** Log history and live stream (GET /logs, also a websocket) and /notifications. */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiDeps } from '../deps.ts';
import type { LogEntry } from '../../core/logging.ts';
import { apiLogEntry, apiLogRecord } from '../serialize.ts';
import { LogQuery, LogRecords, MAX_LOG_LIMIT, errors, websocketUpgrade } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';
import { authenticateWebsocket } from '../websocket-session.ts';

export function registerLogRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.route({
    method: 'GET',
    url: '/logs',
    config: { websocketAuth: true },
    schema: {
      summary: `Log history (newest first; limit 1 to ${MAX_LOG_LIMIT}, default 100; before: a record id), or a live stream over a websocket`,
      tags: ['logs'],
      querystring: LogQuery,
      response: {
        200: LogRecords,
        101: websocketUpgrade('It sends {"authenticated": true} after a token sent as a message, then each new log entry (LogEntry) of the chosen levels.'),
        ...errors(400, 401, 500),
      },
    },
    handler: async (req) => ({ records: (await deps.storage.logs.query(req.query)).map(apiLogRecord) }),
    wsHandler: (socket: WebSocket, req) => {
      const { levels } = req.query;
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

  api.get('/notifications', { schema: { summary: 'Recent WARN, ERROR and CRITICAL records', tags: ['logs'], response: { 200: LogRecords, ...errors(401, 500) } } }, async () => ({
    records: (await deps.storage.logs.query({ levels: ['warn', 'error', 'critical'], limit: 100 })).map(apiLogRecord),
  }));
}
