/**
 * The welcome flow's pure parts: who counts as newly joined, how templates
 * are filled in, which reactions confirm a welcome, and what the user is told.
 */
import { escapeHtml } from 'trellis/sdk';

/** What the plugin keeps per user (storage key `welcome:<user id>`). */
export interface WelcomeRecord {
  user: string;
  /** The DM the welcome was sent in. */
  room: string;
  /** The welcome message: only reactions to it count. */
  event: string;
  state: 'welcomed' | 'done';
  welcomed_at: number;
  done_at?: number;
  /** Rooms whose invite failed when the user confirmed. */
  failed_rooms?: string[];
}

export function recordKey(userId: string): string {
  return `welcome:${userId}`;
}

export interface MembershipChange {
  roomId: string;
  userId: string;
  membership: string;
  previousMembership?: string;
}

/**
 * A user entering the Space: a join whose previous membership was not a join
 * (a join after a join is a display-name or avatar change). The bot itself never counts.
 */
export function isNewJoin(change: MembershipChange, space: string, botUserId: string): boolean {
  if (!space || change.roomId !== space) return false;
  if (change.userId === botUserId) return false;
  return change.membership === 'join' && change.previousMembership !== 'join';
}

/** The user's display name from their join event, else their user id's localpart. */
export function displayNameOf(userId: string, content: Record<string, unknown>): string {
  const name = typeof content.displayname === 'string' ? content.displayname.trim() : '';
  if (name) return name;
  const localpart = userId.startsWith('@') ? userId.slice(1).split(':')[0] : userId;
  return localpart || userId;
}

export interface TemplateValues {
  user: string;
  displayname: string;
  reaction: string;
}

/**
 * Fills `{user}`, `{displayname}` and `{reaction}` in one pass (a display name
 * containing `{user}` stays as written). Unknown `{…}` are left alone. With
 * `html`, the values are escaped for formatted_body.
 */
export function renderTemplate(template: string, values: TemplateValues, html = false): string {
  return template.replace(/\{(user|displayname|reaction)\}/g, (_, name: keyof TemplateValues) => (html ? escapeHtml(values[name]) : values[name]));
}

/** Reaction keys compared without emoji variation selectors (✔ and ✔️ are the same key to a person). */
export function sameReaction(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/[\uFE0E\uFE0F]/g, '').trim();
  return norm(a) === norm(b);
}

export type ReactionVerdict = 'confirm' | 'not_welcome' | 'wrong_key' | 'already_done';

/** What a reaction in a room means for the welcome flow of its sender. */
export function classifyReaction(record: WelcomeRecord | undefined, reaction: { roomId: string; sender: string; targetEventId: string; key: string }, configuredKey: string): ReactionVerdict {
  if (!record || record.user !== reaction.sender || record.room !== reaction.roomId || record.event !== reaction.targetEventId) return 'not_welcome';
  if (!sameReaction(reaction.key, configuredKey)) return 'wrong_key';
  return record.state === 'done' ? 'already_done' : 'confirm';
}

/** Why an invite failed, in words for the user (the log gets the homeserver's full answer). */
export function inviteFailureReason(err: unknown): string {
  const e = err as { errcode?: unknown; error?: unknown; message?: unknown } | null;
  const errcode = typeof e?.errcode === 'string' ? e.errcode : '';
  if (errcode === 'M_FORBIDDEN') return 'the bot is not allowed to invite people there';
  if (errcode === 'M_LIMIT_EXCEEDED') return 'the homeserver is rate-limiting the bot';
  if (errcode === 'M_NOT_FOUND' || errcode === 'M_UNKNOWN_ROOM') return 'the room no longer exists';
  const text = typeof e?.error === 'string' && e.error ? e.error : typeof e?.message === 'string' ? e.message : String(err);
  return `the homeserver refused (${text})`;
}

export interface InviteFailure {
  room: string;
  /** The room's name, or its id when it has none. */
  label: string;
  reason: string;
}

/**
 * What the user reads after confirming: the configured text, then a sentence
 * per room that failed. When every room failed there is nothing on its way,
 * so the configured text is left out.
 */
export function confirmationText(confirmText: string, roomCount: number, failures: InviteFailure[]): string {
  const lines: string[] = [];
  if (roomCount === 0 || failures.length < roomCount) lines.push(confirmText);
  for (const failure of failures) lines.push(`I could not invite you to ${failure.label}: ${failure.reason}. Please ask the space's admins.`);
  return lines.join('\n');
}
