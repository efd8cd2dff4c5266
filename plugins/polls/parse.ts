/**
 * The `!poll` command's text and how results read: pure
 * functions, tested on their own (test/unit/polls.test.ts).
 */
import type { PollAnswer, PollTally } from 'trellis/sdk';

export const MIN_OPTIONS = 2;
export const MAX_OPTIONS = 20;
export const MAX_QUESTION_LENGTH = 500;
export const MAX_OPTION_LENGTH = 200;

export type PollCommand = { kind: 'close' } | { kind: 'results' } | { kind: 'create'; question: string; options: string[] } | { kind: 'error'; message: string };

/**
 * `close`, `results`, or `Question? | option | option …`. Empty options
 * (a trailing `|`) are dropped; duplicates, too few or too many are errors.
 */
export function parsePollCommand(text: string, prefix: string, maxOptions = MAX_OPTIONS): PollCommand {
  const trimmed = text.trim();
  const example = `${prefix}poll Where do we eat? | Pizza | Sushi | Tacos`;
  if (!trimmed)
    return {
      kind: 'error',
      message: `Start a poll with a question and options separated by |, e.g. ${example}. ${prefix}poll close ends the latest open poll, ${prefix}poll results shows its votes.`,
    };
  const word = trimmed.toLowerCase();
  if (word === 'close' || word === 'end') return { kind: 'close' };
  if (word === 'results' || word === 'result') return { kind: 'results' };
  if (!trimmed.includes('|')) return { kind: 'error', message: `Separate the question and the options with |, e.g. ${example}.` };
  const [rawQuestion, ...rawOptions] = trimmed.split('|').map((part) => part.trim().replace(/\s+/g, ' '));
  const question = rawQuestion ?? '';
  if (!question) return { kind: 'error', message: `The poll needs a question before the first |, e.g. ${example}.` };
  if (question.length > MAX_QUESTION_LENGTH) return { kind: 'error', message: `The question is too long (${question.length} characters; at most ${MAX_QUESTION_LENGTH}).` };
  const options = rawOptions.filter((o) => o.length > 0);
  if (options.length < MIN_OPTIONS || options.length > maxOptions) {
    return { kind: 'error', message: `A poll needs ${MIN_OPTIONS} to ${maxOptions} options; you gave ${options.length}.` };
  }
  const long = options.find((o) => o.length > MAX_OPTION_LENGTH);
  if (long) return { kind: 'error', message: `The option "${long.slice(0, 40)}…" is too long (at most ${MAX_OPTION_LENGTH} characters).` };
  const seen = new Set<string>();
  for (const option of options) {
    const key = option.toLowerCase();
    if (seen.has(key)) return { kind: 'error', message: `The option "${option}" is listed twice.` };
    seen.add(key);
  }
  return { kind: 'create', question, options };
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** "Pizza: 2 votes" per option, then the winner(s) or "Nobody voted." */
export function resultLines(answers: PollAnswer[], tally: PollTally): string[] {
  const lines = answers.map((a) => `${a.text}: ${plural(tally.counts[a.id] ?? 0, 'vote', 'votes')}`);
  lines.push(winnerLine(tally));
  return lines;
}

export function winnerLine(tally: PollTally): string {
  if (tally.winners.length === 0) return 'Nobody voted.';
  const top = tally.counts[tally.winners[0]!.id] ?? 0;
  const voters = plural(tally.voters, 'voter', 'voters');
  if (tally.winners.length === 1) return `Winner: ${tally.winners[0]!.text} (${plural(top, 'vote', 'votes')} of ${voters}).`;
  const names = tally.winners.map((w) => w.text);
  return `Tie: ${names.slice(0, -1).join(', ')} and ${names.at(-1)} (${plural(top, 'vote', 'votes')} each, ${voters}).`;
}

/** "24 h", "90 min", "30 s": how long until a poll closes by itself. */
export function describeDuration(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 72) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}
