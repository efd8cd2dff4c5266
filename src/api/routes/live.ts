/** The console's /live websocket: instances, clients and health when they change, WARN+ log entries. */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiDeps } from '../deps.ts';
import type { LogEntry } from '../../core/logging.ts';
import { apiClient, apiInstance, apiLogEntry } from '../serialize.ts';
import { healthReport } from '../../core/health.ts';
import { errorMessage } from '../../shared/error-message.ts';
import { errors, noContent, websocketUpgrade, type LiveMessage } from '../schemas.ts';
import type { ZodTypeProvider } from '../typed-routes.ts';
import { authenticateWebsocket } from '../websocket-session.ts';

/** How often instance and client state is compared with what the socket last saw. */
const STATE_INTERVAL_MS = 500;
const HEALTH_EVERY_TICKS = 4;
const NOTIFY_LEVELS = new Set(['warn', 'error', 'critical']);

/**
 * `/live` websocket for the console: after the token (first message or
 * Authorization header) it sends `{type:"instances"|"clients"|"health"}`
 * snapshots whenever they change and every WARN+ log record as
 * `{type:"log", entry}`. Polling the in-process state keeps the supervisor
 * free of UI concerns; comparing serialised snapshots means a socket only
 * gets a message when something it shows changed.
 */
export function registerLiveRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.withTypeProvider<ZodTypeProvider>().route({
    method: 'GET',
    url: '/live',
    config: { websocketAuth: true },
    schema: {
      summary: 'Websocket: live instance/client/health state and WARN+ log records (console)',
      tags: ['logs'],
      response: {
        101: websocketUpgrade('It sends LiveMessage objects: {"type": "hello"} first, then instances, clients and health whenever they change, and each WARN+ log entry.'),
        404: noContent('Not a websocket handshake'),
        ...errors(401),
      },
    },
    // Only a websocket is served here (what `websocket: true` would do, which also hides the route from the OpenAPI document).
    handler: async (_req, reply) => reply.code(404).send(),
    wsHandler: (socket: WebSocket, req) => {
      authenticateWebsocket(socket, req, deps.tokens, (session) => {
        const last = { instances: '', clients: '', health: '' };
        let ticks = 0;
        let busy = false;
        const send = (message: LiveMessage) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
        };
        const push = (message: Exclude<LiveMessage, { type: 'hello' | 'log' }>) => {
          const text = JSON.stringify(message);
          if (text === last[message.type]) return;
          last[message.type] = text;
          send(message);
        };
        const tick = async () => {
          if (busy) return;
          // A logged-out (or rotated-out) token ends the session here too, within one tick.
          if (!session.valid()) return socket.close(4001, 'token revoked or expired');
          busy = true;
          try {
            // started_at and sync times move without a state change; the console ages them itself.
            push({ type: 'instances', instances: (await deps.storage.instances.list()).map((r) => apiInstance(r, deps)) });
            push({ type: 'clients', clients: (await deps.storage.clients.list()).map((r) => apiClient(r, deps)) });
            if (ticks++ % HEALTH_EVERY_TICKS === 0) {
              const { uptime_seconds: _uptime, ...health } = await healthReport({ storage: deps.storage, supervisor: deps.supervisor, errors: deps.errors, startedAt: deps.startedAt });
              push({ type: 'health', health: { ...health, started_at: deps.startedAt } });
            }
          } catch (err) {
            deps.log.warn(`console live state failed: ${errorMessage(err)}`);
          } finally {
            busy = false;
          }
        };
        send({ type: 'hello', version: deps.version });
        const unsubscribe = deps.logHub.subscribe((entry: LogEntry) => {
          if (NOTIFY_LEVELS.has(entry.level)) send({ type: 'log', entry: apiLogEntry(entry) });
        });
        void tick();
        const timer = setInterval(() => void tick(), STATE_INTERVAL_MS);
        return () => {
          clearInterval(timer);
          unsubscribe();
        };
      });
    },
  });
}
