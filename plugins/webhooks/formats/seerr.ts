/**
 * Overseerr / Jellyseerr ("Seerr") Webhook agent with its default JSON
 * template: {notification_type, event, subject, message, image,
 * media: {media_type, tmdbId, tvdbId, status, status4k} | null,
 * request: {request_id, requestedBy_username, …} | null, issue: {issue_id, issue_type, issue_status, reportedBy_username, …} | null,
 * comment: {comment_message, commentedBy_username, …} | null, extra: [{name, value}]}.
 */
import { type Severity, clip, field, joined, lines, links, rendered, titleLine } from './html.ts';
import { type Obj, jsonObject, obj, objs, str } from './read.ts';
import type { Format } from './types.ts';

/** notification_type → title label and colour; pending and new issues want someone's attention. */
const TYPES: Record<string, [label: string, severity: Severity]> = {
  MEDIA_PENDING: ['Pending approval', 'warning'],
  MEDIA_APPROVED: ['Approved', 'info'],
  MEDIA_AUTO_APPROVED: ['Auto-approved', 'info'],
  MEDIA_AUTO_REQUESTED: ['Auto-requested', 'info'],
  MEDIA_AVAILABLE: ['Available', 'ok'],
  MEDIA_FAILED: ['Failed', 'critical'],
  MEDIA_DECLINED: ['Declined', 'critical'],
  ISSUE_CREATED: ['Issue reported', 'warning'],
  ISSUE_COMMENT: ['Issue comment', 'info'],
  ISSUE_RESOLVED: ['Issue resolved', 'ok'],
  ISSUE_REOPENED: ['Issue reopened', 'warning'],
  TEST_NOTIFICATION: ['Test', 'info'],
};

export const seerr: Format = (input) => {
  const body = jsonObject(input.body);
  const type = str(body?.notification_type);
  if (!body || type === undefined) return null;

  const [label, severity] = TYPES[type] ?? [str(body.event) ?? type, 'info'];
  const media = obj(body.media);
  const request = obj(body.request);
  const issue = obj(body.issue);
  const comment = obj(body.comment);
  const message = str(body.message);
  const commentText = str(comment?.comment_message);
  const extra = objs(body.extra).map((e) => field(str(e.name) ?? 'Info', str(e.value)));

  return rendered(
    lines(
      titleLine(severity, label, str(body.subject) ?? str(body.event) ?? 'Seerr'),
      message ? clip(message, 600) : undefined,
      joined(
        [
          field('Requested by', str(request?.requestedBy_username)),
          field('Reported by', str(issue?.reportedBy_username)),
          field('Issue', str(issue?.issue_type)),
          field('Type', str(media?.media_type)),
          field('Status', str(media?.status)),
        ],
        ' · ',
      ),
      commentText ? field(`Comment by ${str(comment?.commentedBy_username) ?? 'someone'}`, clip(commentText, 600)) : undefined,
      ...extra,
      links([body.image, 'Poster'], tmdbLink(media)),
    ),
  );
};

/** The payload has no link back to Seerr, so point at the catalogue entry. */
function tmdbLink(media: Obj | undefined): [url: unknown, label: string] {
  const id = str(media?.tmdbId);
  const type = str(media?.media_type);
  if (!id || !/^\d+$/.test(id) || (type !== 'movie' && type !== 'tv')) return [undefined, ''];
  return [`https://www.themoviedb.org/${type}/${id}`, 'TMDb'];
}
