/**
 * The Alertmanager webhook payload (version 4), which Grafana's webhook
 * contact point extends (orgId, per-alert silence/dashboard/panel/image URLs
 * and values). One notification is one alert group, so it becomes one
 * message, keyed by groupKey so the resolve can replace the firing message.
 */
import { type Piece, type Severity, bold, clip, field, italic, lines, link, links, list, rendered, seq, titleLine } from './html.ts';
import { type Obj, jsonObject, num, obj, objs, str, strings } from './read.ts';
import type { FormatInput, Rendered } from './types.ts';

const MAX_ALERTS = 10;
const MAX_LABELS = 8;

export interface AlertGroupOptions {
  /** Link text for externalURL ("Grafana", "Alertmanager"). */
  readonly product: string;
}

export function renderAlertGroup(input: FormatInput, options: AlertGroupOptions): Rendered | null {
  const body = jsonObject(input.body);
  const status = str(body?.status)?.toLowerCase();
  if (!body || !Array.isArray(body.alerts) || (status !== 'firing' && status !== 'resolved')) return null;

  const alerts = objs(body.alerts);
  const firing = alerts.filter((a) => str(a.status)?.toLowerCase() !== 'resolved').length;
  const resolved = status === 'resolved';
  const severity: Severity = resolved ? 'ok' : severityOf(str(obj(body.commonLabels)?.severity));
  const label = resolved ? 'RESOLVED' : `FIRING:${firing}`;

  const mixed = alerts.some((a) => (str(a.status)?.toLowerCase() ?? status) !== status);
  const groupAlertname = strings(body.groupLabels).find(([k]) => k === 'alertname')?.[1];
  const items = alerts.map((a) => alertItem(a, mixed, groupAlertname));
  const truncated = Math.max(0, num(body.truncatedAlerts) ?? 0);

  const message = lines(titleLine(severity, label, groupName(body)), list(items, MAX_ALERTS, truncated), link(body.externalURL, `Open ${options.product}`));
  return rendered(message, { key: groupKey(body), state: resolved ? 'resolved' : 'firing' });
}

/** critical by default: an unlabelled firing alert is something to look at now. */
function severityOf(label: string | undefined): Severity {
  switch (label?.toLowerCase()) {
    case 'warning':
    case 'warn':
      return 'warning';
    case 'info':
    case 'informational':
    case 'none':
      return 'info';
    default:
      return 'critical';
  }
}

/** Alertmanager's own title convention: the group's alertname, then its other grouping labels. */
function groupName(body: Obj): string {
  const group = strings(body.groupLabels);
  const alertname = group.find(([k]) => k === 'alertname')?.[1] ?? str(obj(body.commonLabels)?.alertname);
  const others = group.filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`);
  const name = alertname ?? (others.length > 0 ? others.shift() : undefined) ?? str(body.receiver) ?? 'Alert';
  return others.length > 0 ? `${name} (${others.join(', ')})` : name;
}

/** groupKey is stable across firing and resolved; without it the grouping labels identify the group. */
function groupKey(body: Obj): string {
  const key = str(body.groupKey);
  if (key !== undefined) return key;
  const labels = strings(body.groupLabels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(labels));
}

function alertItem(alert: Obj, showStatus: boolean, groupAlertname: string | undefined): Piece {
  const labels = strings(alert.labels);
  const annotations = Object.fromEntries(strings(alert.annotations));
  const name = labels.find(([k]) => k === 'alertname')?.[1] ?? 'Alert';
  const summary = annotations.summary ?? annotations.message ?? annotations.description;
  const description = annotations.description !== summary ? annotations.description : undefined;
  const status = str(alert.status)?.toLowerCase() === 'resolved' ? 'resolved' : 'firing';

  // alertname is the item's heading; grafana_folder and __private__ labels say nothing about the instance.
  const shownLabels = labels.filter(([k]) => k !== 'alertname' && k !== 'grafana_folder' && !k.startsWith('__')).slice(0, MAX_LABELS);

  // The title already names the group's alertname: then the summary alone heads the item.
  const heading = summary && name === groupAlertname ? bold(clip(summary, 300)) : seq(bold(name), summary ? `: ${clip(summary, 300)}` : undefined);
  return lines(
    seq(showStatus ? titleLine(status === 'resolved' ? 'ok' : 'critical', status.toUpperCase()) : undefined, showStatus ? ' ' : undefined, heading),
    description ? clip(description, 500) : undefined,
    shownLabels.length > 0 ? italic(shownLabels.map(([k, v]) => `${k}=${v}`).join(', ')) : undefined,
    field('Values', values(alert.values)),
    links([alert.generatorURL, 'Source'], [alert.dashboardURL, 'Dashboard'], [alert.panelURL, 'Panel'], [alert.imageURL, 'Image'], [annotations.runbook_url, 'Runbook'], [alert.silenceURL, 'Silence']),
  );
}

/** Grafana's query results per refId, e.g. {B: 44.23943737541908, C: 1} → "B=44.24, C=1". */
function values(value: unknown): string | undefined {
  const source = obj(value);
  if (!source) return undefined;
  const parts = Object.entries(source)
    .map(([k, v]) => {
      const n = num(v);
      return n === undefined ? undefined : `${k}=${Number(n.toPrecision(4))}`;
    })
    .filter((p) => p !== undefined);
  return parts.length === 0 ? undefined : parts.join(', ');
}
