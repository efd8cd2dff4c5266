/**
 * Wordle rules, the daily puzzle, per-user games and stats. Pure functions
 * plus a small service over key-value storage; the clock is injected
 * (`now()`), so days and streaks can be tested without waiting for midnight.
 */
import { createHash } from 'node:crypto';
import { SerialQueue } from 'trellis/sdk';

export const WORD_LENGTH = 5;
export const MAX_GUESSES = 6;
const DAY_MS = 86_400_000;

/** How one letter of a guess scored: right spot, in the word elsewhere, or not (any more) in the word. */
export type Mark = 'correct' | 'present' | 'absent';

/**
 * Scores a guess in two passes: greens first, then yellows against the
 * letters of the answer that are still unmatched, left to right. A letter
 * guessed more often than the answer has it is yellow only as many times
 * as unmatched copies remain.
 */
export function evaluate(guess: string, answer: string): Mark[] {
  const marks: Mark[] = new Array<Mark>(answer.length).fill('absent');
  const remaining = new Map<string, number>();
  for (let i = 0; i < answer.length; i++) {
    if (guess[i] === answer[i]) marks[i] = 'correct';
    else remaining.set(answer[i]!, (remaining.get(answer[i]!) ?? 0) + 1);
  }
  for (let i = 0; i < answer.length; i++) {
    if (marks[i] === 'correct') continue;
    const left = remaining.get(guess[i]!) ?? 0;
    if (left > 0) {
      marks[i] = 'present';
      remaining.set(guess[i]!, left - 1);
    }
  }
  return marks;
}

export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}

const COUNT_WORDS = ['', 'once', 'twice', 'three times', 'four times', 'five times'];

/**
 * Hard mode: every green so far stays in place and every revealed letter
 * (green or yellow) is used again, as many times as one guess revealed it.
 * Returns the first rule the guess breaks, as a sentence, or null.
 */
export function hardModeProblem(guess: string, previous: ReadonlyArray<{ word: string; marks: readonly Mark[] }>): string | null {
  for (const { word, marks } of previous) {
    for (let i = 0; i < word.length; i++) {
      if (marks[i] === 'correct' && guess[i] !== word[i]) return `${capitalize(ordinal(i + 1))} letter must be ${word[i]!.toUpperCase()}.`;
    }
  }
  const required = new Map<string, number>();
  for (const { word, marks } of previous) {
    const revealed = new Map<string, number>();
    for (let i = 0; i < word.length; i++) if (marks[i] !== 'absent') revealed.set(word[i]!, (revealed.get(word[i]!) ?? 0) + 1);
    for (const [letter, count] of revealed) required.set(letter, Math.max(required.get(letter) ?? 0, count));
  }
  for (const [letter, count] of required) {
    const have = [...guess].filter((c) => c === letter).length;
    if (have < count) return `Guess must contain ${letter.toUpperCase()}${count > 1 ? ` ${COUNT_WORDS[count] ?? `${count} times`}` : ''}.`;
  }
  return null;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The UTC day of a moment, as YYYY-MM-DD. */
export function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Days since 1970-01-01 of a YYYY-MM-DD day. */
export function dayNumber(day: string): number {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(ms)) throw new Error(`not a day (YYYY-MM-DD): ${day}`);
  return Math.floor(ms / DAY_MS);
}

export function addDays(day: string, days: number): string {
  return dayKey((dayNumber(day) + days) * DAY_MS);
}

/** Milliseconds from `now` to the next UTC midnight (the next puzzle). */
export function msUntilNextDay(now: number): number {
  return DAY_MS - (now % DAY_MS);
}

/** A seeded shuffle (Fisher–Yates driven by SHA-256 of the seed and a counter). */
function shuffled<T>(items: readonly T[], seed: string): T[] {
  const out = [...items];
  let block = Buffer.alloc(0);
  let counter = 0;
  let offset = 0;
  const next = (): number => {
    if (offset + 4 > block.length) {
      block = createHash('sha256').update(`${seed}\u0000${counter++}`).digest();
      offset = 0;
    }
    const value = block.readUInt32BE(offset);
    offset += 4;
    return value;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const orderCache = new Map<string, string[]>();

/**
 * The puzzle of a UTC day: the same for everyone on that day with the same
 * seed. Answers are dealt in a seeded order, so no word repeats until every
 * answer has had its day; each round through the list is shuffled anew.
 */
export function dailyAnswer(day: string, seed: string, answers: readonly string[]): string {
  if (answers.length === 0) throw new Error('the answer list is empty');
  const n = dayNumber(day);
  const round = Math.floor(n / answers.length);
  const key = `${answers.length}\u0000${answers[0]}\u0000${seed}\u0000${round}`;
  let order = orderCache.get(key);
  if (!order) {
    if (orderCache.size > 64) orderCache.clear();
    order = shuffled(answers, `${seed}\u0000${round}`);
    orderCache.set(key, order);
  }
  return order[((n % answers.length) + answers.length) % answers.length]!;
}

export type GameStatus = 'playing' | 'won' | 'lost';

export interface Game {
  [key: string]: string | boolean | string[] | undefined;
  day: string;
  answer: string;
  guesses: string[];
  hard: boolean;
  status: GameStatus;
  /** The room where `!wordle` was said, where the result is posted (none for a game started in the DM). */
  originRoom?: string;
}

export interface Stats {
  [key: string]: number | number[] | string | undefined;
  played: number;
  wins: number;
  currentStreak: number;
  maxStreak: number;
  /** Wins by number of guesses: index 0 = solved in 1. */
  distribution: number[];
  /** The last day whose game was finished. */
  lastDay?: string;
  /** The last day whose game was won (the streak runs through it). */
  lastWinDay?: string;
}

export function emptyStats(): Stats {
  return { played: 0, wins: 0, currentStreak: 0, maxStreak: 0, distribution: new Array<number>(MAX_GUESSES).fill(0) };
}

/** Stats after a finished game. A win continues the streak only if the previous win was the day before. */
export function recordResult(stats: Stats, day: string, won: boolean, guesses: number): Stats {
  if (stats.lastDay === day) return stats;
  const next: Stats = { ...stats, distribution: [...stats.distribution], played: stats.played + 1, lastDay: day };
  if (won) {
    next.wins++;
    next.distribution[guesses - 1] = (next.distribution[guesses - 1] ?? 0) + 1;
    const continues = stats.lastWinDay !== undefined && stats.lastWinDay === addDays(day, -1);
    next.currentStreak = (continues ? stats.currentStreak : 0) + 1;
    next.maxStreak = Math.max(next.maxStreak, next.currentStreak);
    next.lastWinDay = day;
  } else {
    next.currentStreak = 0;
  }
  return next;
}

/** The streak as of `today`: a day missed since the last win has ended it. */
export function currentStreak(stats: Stats, today: string): number {
  if (!stats.lastWinDay) return 0;
  return stats.lastWinDay === today || stats.lastWinDay === addDays(today, -1) ? stats.currentStreak : 0;
}

export function winPercent(stats: Stats): number {
  return stats.played === 0 ? 0 : Math.round((stats.wins / stats.played) * 100);
}

const SQUARES: Record<Mark, string> = { correct: '🟩', present: '🟨', absent: '⬛' };

export function emojiRow(marks: readonly Mark[]): string {
  return marks.map((m) => SQUARES[m]).join('');
}

/** "4/6", or "X/6" for a lost game. */
export function score(game: Pick<Game, 'guesses' | 'status'>): string {
  return `${game.status === 'won' ? game.guesses.length : 'X'}/${MAX_GUESSES}`;
}

/** The spoiler-free grid: one emoji row per guess. */
export function shareGrid(game: Pick<Game, 'guesses' | 'answer'>): string {
  return game.guesses.map((g) => emojiRow(evaluate(g, game.answer))).join('\n');
}

/** What `!wordle share` gives: "Wordle 2025-06-01 4/6*" (* = hard mode) and the grid. */
export function shareText(game: Game): string {
  return `Wordle ${game.day} ${score(game)}${game.hard ? '*' : ''}\n\n${shareGrid(game)}`;
}

export interface WordleStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: never): Promise<void>;
}

export interface WordLists {
  answers: readonly string[];
  guesses: ReadonlySet<string>;
}

export interface WordleOptions {
  storage: WordleStore;
  words: WordLists;
  /** The clock: milliseconds since the epoch. */
  now: () => number;
  seed: () => string;
}

export type GuessOutcome =
  | { kind: 'rejected'; message: string; game: Game }
  | { kind: 'over'; game: Game }
  | { kind: 'played'; game: Game; marks: Mark[]; finished: boolean; stats?: Stats /** The guess started today's game. */; created: boolean };

export interface Prefs {
  [key: string]: boolean;
  hard: boolean;
}

/**
 * One player's games, settings and stats in storage. Calls for the same
 * player run one at a time, so two quick guesses never both see 5 guesses.
 */
export class Wordle {
  readonly #options: WordleOptions;
  readonly #queue = new SerialQueue();

  constructor(options: WordleOptions) {
    this.#options = options;
  }

  now(): number {
    return this.#options.now();
  }

  today(): string {
    return dayKey(this.#options.now());
  }

  async #get<T>(key: string): Promise<T | undefined> {
    return (await this.#options.storage.get(key)) as T | undefined;
  }

  async #set(key: string, value: object): Promise<void> {
    await this.#options.storage.set(key, JSON.parse(JSON.stringify(value)) as never);
  }

  /** Today's game of a player, if they have one. */
  game(user: string, day = this.today()): Promise<Game | undefined> {
    return this.#get<Game>(`game:${user}:${day}`);
  }

  async prefs(user: string): Promise<Prefs> {
    return (await this.#get<Prefs>(`prefs:${user}`)) ?? { hard: false };
  }

  async #newGame(user: string, day: string, originRoom: string | undefined): Promise<Game> {
    const game: Game = { day, answer: dailyAnswer(day, this.#options.seed(), this.#options.words.answers), guesses: [], hard: (await this.prefs(user)).hard, status: 'playing' };
    if (originRoom) game.originRoom = originRoom;
    await this.#set(`game:${user}:${day}`, game);
    return game;
  }

  /** Starts today's game, or returns it as it stands; a room given for a game that has none becomes where its result goes. */
  start(user: string, originRoom?: string): Promise<{ game: Game; created: boolean }> {
    return this.#queue.run(user, async () => {
      const day = this.today();
      const existing = await this.game(user, day);
      if (!existing) return { game: await this.#newGame(user, day, originRoom), created: true };
      if (originRoom && !existing.originRoom && existing.status === 'playing') {
        existing.originRoom = originRoom;
        await this.#set(`game:${user}:${day}`, existing);
      }
      return { game: existing, created: false };
    });
  }

  /** Plays a guess in today's game (starting it if needed). */
  guess(user: string, input: string): Promise<GuessOutcome> {
    return this.#queue.run(user, async () => {
      const day = this.today();
      const existing = await this.game(user, day);
      const game = existing ?? (await this.#newGame(user, day, undefined));
      if (game.status !== 'playing') return { kind: 'over', game };
      const word = input.trim().toLowerCase();
      if (!/^[a-z]+$/.test(word)) return { kind: 'rejected', game, message: `A guess is one word of ${WORD_LENGTH} letters (A to Z).` };
      if (word.length !== WORD_LENGTH) return { kind: 'rejected', game, message: `${word.toUpperCase()} has ${word.length} letters; guesses have exactly ${WORD_LENGTH}.` };
      if (!this.#options.words.guesses.has(word)) return { kind: 'rejected', game, message: `${word.toUpperCase()} is not in the word list.` };
      if (game.hard) {
        const problem = hardModeProblem(
          word,
          game.guesses.map((g) => ({ word: g, marks: evaluate(g, game.answer) })),
        );
        if (problem) return { kind: 'rejected', game, message: `Hard mode: ${problem}` };
      }
      const marks = evaluate(word, game.answer);
      game.guesses.push(word);
      if (word === game.answer) game.status = 'won';
      else if (game.guesses.length >= MAX_GUESSES) game.status = 'lost';
      await this.#set(`game:${user}:${day}`, game);
      if (game.status === 'playing') return { kind: 'played', game, marks, finished: false, created: !existing };
      const stats = recordResult(await this.#rawStats(user), day, game.status === 'won', game.guesses.length);
      await this.#set(`stats:${user}`, stats);
      return { kind: 'played', game, marks, finished: true, stats, created: !existing };
    });
  }

  /**
   * Switches hard mode. Refused while today's game has guesses and is not
   * over; otherwise it applies to today's game (if not started) and later ones.
   */
  setHard(user: string, on: boolean): Promise<{ changed: boolean; refused: boolean; game?: Game }> {
    return this.#queue.run(user, async () => {
      const day = this.today();
      const game = await this.game(user, day);
      if (game && game.status === 'playing' && game.guesses.length > 0 && game.hard !== on) return { changed: false, refused: true, game };
      const prefs = await this.prefs(user);
      const changed = prefs.hard !== on;
      await this.#set(`prefs:${user}`, { ...prefs, hard: on });
      if (game && game.status === 'playing' && game.guesses.length === 0 && game.hard !== on) {
        game.hard = on;
        await this.#set(`game:${user}:${day}`, game);
      }
      return { changed, refused: false, game };
    });
  }

  async #rawStats(user: string): Promise<Stats> {
    const stored = await this.#get<Stats>(`stats:${user}`);
    return stored ? { ...emptyStats(), ...stored } : emptyStats();
  }

  /** Stats as of today (a missed day shows as a broken streak). */
  async stats(user: string): Promise<Stats> {
    const stats = await this.#rawStats(user);
    return { ...stats, currentStreak: currentStreak(stats, this.today()) };
  }
}
