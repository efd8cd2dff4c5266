/** Shared state: instances, clients, plugins, health and notifications, kept current by the /live websocket. */
import { signal } from '@preact/signals';
import { api, token, wsUrl, type Client, type Health, type Instance, type LiveMessage, type LogEntry, type LogRecord, type Plugin } from './api.ts';

export const instances = signal<Instance[] | null>(null);
export const clients = signal<Client[] | null>(null);
export const plugins = signal<Plugin[] | null>(null);
export const health = signal<Health | null>(null);
export const notifications = signal<LogEntry[]>([]);
export const live = signal<'connecting' | 'live' | 'offline'>('connecting');
/** Ticks every second so ages ("synced 4 s ago") stay current without server traffic. */
export const now = signal(Date.now());
setInterval(() => (now.value = Date.now()), 1000);

const MAX_NOTIFICATIONS = 200;

// While the live socket is connected it alone sets instances and clients: it sends only changes
// it has not sent yet, so a REST answer taken mid-change (e.g. encryption "starting") would stay
// on screen until something else changed.
export async function refreshInstances(): Promise<void> {
  const list = await api<Instance[]>('GET', '/instances');
  if (live.value !== 'live') instances.value = list;
}
export async function refreshClients(): Promise<void> {
  const list = await api<Client[]>('GET', '/clients');
  if (live.value !== 'live') clients.value = list;
}
export async function refreshPlugins(): Promise<void> {
  plugins.value = await api<Plugin[]>('GET', '/plugins');
}

async function loadInitial(): Promise<void> {
  const [, , , notes, h] = await Promise.all([
    refreshInstances(),
    refreshClients(),
    refreshPlugins(),
    api<{ records: LogRecord[] }>('GET', '/notifications'),
    // Without the token /health answers only {status}.
    fetch('/health', { headers: { authorization: `Bearer ${token.value ?? ''}` } })
      .then((r) => r.json() as Promise<Health>)
      .catch(() => null),
  ]);
  notifications.value = notes.records;
  if (h) health.value = h;
}

let socket: WebSocket | null = null;
let retry = 0;
let retryTimer: ReturnType<typeof setTimeout> | null = null;

function connectLive(): void {
  if (!token.value) return;
  live.value = 'connecting';
  const ws = new WebSocket(wsUrl('/live'));
  socket = ws;
  ws.onopen = () => ws.send(token.value ?? '');
  ws.onmessage = (ev) => {
    const msg = JSON.parse(String(ev.data)) as LiveMessage;
    if (msg.type === 'hello') {
      live.value = 'live';
      retry = 0;
    } else if (msg.type === 'instances') instances.value = msg.instances;
    else if (msg.type === 'clients') clients.value = msg.clients;
    else if (msg.type === 'health') health.value = msg.health;
    else if (msg.type === 'log') notifications.value = [msg.entry, ...notifications.value].slice(0, MAX_NOTIFICATIONS);
  };
  ws.onclose = (ev) => {
    if (socket !== ws) return;
    socket = null;
    live.value = 'offline';
    if (ev.code === 4001) {
      // The token was refused: refresh through REST, whose 401 logs out.
      void refreshInstances().catch(() => undefined);
      return;
    }
    retry = Math.min(retry + 1, 5);
    retryTimer = setTimeout(connectLive, 500 * 2 ** retry);
  };
}

/** Starts (or stops, after logout) loading and the live connection. */
export function startSession(): void {
  stopSession();
  void loadInitial().catch(() => undefined);
  connectLive();
}

export function stopSession(): void {
  if (retryTimer) clearTimeout(retryTimer);
  const ws = socket;
  socket = null;
  ws?.close();
  instances.value = null;
  clients.value = null;
  plugins.value = null;
  notifications.value = [];
}
