import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiDeps } from '../deps.ts';
import type { LogEntry } from '../../core/logging.ts';

const LEVELS = ['debug', 'info', 'warn', 'error', 'critical'];

/** `level=warn` means warn and above; `levels=warn,error` means exactly those. */
function levelsFrom(query: { level?: string; levels?: string }): string[] | undefined {
  if (query.levels) return query.levels.split(',').filter((l) => LEVELS.includes(l));
  if (query.level && LEVELS.includes(query.level)) return LEVELS.slice(LEVELS.indexOf(query.level));
  return undefined;
}

export function registerLogRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.route<{ Querystring: { level?: string; levels?: string; instance?: string; q?: string; before?: string; limit?: string } }>({
    method: 'GET',
    url: '/logs',
    schema: { summary: 'Log history (newest first), or a live stream over a websocket', tags: ['logs'] },
    handler: async (req) => {
      const q = req.query;
      const records = await deps.storage.logs.query({
        levels: levelsFrom(q),
        instanceId: q.instance,
        search: q.q,
        before: q.before ? Number(q.before) : undefined,
        limit: q.limit ? Number(q.limit) : 100,
      });
      return { records };
    },
    // maubot-style: the browser cannot set headers on a websocket, so the
    // first message may carry the token; an Authorization header also works.
    wsHandler: (socket: WebSocket, req) => {
      let authed = req.username !== undefined;
      let unsubscribe: (() => void) | null = null;
      const levels = levelsFrom(req.query as { level?: string; levels?: string });
      const subscribe = () => {
        unsubscribe = deps.logHub.subscribe((entry: LogEntry) => {
          if (levels && !levels.includes(entry.level)) return;
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(entry));
        });
      };
      if (authed) subscribe();
      const timer = setTimeout(() => !authed && socket.close(4001, 'authentication timeout'), 5000);
      socket.on('message', (data) => {
        if (authed) return;
        const token = data.toString().trim();
        if (deps.tokens.verify(token)) {
          authed = true;
          socket.send(JSON.stringify({ authenticated: true }));
          subscribe();
        } else socket.close(4001, 'invalid token');
      });
      socket.on('close', () => {
        clearTimeout(timer);
        unsubscribe?.();
      });
    },
  });

  app.get('/notifications', { schema: { summary: 'Recent WARN, ERROR and CRITICAL records', tags: ['logs'] } }, async () => ({
    records: await deps.storage.logs.query({ levels: ['warn', 'error', 'critical'], limit: 100 }),
  }));
}
