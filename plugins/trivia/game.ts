/**
 * A trivia round's pure parts: the answers as shown, who was right, the
 * points, and the scoreboard (tested in test/unit/trivia.test.ts).
 */
import type { PollVote } from 'trellis/sdk';
import { decodeEntities, type Difficulty, type OtdbQuestion } from './otdb.ts';

export const POINTS: Record<Difficulty, number> = { easy: 1, medium: 2, hard: 3 };

export interface ShownQuestion {
  category: string;
  difficulty: Difficulty;
  /** Decoded question text. */
  question: string;
  /** Decoded answers in the order shown. */
  answers: string[];
  correctIndex: number;
}

/**
 * Decodes a question for showing: multiple-choice answers shuffled (with
 * `random`, for tests), true/false always "True" then "False".
 */
export function showQuestion(q: OtdbQuestion, random: () => number = Math.random): ShownQuestion {
  const correct = decodeEntities(q.correct_answer);
  let answers: string[];
  if (q.type === 'boolean') {
    answers = ['True', 'False'];
  } else {
    answers = [correct, ...q.incorrect_answers.map(decodeEntities)];
    for (let i = answers.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [answers[i], answers[j]] = [answers[j]!, answers[i]!];
    }
  }
  const correctIndex = answers.findIndex((a) => a.toLowerCase() === correct.toLowerCase());
  return { category: decodeEntities(q.category), difficulty: q.difficulty, question: decodeEntities(q.question), answers, correctIndex };
}

/** Who answered right and wrong (each player's first answer, as kept by applyPollVote with rule 'first'), in answer order. */
export function judge(votes: Record<string, PollVote>, correctId: string): { right: string[]; wrong: string[] } {
  const ordered = Object.entries(votes).sort((a, b) => a[1].ts - b[1].ts || a[0].localeCompare(b[0]));
  return {
    right: ordered.filter(([, v]) => v.answers.includes(correctId)).map(([user]) => user),
    wrong: ordered.filter(([, v]) => !v.answers.includes(correctId)).map(([user]) => user),
  };
}

export interface ScoreEntry {
  points: number;
  correct: number;
  answered: number;
}

export type Scoreboard = Record<string, ScoreEntry>;

/** Adds a round to the board: right players get the difficulty's points; everyone who answered gets a round counted. */
export function addRound(board: Scoreboard, result: { right: string[]; wrong: string[] }, difficulty: Difficulty): Scoreboard {
  const next: Scoreboard = { ...board };
  for (const user of [...result.right, ...result.wrong]) {
    const entry = { ...(next[user] ?? { points: 0, correct: 0, answered: 0 }) };
    entry.answered++;
    if (result.right.includes(user)) {
      entry.correct++;
      entry.points += POINTS[difficulty];
    }
    next[user] = entry;
  }
  return next;
}

/** Highest points first, then most right answers, then user id. */
export function ranking(board: Scoreboard): Array<[string, ScoreEntry]> {
  return Object.entries(board).sort((a, b) => b[1].points - a[1].points || b[1].correct - a[1].correct || a[0].localeCompare(b[0]));
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function scoreboardText(board: Scoreboard, limit: number): string {
  const rows = ranking(board);
  if (rows.length === 0) return 'No trivia scores in this room yet.';
  const lines = rows.slice(0, limit).map(([user, e], i) => `${i + 1}. ${user}: ${plural(e.points, 'point', 'points')} (${e.correct} of ${e.answered} right)`);
  return ['Trivia scores:', ...lines].join('\n');
}

/** "The answer was: Paris." then who was right (+points) and wrong. */
export function revealText(shown: Pick<ShownQuestion, 'answers' | 'correctIndex' | 'difficulty'>, result: { right: string[]; wrong: string[] }): string {
  const lines = [`The answer was: ${shown.answers[shown.correctIndex]}.`];
  if (result.right.length === 0 && result.wrong.length === 0) {
    lines.push('Nobody answered.');
    return lines.join('\n');
  }
  const points = POINTS[shown.difficulty];
  lines.push(result.right.length ? `Right (+${plural(points, 'point', 'points')}): ${result.right.join(', ')}` : 'Right: nobody');
  if (result.wrong.length) lines.push(`Wrong: ${result.wrong.join(', ')}`);
  return lines.join('\n');
}
