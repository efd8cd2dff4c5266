/**
 * Owncast webhooks: {type, eventData}. Stream events (STREAM_STARTED,
 * STREAM_STOPPED, STREAM_TITLE_UPDATED) carry {id, name, streamTitle, summary, timestamp};
 * chat events (CHAT, USER_JOINED, NAME_CHANGE, VISIBILITY-UPDATE) carry the user and message.
 * No server URL or thumbnail is in the payload, so there is nothing to link.
 */
import { type Severity, bold, clip, field, lines, rendered, titleLine } from './html.ts';
import { arr, bool, jsonObject, obj, str, time } from './read.ts';
import type { Format } from './types.ts';

const TYPES: Record<string, [label: string, severity: Severity]> = {
  STREAM_STARTED: ['LIVE', 'ok'],
  STREAM_STOPPED: ['OFFLINE', 'info'],
  STREAM_TITLE_UPDATED: ['TITLE CHANGED', 'info'],
  CHAT: ['CHAT', 'info'],
  USER_JOINED: ['JOINED', 'info'],
  NAME_CHANGE: ['RENAMED', 'info'],
  'VISIBILITY-UPDATE': ['MODERATION', 'info'],
};

export const owncast: Format = (input) => {
  const body = jsonObject(input.body);
  const type = str(body?.type);
  const data = obj(body?.eventData);
  if (!body || type === undefined || (!data && !(type in TYPES))) return null;

  const [label, severity] = TYPES[type] ?? [type, 'info'];
  const user = str(obj(data?.user)?.displayName);
  const server = str(data?.name) ?? 'Owncast';
  const when = field('Time', time(data?.timestamp));

  switch (type) {
    case 'CHAT': {
      // rawBody is what the user typed; body is Owncast's rendered HTML, shown only as text.
      const said = str(data?.rawBody) ?? str(data?.body)?.replace(/<[^>]*>/g, '');
      return rendered(lines(titleLine(severity, label, user ?? 'Someone'), said ? clip(said, 1000) : undefined));
    }
    case 'USER_JOINED':
      return rendered(lines(titleLine(severity, label, `${user ?? 'Someone'} joined the chat`)));
    case 'NAME_CHANGE':
      return rendered(lines(titleLine(severity, label, `${user ?? 'Someone'} is now ${str(data?.newName) ?? 'someone else'}`)));
    case 'VISIBILITY-UPDATE': {
      const count = arr(data?.ids).length;
      return rendered(lines(titleLine(severity, label, `${count} chat message${count === 1 ? '' : 's'} ${bool(data?.visible) ? 'shown' : 'hidden'}`)));
    }
    default: {
      const streamTitle = str(data?.streamTitle);
      const summary = str(data?.summary);
      return rendered(lines(titleLine(severity, label, server), streamTitle ? bold(streamTitle) : undefined, summary ? clip(summary, 300) : undefined, when));
    }
  }
};
