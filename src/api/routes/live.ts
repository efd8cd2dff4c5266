import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { ApiDeps } from '../deps.ts';
import type { LogEntry } from '../../core/logging.ts';
import { apiClient, apiInstance, apiLogEntry } from '../serialize.ts';
import { healthReport } from '../../core/health.ts';
import { errorMessage } from '../../shared/error-message.ts';
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
  app.get(
    '/live',
    { websocket: true, config: { websocketAuth: true }, schema: { summary: 'Websocket: live instance/client/health state and WARN+ log records (console)', tags: ['logs'] } },
    (socket: WebSocket, req) => {
      authenticateWebsocket(socket, req, deps.tokens, (session) => {
        const last = { instances: '', clients: '', health: '' };
        let ticks = 0;
        let busy = false;
        const send = (message: unknown) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
        };
        const push = (key: 'instances' | 'clients' | 'health', value: unknown) => {
          const text = JSON.stringify(value);
          if (text === last[key]) return;
          last[key] = text;
          send({ type: key, [key]: value });
        };
        const tick = async () => {
          if (busy) return;
          // A logged-out (or rotated-out) token ends the session here too, within one tick.
          if (!session.valid()) return socket.close(4001, 'token revoked or expired');
          busy = true;
          try {
            // started_at and sync times move without a state change; the console ages them itself.
            push(
              'instances',
              (await deps.storage.instances.list()).map((r) => apiInstance(r, deps)),
            );
            push(
              'clients',
              (await deps.storage.clients.list()).map((r) => apiClient(r, deps)),
            );
            if (ticks++ % HEALTH_EVERY_TICKS === 0) {
              const { uptime_seconds: _uptime, ...health } = await healthReport({ storage: deps.storage, supervisor: deps.supervisor, errors: deps.errors, startedAt: deps.startedAt });
              push('health', { ...health, started_at: deps.startedAt });
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
  );
}
