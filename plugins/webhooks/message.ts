/**
 * The Matrix message of one webhook request: hookshot's rendering without a
 * transform (`text`, `html`, `username`, else the payload as a JSON block),
 * and the event content every path ends in (msgtype, HTML, mentions, the
 * payload under hookshot's key), sized to fit in an event.
 */
import MarkdownIt from 'markdown-it';
import { escapeHtml, type JsonValue } from 'trellis/sdk';

export type Msgtype = 'm.notice' | 'm.text' | 'm.emote';

export interface OutgoingMessage {
  plain: string;
  html?: string;
  msgtype: Msgtype;
  mentions?: { room?: boolean; user_ids?: string[] };
  /** A transform's `hints.showUrlPreviews: false`: clients are told not to preview links (as hookshot does). */
  noPreviews?: boolean;
  /** Alert-style formats: the firing and resolving notifications of one alert share the key. */
  alert?: { key: string; state: 'firing' | 'resolved' };
}

/** hookshot's key for the payload, so tools written against hookshot find it. */
export const DATA_KEY = 'uk.half-shot.hookshot.webhook_data';

/** Events must stay under 64 KiB; these leave room for the rest of the event and encryption. */
const MAX_TEXT = 24 * 1024;
const MAX_DATA = 12 * 1024;

// html:false as hookshot: HTML in `text` is shown, not interpreted; `html` is the way to send HTML.
const markdown = new MarkdownIt({ html: false, linkify: false });

export function markdownToHtml(text: string): string {
  return markdown.render(text).trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n… (truncated: ${text.length - max} more characters)`;
}

/** hookshot's rendering of a payload without transform or format. */
export function renderGeneric(data: unknown): OutgoingMessage {
  const object = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
  let plain: string;
  let html: string | undefined;
  if (typeof data === 'string') {
    plain = `Received webhook data:\n\n\`\`\`\n${truncate(data, MAX_TEXT)}\n\`\`\``;
  } else if (typeof object?.text === 'string') {
    plain = object.text;
    if (typeof object.html === 'string') html = object.html;
  } else {
    plain = `Received webhook data:\n\n\`\`\`json\n${truncate(JSON.stringify(data, null, 2), MAX_TEXT)}\n\`\`\``;
  }
  html ??= markdownToHtml(plain);
  if (typeof object?.username === 'string') {
    plain = `**${object.username}**: ${plain}`;
    html = `<strong>${escapeHtml(object.username)}</strong>: ${html}`;
  }
  return { plain: truncate(plain, MAX_TEXT), html: html.length <= MAX_TEXT * 2 ? html : undefined, msgtype: 'm.notice' };
}

/**
 * The payload as an event may carry it: Matrix's canonical JSON has no floats and only integers
 * within ±2^53, so those become strings (as hookshot does); null when it is too large to attach.
 */
export function eventData(data: unknown): JsonValue | null {
  const convert = (value: unknown): JsonValue => {
    if (typeof value === 'number') return Number.isSafeInteger(value) ? value : String(value);
    if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
    if (Array.isArray(value)) return value.map(convert);
    if (typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, convert(v)]));
    return null;
  };
  const converted = convert(data);
  return JSON.stringify(converted).length <= MAX_DATA ? converted : null;
}

/** The m.room.message content of a message. */
export function messageContent(message: OutgoingMessage, data: JsonValue | null): Record<string, unknown> {
  const content: Record<string, unknown> = { msgtype: message.msgtype, body: message.plain };
  if (message.html !== undefined) Object.assign(content, { format: 'org.matrix.custom.html', formatted_body: message.html });
  if (message.mentions) content['m.mentions'] = message.mentions;
  if (message.noPreviews) content['com.beeper.linkpreviews'] = [];
  if (data !== null) content[DATA_KEY] = data;
  return content;
}
