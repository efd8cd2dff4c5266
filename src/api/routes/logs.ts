/** Log history (GET /logs), the live log websocket in maubot's protocol (also /logs), and /notifications. */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiDeps } from '../deps.ts';
import type { LogEntry } from '../../core/logging.ts';
import type { LogRecord as StoredLogRecord } from '../../storage/log-records.ts';
import { apiLogRecord, apiLogStreamRecord } from '../serialize.ts';
import { LogQuery, LogRecords, MAX_LOG_LIMIT, errors, websocketUpgrade, type LogLevel, type LogStreamMessage } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';
import { authenticateWebsocket } from '../websocket-session.ts';

/** How many recent records the websocket's `{history}` message holds (as maubot's in-memory buffer). */
const HISTORY_RECORDS = 2048;

/** Ids of live records (stored ids are not known yet when a line is streamed): one per line, whichever socket sends it. */
const liveIds = new WeakMap<LogEntry, string>();
let lastLiveId = 0;
function liveId(entry: LogEntry): string {
  let id = liveIds.get(entry);
  if (id === undefined) liveIds.set(entry, (id = `live-${++lastLiveId}`));
  return id;
}

/** The newest stored records of these levels, oldest first. */
async function history(deps: ApiDeps, levels: LogLevel[] | undefined): Promise<StoredLogRecord[]> {
  const records: StoredLogRecord[] = [];
  let before: number | undefined;
  while (records.length < HISTORY_RECORDS) {
    const page = await deps.storage.logs.query({ levels, before, limit: Math.min(MAX_LOG_LIMIT, HISTORY_RECORDS - records.length) });
    records.push(...page);
    if (page.length < MAX_LOG_LIMIT || page.length === 0) break;
    before = page[page.length - 1]!.id;
  }
  return records.reverse();
}

const sameLine = (a: LogEntry, b: StoredLogRecord) => a.time === b.time && a.level === b.level && a.message === b.message;

export function registerLogRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.route({
    method: 'GET',
    url: '/logs',
    config: { websocketAuth: true },
    schema: {
      summary: `Log history (newest first; limit 1 to ${MAX_LOG_LIMIT}, default 100; before: a record id), or a live stream over a websocket in maubot's protocol`,
      tags: ['logs'],
      querystring: LogQuery,
      response: {
        200: LogRecords,
        101: websocketUpgrade(
          'As maubot: each token sent as a message is answered {"auth_success": true|false} (false: the socket waits for another; none valid within 5 s closes it with 4000), then {"history": [LogStreamRecord…]} (the newest 2048, oldest first), then each new LogStreamRecord, all of the levels chosen with level= or levels=. A shutdown closes it with 1012.',
        ),
        ...errors(400, 401, 500),
      },
    },
    handler: async (req) => ({ records: (await deps.storage.logs.query(req.query)).map(apiLogRecord) }),
    wsHandler: (socket: WebSocket, req) => {
      const { levels } = req.query;
      const send = (message: LogStreamMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      };
      authenticateWebsocket(
        socket,
        req,
        deps.tokens,
        (session) => {
          send({ auth_success: true });
          // Lines logged while the history is read are held back, then sent unless the history has them.
          let held: LogEntry[] | null = [];
          const stream = (entry: LogEntry) => {
            // A logged-out (or rotated-out) token stops the stream at the next record.
            if (!session.valid()) return socket.close(4001, 'token revoked or expired');
            send(apiLogStreamRecord(entry, liveId(entry)));
          };
          const unsubscribe = deps.logHub.subscribe((entry: LogEntry) => {
            if (levels && !levels.includes(entry.level)) return;
            if (held) held.push(entry);
            else stream(entry);
          });
          history(deps, levels)
            .catch(() => [])
            .then((records) => {
              send({ history: records.map((r) => apiLogStreamRecord({ ...r, level: r.level as LogLevel }, String(r.id))) });
              const pending = held ?? [];
              held = null;
              for (const entry of pending) if (!records.some((r) => sameLine(entry, r))) stream(entry);
            });
          return unsubscribe;
        },
        { rejected: JSON.stringify({ auth_success: false } satisfies LogStreamMessage) },
      );
    },
  });

  api.get('/notifications', { schema: { summary: 'Recent WARN, ERROR and CRITICAL records', tags: ['logs'], response: { 200: LogRecords, ...errors(401, 500) } } }, async () => ({
    records: (await deps.storage.logs.query({ levels: ['warn', 'error', 'critical'], limit: 100 })).map(apiLogRecord),
  }));
}
