/**
 * Apprise's JSON notification (json:// and jsons:// URLs):
 * {version: "1.0", title, message, type: info|success|warning|failure, attachments: [{filename, base64, mimetype}]}.
 * The form:// variant posts the same fields as a form, which reads the same here.
 */
import { type Severity, clip, field, lines, rendered, titleLine } from './html.ts';
import { jsonObject, objs, str } from './read.ts';
import type { Format } from './types.ts';

const TYPES: Record<string, Severity> = { info: 'info', success: 'ok', warning: 'warning', failure: 'critical' };

export const apprise: Format = (input) => {
  const body = jsonObject(input.body);
  const title = str(body?.title);
  const message = str(body?.message);
  if (!body || (title === undefined && message === undefined)) return null;

  const type = str(body.type)?.toLowerCase() ?? 'info';
  // Attachments arrive inline as base64, which a Matrix message cannot carry: name them.
  const attachments = objs(body.attachments)
    .map((a) => str(a.filename))
    .filter((f) => f !== undefined);
  return rendered(
    lines(
      titleLine(TYPES[type] ?? 'info', type.toUpperCase(), title ?? ''),
      message ? clip(message, 4000) : undefined,
      attachments.length > 0 ? field('Attachments', attachments.join(', ')) : undefined,
    ),
  );
};
