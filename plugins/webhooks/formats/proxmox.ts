/**
 * Proxmox VE 8.1+ (and PBS) webhook notification target. Its body is a
 * user-written Handlebars template; this reads the one the Proxmox docs and
 * most guides use: {"title": "{{ title }}", "message": "{{ escape message }}",
 * "severity": "{{ severity }}", "timestamp": "{{ timestamp }}", "fields": {{ json fields }}}
 * (fields may also be spread out as top-level hostname/type).
 */
import { type Severity, clip, field, joined, lines, pre, rendered, titleLine } from './html.ts';
import { jsonObject, obj, str, time } from './read.ts';
import type { Format } from './types.ts';

/** A backup log can be many kilobytes; the room gets the head of it. */
const MAX_MESSAGE = 3000;

/** Proxmox severities: info, notice, warning, error, unknown. */
const SEVERITIES: Record<string, Severity> = { error: 'critical', warning: 'warning', notice: 'info', info: 'info' };

export const proxmox: Format = (input) => {
  const body = jsonObject(input.body);
  const title = str(body?.title);
  const message = typeof body?.message === 'string' ? body.message.trim() : undefined;
  if (!body || (title === undefined && !message)) return null;

  const level = str(body.severity)?.toLowerCase();
  const fields = obj(body.fields) ?? body;
  return rendered(
    lines(
      titleLine(SEVERITIES[level ?? ''] ?? 'info', (level ?? 'info').toUpperCase(), title ?? 'Proxmox notification'),
      joined([field('Host', str(fields.hostname)), field('Type', str(fields.type)), field('Job', str(fields['job-id'])), field('Time', time(body.timestamp))], ' · '),
      message ? pre(clip(message, MAX_MESSAGE)) : undefined,
    ),
  );
};
