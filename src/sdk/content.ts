/**
 * The event contents the SDK's Matrix actions send (text, edits, reactions,
 * media, replies and threads), built in one place for the daemon
 * (core/bot-account.ts) and the plugin test kit (testing.ts), so what a
 * plugin's unit test sees is what the daemon would send.
 */
import type { FileOptions, MediaMessageOptions, RoomMedia, SendOptions } from './index.ts';

/** The m.relates_to of a reply and/or thread message, or undefined for a plain one. */
export function relation(options: Omit<SendOptions, 'notice'>): Record<string, unknown> | undefined {
  if (options.threadRoot) {
    return {
      rel_type: 'm.thread',
      event_id: options.threadRoot,
      is_falling_back: !options.replyTo,
      'm.in_reply_to': { event_id: options.replyTo ?? options.threadRoot },
    };
  }
  return options.replyTo ? { 'm.in_reply_to': { event_id: options.replyTo } } : undefined;
}

function withRelation(content: Record<string, unknown>, options: Omit<SendOptions, 'notice'>): Record<string, unknown> {
  const rel = relation(options);
  if (rel) content['m.relates_to'] = rel;
  return content;
}

export function textContent(text: string, html: string | undefined, options: SendOptions = {}): Record<string, unknown> {
  const content: Record<string, unknown> = { msgtype: options.notice ? 'm.notice' : 'm.text', body: text };
  if (html !== undefined) Object.assign(content, { format: 'org.matrix.custom.html', formatted_body: html });
  return withRelation(content, options);
}

/** An edit (m.replace) of an earlier notice, with the `* ` fallback for clients without edits. */
export function editContent(eventId: string, text: string, html?: string): Record<string, unknown> {
  const newContent: Record<string, unknown> = { msgtype: 'm.notice', body: text };
  if (html !== undefined) Object.assign(newContent, { format: 'org.matrix.custom.html', formatted_body: html });
  return {
    ...newContent,
    body: `* ${text}`,
    ...(html !== undefined ? { formatted_body: `* ${html}` } : {}),
    'm.new_content': newContent,
    'm.relates_to': { rel_type: 'm.replace', event_id: eventId },
  };
}

export function reactionContent(eventId: string, key: string): Record<string, unknown> {
  return { 'm.relates_to': { rel_type: 'm.annotation', event_id: eventId, key } };
}

export function mediaContent(media: RoomMedia, options: MediaMessageOptions): Record<string, unknown> {
  const info: Record<string, unknown> = { ...options.info };
  if (options.thumbnail) {
    const thumb = options.thumbnail.media;
    if ('file' in thumb) info.thumbnail_file = thumb.file;
    else info.thumbnail_url = thumb.url;
    info.thumbnail_info = options.thumbnail.info;
  }
  const content: Record<string, unknown> = { msgtype: options.msgtype, body: options.body, info, ...media };
  if (options.filename) content.filename = options.filename;
  return withRelation(content, options);
}

/** How sendFile describes an uploaded file of `size` bytes (m.file unless the plugin says otherwise). */
export function fileMessageOptions(options: FileOptions, size: number): MediaMessageOptions {
  return {
    msgtype: options.msgtype ?? 'm.file',
    body: options.body ?? options.filename ?? 'file',
    filename: options.filename,
    info: { mimetype: options.contentType, size, ...options.info },
    replyTo: options.replyTo,
    threadRoot: options.threadRoot,
  };
}
