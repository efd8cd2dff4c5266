/**
 * Reaction polls: a message listing the options as 1️⃣ 2️⃣ 3️⃣ …, voted on by
 * reacting with the option's number, for clients that do not show native
 * polls (./polls.ts). A vote arrives in the same shape as a native poll's
 * ({@link PollVoteEvent}), so {@link applyPollVote} and {@link tallyPoll}
 * count both kinds alike. Side-effect free apart from the reactions
 * {@link addReactionPollKeys} sends.
 */
import { escapeHtml, type MatrixActions, type PluginContext, type ReactionEvent } from './index.ts';
import type { PollAnswer, PollVoteEvent } from './polls.ts';

/** Keycap emojis a reaction poll's options are voted with: 1️⃣ … 9️⃣, 🔟. */
export const NUMBER_EMOJIS: readonly string[] = ['1️⃣', '2️⃣', '3️⃣', '4️⃣', '5️⃣', '6️⃣', '7️⃣', '8️⃣', '9️⃣', '🔟'];

/** The most options a reaction poll can have: one number emoji each. */
export const REACTION_POLL_MAX_OPTIONS = NUMBER_EMOJIS.length;

/** Option texts as poll answers with the ids "1", "2", … (the number each is voted with). */
export function reactionPollAnswers(texts: readonly string[]): PollAnswer[] {
  if (texts.length > REACTION_POLL_MAX_OPTIONS) throw new Error(`a reaction poll has at most ${REACTION_POLL_MAX_OPTIONS} options, got ${texts.length}`);
  return texts.map((text, i) => ({ id: String(i + 1), text }));
}

/**
 * The option (0-based index) a reaction key stands for, or null when it is
 * no number emoji or beyond the poll's options. Keycaps count with or
 * without the emoji variation selector (clients send both).
 */
export function reactionIndex(key: string, optionCount: number): number | null {
  const normalized = key.replace(/\uFE0F/g, '');
  const index = NUMBER_EMOJIS.findIndex((e) => e.replace(/\uFE0F/g, '') === normalized);
  return index >= 0 && index < optionCount ? index : null;
}

/** The answer a reaction key votes for, or null (see {@link reactionIndex}). */
export function reactionAnswer<A extends PollAnswer>(answers: readonly A[], key: string): A | null {
  const index = reactionIndex(key, answers.length);
  return index === null ? null : answers[index]!;
}

/**
 * The poll message: the title (bold in HTML), one "1️⃣ option" line per
 * answer, then the footer (italic in HTML), e.g. how to vote and when it ends.
 */
export function reactionPollMessage(title: string, answers: readonly PollAnswer[], footer: string): { text: string; html: string } {
  const lines = answers.map((a, i) => `${NUMBER_EMOJIS[i]} ${a.text}`);
  const text = [title, ...lines, footer].join('\n');
  const html = `<b>${escapeHtml(title)}</b><br>${lines.map(escapeHtml).join('<br>')}<br><i>${escapeHtml(footer)}</i>`;
  return { text, html };
}

/** Reacts to the poll message with the number of every option, in order, so voters only have to click one. */
export async function addReactionPollKeys(matrix: Pick<MatrixActions, 'react'>, roomId: string, eventId: string, optionCount: number): Promise<void> {
  for (const emoji of NUMBER_EMOJIS.slice(0, optionCount)) await matrix.react(roomId, eventId, emoji);
}

/**
 * Calls `handler` for every reaction that votes in a reaction poll, as the
 * vote it stands for (`pollEventId` is the poll message, `answers` the one
 * answer id, `ts` the reaction's origin_server_ts). `answersOf` says which
 * poll a reaction belongs to: the poll's answers, or null/undefined when the
 * reacted-to event is no open reaction poll. Reactions that are not one of
 * the poll's numbers are ignored. Removing a reaction (a redaction) is not
 * seen as a vote change.
 */
export function onReactionVote(
  ctx: Pick<PluginContext, 'onReaction'>,
  answersOf: (reaction: ReactionEvent) => readonly PollAnswer[] | null | undefined,
  handler: (vote: PollVoteEvent) => Promise<void> | void,
): void {
  ctx.onReaction(async (reaction) => {
    const answers = answersOf(reaction);
    if (!answers) return;
    const answer = reactionAnswer(answers, reaction.key);
    if (!answer) return;
    await handler({ roomId: reaction.roomId, sender: reaction.sender, ts: reaction.event.origin_server_ts, pollEventId: reaction.targetEventId, answers: [answer.id] });
  });
}
