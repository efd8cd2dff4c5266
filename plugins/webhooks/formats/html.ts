/**
 * Builds a message as text and HTML at once, so the two always say the same
 * thing. A Piece is a fragment in both forms; every builder escapes the text
 * it is given and `link` takes only http(s) URLs, so no payload value reaches
 * the HTML unescaped.
 */
import { escapeHtml } from 'trellis/sdk';
import type { Rendered } from './types.ts';

export interface Piece {
  readonly plain: string;
  readonly html: string;
  /** A block element (list, pre): `lines` puts no <br> next to it. */
  readonly block?: boolean;
}

/** What the builders take: a Piece, text to escape, or nothing (skipped). */
export type Part = Piece | string | number | null | undefined | false;

export type Severity = 'critical' | 'warning' | 'ok' | 'info';

/** The marker colours; Matrix clients honour `color` on <font> most widely. */
export const COLOURS: Readonly<Record<Severity, string>> = { critical: '#d32f2f', warning: '#f57c00', ok: '#2e7d32', info: '#1976d2' };

const EMPTY: Piece = { plain: '', html: '' };

function piece(part: Part): Piece {
  if (part === null || part === undefined || part === false) return EMPTY;
  if (typeof part === 'object') return part;
  return text(String(part));
}

function isEmpty(part: Part): boolean {
  const p = piece(part);
  return p.plain === '' && p.html === '';
}

/** Escaped text; newlines become <br>. */
export function text(value: string): Piece {
  return { plain: value, html: escapeHtml(value).replace(/\r?\n/g, '<br>') };
}

/** The parts one after another. */
export function seq(...parts: Part[]): Piece {
  const pieces = parts.map(piece);
  return { plain: pieces.map((p) => p.plain).join(''), html: pieces.map((p) => p.html).join('') };
}

/** The non-empty parts joined by `separator` (e.g. ', '). */
export function joined(parts: Part[], separator: string): Piece {
  const kept = parts.filter((p) => !isEmpty(p));
  return seq(...kept.flatMap((p, i) => (i === 0 ? [p] : [separator, p])));
}

export function bold(...parts: Part[]): Piece {
  const inner = seq(...parts);
  return { plain: inner.plain, html: `<b>${inner.html}</b>` };
}

export function italic(...parts: Part[]): Piece {
  const inner = seq(...parts);
  return { plain: inner.plain, html: `<i>${inner.html}</i>` };
}

export function code(value: string): Piece {
  return { plain: value, html: `<code>${escapeHtml(value)}</code>` };
}

/** Preformatted text (logs, tables); kept verbatim in both forms. */
export function pre(value: string): Piece {
  return { plain: value, html: `<pre>${escapeHtml(value)}</pre>`, block: true };
}

/** Coloured text in the severity's colour. */
export function coloured(severity: Severity, ...parts: Part[]): Piece {
  const inner = seq(...parts);
  return { plain: inner.plain, html: `<font color="${COLOURS[severity]}">${inner.html}</font>` };
}

/** `[LABEL]` in bold and the severity's colour: what a reader scans for. */
export function badge(severity: Severity, label: string): Piece {
  return coloured(severity, bold(`[${label}]`));
}

/** The bold first line: a coloured badge, then the subject. */
export function titleLine(severity: Severity, label: string, ...subject: Part[]): Piece {
  const rest = seq(...subject);
  return rest.plain === '' ? badge(severity, label) : seq(badge(severity, label), ' ', bold(rest));
}

/** `Label: value`, or nothing when the value is empty. */
export function field(label: string, ...value: Part[]): Piece | undefined {
  const v = seq(...value);
  return v.plain === '' && v.html === '' ? undefined : seq(`${label}: `, v);
}

/** The URL if it is an absolute http(s) URL, else undefined: javascript:, data: and relative links never become hrefs. */
export function safeUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (!/^https?:\/\//i.test(trimmed)) return undefined;
  try {
    const url = new URL(trimmed);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A link with `label` as its text (the URL itself when there is none); plain
 * text shows `label (url)`. Without a usable URL there is no link: nothing.
 */
export function link(url: unknown, label?: Part): Piece {
  const href = safeUrl(url);
  if (href === undefined) return EMPTY;
  const inner = label === undefined ? undefined : piece(label);
  if (inner === undefined || inner.plain === '' || inner.plain === href) return { plain: href, html: `<a href="${escapeHtml(href)}">${escapeHtml(href)}</a>` };
  return { plain: `${inner.plain} (${href})`, html: `<a href="${escapeHtml(href)}">${inner.html}</a>` };
}

/** The links that exist, joined by ' · ' (e.g. "Source · Silence · Dashboard"). */
export function links(...items: [url: unknown, label: string][]): Piece | undefined {
  const present = items.map(([url, label]) => link(url, label)).filter((p) => p.plain !== '');
  return present.length === 0 ? undefined : joined(present, ' · ');
}

/**
 * A bulleted list, at most `max` items, then "and N more" (N counts `extra`
 * items the payload left out too, e.g. Alertmanager's truncatedAlerts).
 */
export function list(items: Part[], max = 10, extra = 0): Piece | undefined {
  const kept = items.filter((p) => !isEmpty(p));
  const shown = kept.slice(0, max).map(piece);
  const more = kept.length - shown.length + Math.max(0, extra);
  if (shown.length === 0 && more === 0) return undefined;
  const plain = shown.map((p) => `• ${p.plain.replace(/\n/g, '\n  ')}`);
  const html = shown.map((p) => `<li>${p.html}</li>`);
  if (more > 0) {
    plain.push(`… and ${more} more`);
    html.push(`<li><i>… and ${more} more</i></li>`);
  }
  return { plain: plain.join('\n'), html: `<ul>${html.join('')}</ul>`, block: true };
}

/** The non-empty parts as lines: newlines in text, <br> in HTML (none next to a block). */
export function lines(...parts: Part[]): Piece {
  const kept = parts.filter((p) => !isEmpty(p)).map(piece);
  let html = '';
  kept.forEach((p, i) => {
    if (i > 0 && !p.block && !kept[i - 1].block) html += '<br>';
    html += p.html;
  });
  return { plain: kept.map((p) => p.plain).join('\n'), html };
}

/** At most `max` characters, with an ellipsis when cut (a webhook body can be a whole backup log). */
export function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  return `${value.slice(0, Math.max(0, max - 1)).trimEnd()}…`;
}

/** The first line of a (commit) message. */
export function firstLine(value: string): string {
  return value.split(/\r?\n/, 1)[0].trim();
}

/** Bytes for people: 2172672000 → "2.0 GiB". */
export function bytes(value: number | undefined): string | undefined {
  if (value === undefined || value < 0) return undefined;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = value;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${n.toFixed(1)} ${units[unit]}`;
}

/** A Rendered from the message's lines. */
export function rendered(message: Piece, alert?: Rendered['alert']): Rendered {
  return alert === undefined ? { plain: message.plain, html: message.html } : { plain: message.plain, html: message.html, alert };
}
