/**
 * Uptime Kuma's Webhook notification ("Preset - application/json", or the
 * form-data variant whose `data` field holds the same JSON):
 * {heartbeat: {status, msg, time, localDateTime, timezone, ping, …} | null, monitor: {id, name, url, hostname, port, …} | null, msg}.
 * A test, and notices such as certificate expiry, come without a heartbeat.
 */
import { type Severity, clip, field, joined, lines, link, rendered, titleLine } from './html.ts';
import { type Obj, jsonObject, num, obj, str } from './read.ts';
import type { Format } from './types.ts';

/** heartbeat.status: 0 down, 1 up, 2 pending (retrying), 3 maintenance. */
const STATUSES: Record<number, [label: string, severity: Severity]> = { 0: ['DOWN', 'critical'], 1: ['UP', 'ok'], 2: ['PENDING', 'warning'], 3: ['MAINTENANCE', 'info'] };

export const uptimeKuma: Format = (input) => {
  const body = jsonObject(input.body, 'data');
  const heartbeat = obj(body?.heartbeat);
  const monitor = obj(body?.monitor);
  const msg = str(body?.msg);
  if (!body || (!heartbeat && msg === undefined)) return null;

  const name = str(monitor?.name);
  const status = num(heartbeat?.status);
  const known = status === undefined ? undefined : STATUSES[status];
  if (!heartbeat || !known) return rendered(lines(titleLine('info', 'INFO', name ?? 'Uptime Kuma'), msg ? clip(msg, 1000) : undefined));

  const [label, severity] = known;
  const reason = str(heartbeat.msg);
  const message = lines(
    titleLine(severity, label, name ?? 'Monitor'),
    reason ? clip(reason, 1000) : undefined,
    joined([target(monitor), field('Time', when(heartbeat)), status === 1 && num(heartbeat.ping) !== undefined ? field('Ping', `${num(heartbeat.ping)} ms`) : undefined], ' · '),
  );
  // Only down and up pair up: pending may never turn into an outage, maintenance is announced, not alerted.
  const id = str(monitor?.id) ?? name;
  if ((status !== 0 && status !== 1) || id === undefined) return rendered(message);
  return rendered(message, { key: `uptime-kuma:${id}`, state: status === 0 ? 'firing' : 'resolved' });
};

/** What is monitored: the URL for HTTP monitors (others carry a placeholder "https://"), else host and port. */
function target(monitor: Obj | undefined) {
  if (!monitor) return undefined;
  const url = link(monitor.url);
  if (url.plain !== '') return url;
  const host = str(monitor.hostname);
  const port = num(monitor.port);
  return host ? `${host}${port ? `:${port}` : ''}` : undefined;
}

/** Kuma sends the beat's time in UTC and again in the server's zone. */
function when(heartbeat: Obj): string | undefined {
  const local = str(heartbeat.localDateTime);
  const zone = str(heartbeat.timezone);
  if (local) return zone ? `${local} (${zone})` : local;
  const utc = str(heartbeat.time);
  return utc ? `${utc} UTC` : undefined;
}
