/**
 * Matrix polls (MSC3381, the unstable `org.matrix.msc3381.*` events that
 * Element and other clients send and show): builders and parsers for the
 * start, response and end events, and a tally that applies the MSC's rules
 * (one vote per user: the latest, or for quizzes the first; votes after the
 * end do not count). Side-effect free: no I/O, no globals changed.
 */
import type { PluginContext } from './index.ts';

export const POLL_START_TYPE = 'org.matrix.msc3381.poll.start';
export const POLL_RESPONSE_TYPE = 'org.matrix.msc3381.poll.response';
export const POLL_END_TYPE = 'org.matrix.msc3381.poll.end';
/** The stable names (Matrix 1.7); parsers accept both, builders send the unstable ones clients understand today. */
export const POLL_START_STABLE_TYPE = 'm.poll.start';
export const POLL_RESPONSE_STABLE_TYPE = 'm.poll.response';
export const POLL_END_STABLE_TYPE = 'm.poll.end';

export const POLL_KIND_DISCLOSED = 'org.matrix.msc3381.poll.disclosed';
export const POLL_KIND_UNDISCLOSED = 'org.matrix.msc3381.poll.undisclosed';

/** MSC1767 plain-text rendering key. */
export const MSC1767_TEXT = 'org.matrix.msc1767.text';

/** Clients show at most this many answers (MSC3381). */
export const POLL_MAX_ANSWERS = 20;

export type PollKind = 'disclosed' | 'undisclosed';

export interface PollAnswer {
  id: string;
  text: string;
}

export interface PollStart {
  question: string;
  kind: PollKind;
  maxSelections: number;
  answers: PollAnswer[];
}

export interface PollResponse {
  /** The poll start event this answers. */
  pollEventId: string;
  /** Answer ids as sent (not yet checked against the poll). */
  answers: string[];
}

export interface PollEnd {
  pollEventId: string;
  text: string;
  /** Votes per answer id, when the sender included them. */
  results?: Record<string, number>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text of an MSC1767 node: the unstable or stable text key, or the first text/plain `m.message` rendering. */
function textOf(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (!isRecord(node)) return undefined;
  for (const key of [MSC1767_TEXT, 'm.text', 'body']) if (typeof node[key] === 'string') return node[key] as string;
  const renderings = node['org.matrix.msc1767.message'] ?? node['m.message'];
  if (Array.isArray(renderings)) {
    const plain = renderings.find((r) => isRecord(r) && typeof r.body === 'string' && (r.mimetype === undefined || r.mimetype === 'text/plain'));
    if (plain) return (plain as { body: string }).body;
  }
  return undefined;
}

function referenceOf(content: Record<string, unknown>): string | null {
  const rel = content['m.relates_to'];
  if (!isRecord(rel) || rel.rel_type !== 'm.reference' || typeof rel.event_id !== 'string' || !rel.event_id) return null;
  return rel.event_id;
}

/** "Question\n1. A\n2. B": the text clients without poll support show. */
export function pollFallbackText(question: string, answers: ReadonlyArray<string | PollAnswer>): string {
  return [question, ...answers.map((a, i) => `${i + 1}. ${typeof a === 'string' ? a : a.text}`)].join('\n');
}

function randomId(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 12);
}

export interface BuildPollStartOptions {
  question: string;
  /** Texts (ids are generated) or answers with their own ids (unique within the poll). */
  answers: ReadonlyArray<string | PollAnswer>;
  /** Default disclosed: voters see the counts while the poll is open. */
  kind?: PollKind;
  maxSelections?: number;
  /** The plain-text fallback; default {@link pollFallbackText}. */
  fallbackText?: string;
}

/**
 * The content of an `org.matrix.msc3381.poll.start` event, and the answers
 * with their ids. Throws on a poll clients would reject (no question, fewer
 * than 1 or more than 20 answers, duplicate ids).
 */
export function buildPollStart(options: BuildPollStartOptions): { type: string; content: Record<string, unknown>; answers: PollAnswer[] } {
  const question = options.question.trim();
  if (!question) throw new Error('a poll needs a question');
  const answers = options.answers.map((a) => (typeof a === 'string' ? { id: randomId(), text: a } : { id: a.id, text: a.text }));
  if (answers.length < 1 || answers.length > POLL_MAX_ANSWERS) throw new Error(`a poll needs 1 to ${POLL_MAX_ANSWERS} answers, got ${answers.length}`);
  if (new Set(answers.map((a) => a.id)).size !== answers.length) throw new Error('poll answer ids must be unique');
  if (answers.some((a) => !a.id)) throw new Error('poll answer ids must not be empty');
  const maxSelections = Math.max(1, Math.min(Math.floor(options.maxSelections ?? 1), answers.length));
  const fallback = options.fallbackText ?? pollFallbackText(question, answers);
  const content: Record<string, unknown> = {
    [POLL_START_TYPE]: {
      question: { [MSC1767_TEXT]: question },
      kind: options.kind === 'undisclosed' ? POLL_KIND_UNDISCLOSED : POLL_KIND_DISCLOSED,
      max_selections: maxSelections,
      answers: answers.map((a) => ({ id: a.id, [MSC1767_TEXT]: a.text })),
    },
    [MSC1767_TEXT]: fallback,
    body: fallback,
  };
  return { type: POLL_START_TYPE, content, answers };
}

/**
 * Reads a poll start event's content (unstable or stable keys). Like
 * Element: an unknown kind counts as undisclosed, max_selections defaults to
 * 1, answers past the 20th and answers without an id or text are dropped.
 * Null when there is no question or no usable answer.
 */
export function parsePollStart(content: Record<string, unknown>): PollStart | null {
  const poll = content[POLL_START_TYPE] ?? content[POLL_START_STABLE_TYPE];
  if (!isRecord(poll)) return null;
  const question = textOf(poll.question);
  if (!question) return null;
  const kind: PollKind = poll.kind === POLL_KIND_DISCLOSED || poll.kind === 'm.poll.disclosed' ? 'disclosed' : 'undisclosed';
  if (!Array.isArray(poll.answers)) return null;
  const answers: PollAnswer[] = [];
  const seen = new Set<string>();
  for (const raw of poll.answers.slice(0, POLL_MAX_ANSWERS)) {
    if (!isRecord(raw) || typeof raw.id !== 'string' || !raw.id || seen.has(raw.id)) continue;
    const text = textOf(raw);
    if (text === undefined) continue;
    seen.add(raw.id);
    answers.push({ id: raw.id, text });
  }
  if (answers.length === 0) return null;
  const max = poll.max_selections;
  const maxSelections = typeof max === 'number' && Number.isFinite(max) && max >= 1 ? Math.floor(max) : 1;
  return { question, kind, maxSelections, answers };
}

/** The content of a vote: `answers` are answer ids of the poll (empty = withdraw, per MSC3381). */
export function buildPollResponse(pollEventId: string, answers: string[]): { type: string; content: Record<string, unknown> } {
  return {
    type: POLL_RESPONSE_TYPE,
    content: {
      'm.relates_to': { rel_type: 'm.reference', event_id: pollEventId },
      [POLL_RESPONSE_TYPE]: { answers: [...answers] },
    },
  };
}

/** Reads a vote; null when it is not a reference to an event or carries no answer list. Non-string ids are dropped. */
export function parsePollResponse(content: Record<string, unknown>): PollResponse | null {
  const pollEventId = referenceOf(content);
  if (!pollEventId) return null;
  const response = content[POLL_RESPONSE_TYPE] ?? content[POLL_RESPONSE_STABLE_TYPE];
  if (!isRecord(response) || !Array.isArray(response.answers)) return null;
  return { pollEventId, answers: response.answers.filter((a): a is string => typeof a === 'string') };
}

/**
 * The content of the event that closes a poll: a reference to it and a text
 * (usually the results) with a `body` fallback; `results` (votes per answer
 * id) go in as `m.poll.results`, the stable spec's field for the sender's count.
 */
export function buildPollEnd(pollEventId: string, text: string, results?: Record<string, number>): { type: string; content: Record<string, unknown> } {
  const content: Record<string, unknown> = {
    'm.relates_to': { rel_type: 'm.reference', event_id: pollEventId },
    [POLL_END_TYPE]: {},
    [MSC1767_TEXT]: text,
    body: text,
  };
  if (results) content['m.poll.results'] = { ...results };
  return { type: POLL_END_TYPE, content };
}

export function parsePollEnd(content: Record<string, unknown>): PollEnd | null {
  const pollEventId = referenceOf(content);
  if (!pollEventId) return null;
  if (!isRecord(content[POLL_END_TYPE]) && !isRecord(content[POLL_END_STABLE_TYPE])) return null;
  const text = textOf(content) ?? '';
  const raw = content['m.poll.results'];
  let results: Record<string, number> | undefined;
  if (isRecord(raw)) {
    results = {};
    for (const [id, n] of Object.entries(raw)) if (typeof n === 'number' && Number.isFinite(n)) results[id] = n;
  }
  return results ? { pollEventId, text, results } : { pollEventId, text };
}

/** One user's vote as kept by {@link applyPollVote}: the answer ids and the vote's origin_server_ts. */
export interface PollVote {
  answers: string[];
  ts: number;
}

export interface ApplyVoteOptions {
  /** 'latest' (polls: a user may change their mind) or 'first' (quizzes: the first answer is final). */
  rule?: 'latest' | 'first';
  /** When the poll ended (ms); votes sent after it are ignored. */
  endedAt?: number | null;
}

/**
 * Records `sender`'s vote in `votes` (keyed by user id) if it counts, and
 * says whether anything changed. Answer ids the poll does not have are
 * dropped; a vote left with none is ignored (it neither counts nor replaces
 * an earlier vote); more answers than max_selections are cut to the first
 * ones. With rule 'latest' the vote with the newest origin_server_ts wins
 * (so votes arriving out of order are handled); with 'first' the oldest.
 */
export function applyPollVote(
  votes: Record<string, PollVote>,
  poll: { answers: readonly PollAnswer[]; maxSelections?: number },
  sender: string,
  answers: readonly string[],
  ts: number,
  options: ApplyVoteOptions = {},
): boolean {
  if (options.endedAt !== undefined && options.endedAt !== null && ts > options.endedAt) return false;
  const valid = new Set(poll.answers.map((a) => a.id));
  const chosen = [...new Set(answers.filter((a) => valid.has(a)))].slice(0, Math.max(1, poll.maxSelections ?? 1));
  if (chosen.length === 0) return false;
  const previous = votes[sender];
  const rule = options.rule ?? 'latest';
  if (previous && (rule === 'latest' ? ts < previous.ts : ts >= previous.ts)) return false;
  votes[sender] = { answers: chosen, ts };
  return true;
}

export interface PollTally {
  /** Votes per answer id (every answer present, 0 when nobody chose it). */
  counts: Record<string, number>;
  /** How many users voted. */
  voters: number;
  /** The answers with the most votes (several on a tie); empty when nobody voted. */
  winners: PollAnswer[];
}

/** Counts the votes kept by {@link applyPollVote}. */
export function tallyPoll(poll: { answers: readonly PollAnswer[] }, votes: Record<string, PollVote>): PollTally {
  const counts: Record<string, number> = {};
  for (const a of poll.answers) counts[a.id] = 0;
  let voters = 0;
  for (const vote of Object.values(votes)) {
    let counted = false;
    for (const id of vote.answers) {
      if (counts[id] === undefined) continue;
      counts[id]++;
      counted = true;
    }
    if (counted) voters++;
  }
  const top = Math.max(0, ...Object.values(counts));
  const winners = top === 0 ? [] : poll.answers.filter((a) => counts[a.id] === top);
  return { counts, voters, winners };
}

/** A parsed vote, with where and when it was cast. */
export interface PollVoteEvent extends PollResponse {
  roomId: string;
  sender: string;
  /** origin_server_ts of the response event. */
  ts: number;
}

/** Calls `handler` for every poll response the instance sees, in both the unstable and the stable event type, parsed. */
export function onPollResponse(ctx: Pick<PluginContext, 'onEvent'>, handler: (vote: PollVoteEvent) => Promise<void> | void): void {
  for (const type of [POLL_RESPONSE_TYPE, POLL_RESPONSE_STABLE_TYPE]) {
    ctx.onEvent(type, async ({ roomId, event }) => {
      const response = parsePollResponse(event.content);
      if (response) await handler({ ...response, roomId, sender: event.sender, ts: event.origin_server_ts });
    });
  }
}
