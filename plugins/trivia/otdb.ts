/**
 * The Open Trivia Database client: categories, questions (HTML entities
 * decoded), session tokens.
 */
import { errorMessage } from 'trellis/sdk';
/**
 * Open Trivia DB format (https://opentdb.com/api_config.php): the shipped
 * question bank and the optional HTTP source both speak it. Texts keep
 * OTDB's default encoding (HTML entities) until they are shown.
 */
import { readFileSync } from 'node:fs';

export const DIFFICULTIES = ['easy', 'medium', 'hard'] as const;
export type Difficulty = (typeof DIFFICULTIES)[number];

/** One entry of OTDB's `results`, as sent (entities not decoded). */
export interface OtdbQuestion {
  category: string;
  type: 'multiple' | 'boolean';
  difficulty: Difficulty;
  question: string;
  correct_answer: string;
  incorrect_answers: string[];
}

export interface Category {
  /** Decoded, as OTDB names it: "Science & Nature". */
  name: string;
  /** What players type: "science". */
  slug: string;
}

const NAMED_ENTITIES: Record<string, string> = {
  quot: '"',
  amp: '&',
  lt: '<',
  gt: '>',
  apos: "'",
  nbsp: '\u00a0',
  shy: '\u00ad',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  sbquo: '‚',
  bdquo: '„',
  laquo: '«',
  raquo: '»',
  lsaquo: '‹',
  rsaquo: '›',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  bull: '•',
  middot: '·',
  prime: '′',
  Prime: '″',
  deg: '°',
  micro: 'µ',
  times: '×',
  divide: '÷',
  plusmn: '±',
  sup1: '¹',
  sup2: '²',
  sup3: '³',
  frac14: '¼',
  frac12: '½',
  frac34: '¾',
  pi: 'π',
  Pi: 'Π',
  ohm: 'Ω',
  Omega: 'Ω',
  alpha: 'α',
  beta: 'β',
  gamma: 'γ',
  delta: 'δ',
  Delta: 'Δ',
  lambda: 'λ',
  mu: 'μ',
  sigma: 'σ',
  Sigma: 'Σ',
  theta: 'θ',
  infin: '∞',
  ne: '≠',
  le: '≤',
  ge: '≥',
  rarr: '→',
  larr: '←',
  harr: '↔',
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  para: '¶',
  iexcl: '¡',
  iquest: '¿',
  ordm: 'º',
  ordf: 'ª',
  dagger: '†',
  aacute: 'á',
  Aacute: 'Á',
  agrave: 'à',
  Agrave: 'À',
  acirc: 'â',
  Acirc: 'Â',
  atilde: 'ã',
  Atilde: 'Ã',
  auml: 'ä',
  Auml: 'Ä',
  aring: 'å',
  Aring: 'Å',
  aelig: 'æ',
  AElig: 'Æ',
  ccedil: 'ç',
  Ccedil: 'Ç',
  eacute: 'é',
  Eacute: 'É',
  egrave: 'è',
  Egrave: 'È',
  ecirc: 'ê',
  Ecirc: 'Ê',
  euml: 'ë',
  Euml: 'Ë',
  iacute: 'í',
  Iacute: 'Í',
  igrave: 'ì',
  Igrave: 'Ì',
  icirc: 'î',
  Icirc: 'Î',
  iuml: 'ï',
  Iuml: 'Ï',
  eth: 'ð',
  ETH: 'Ð',
  ntilde: 'ñ',
  Ntilde: 'Ñ',
  oacute: 'ó',
  Oacute: 'Ó',
  ograve: 'ò',
  Ograve: 'Ò',
  ocirc: 'ô',
  Ocirc: 'Ô',
  otilde: 'õ',
  Otilde: 'Õ',
  ouml: 'ö',
  Ouml: 'Ö',
  oslash: 'ø',
  Oslash: 'Ø',
  oelig: 'œ',
  OElig: 'Œ',
  scaron: 'š',
  Scaron: 'Š',
  szlig: 'ß',
  thorn: 'þ',
  THORN: 'Þ',
  uacute: 'ú',
  Uacute: 'Ú',
  ugrave: 'ù',
  Ugrave: 'Ù',
  ucirc: 'û',
  Ucirc: 'Û',
  uuml: 'ü',
  Uuml: 'Ü',
  yacute: 'ý',
  Yacute: 'Ý',
  yuml: 'ÿ',
  Yuml: 'Ÿ',
  zcaron: 'ž',
  Zcaron: 'Ž',
};

/**
 * Decodes the HTML entities OTDB puts in its texts (`&quot;`, `&#039;`,
 * `&eacute;`, `&#x27;` …) in one pass, so `&amp;quot;` becomes `&quot;`.
 * Unknown entities are left as they are.
 */
export function decodeEntities(text: string): string {
  return text.replace(/&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});/g, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[name] ?? whole;
  });
}

/** "science" for "Science & Nature", "computers" for "Science: Computers", "general" for "General Knowledge". */
export function categorySlug(name: string): string {
  const decoded = decodeEntities(name).toLowerCase();
  const part = decoded.includes(':') ? decoded.slice(decoded.lastIndexOf(':') + 1) : decoded;
  const word = part.trim().split(/[\s&/,]+/)[0] ?? '';
  return word.normalize('NFD').replace(/[^a-z0-9]/g, '');
}

function isDifficulty(value: unknown): value is Difficulty {
  return typeof value === 'string' && (DIFFICULTIES as readonly string[]).includes(value);
}

/** One result entry if it is a usable question, else null. */
export function validQuestion(raw: unknown): OtdbQuestion | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const q = raw as Record<string, unknown>;
  if (typeof q.category !== 'string' || !q.category.trim()) return null;
  if (q.type !== 'multiple' && q.type !== 'boolean') return null;
  if (!isDifficulty(q.difficulty)) return null;
  if (typeof q.question !== 'string' || !q.question.trim()) return null;
  if (typeof q.correct_answer !== 'string' || !q.correct_answer.trim()) return null;
  if (!Array.isArray(q.incorrect_answers) || q.incorrect_answers.length === 0 || q.incorrect_answers.some((a) => typeof a !== 'string' || !a.trim())) return null;
  const incorrect = q.incorrect_answers as string[];
  // A poll shows at most 10 answers here (one number emoji each in reaction mode); duplicates would make two right answers.
  if (incorrect.length > 9) return null;
  const all = [q.correct_answer, ...incorrect].map((a) => decodeEntities(a).trim().toLowerCase());
  if (new Set(all).size !== all.length) return null;
  if (q.type === 'boolean' && (incorrect.length !== 1 || !['true', 'false'].includes(all[0]!) || !['true', 'false'].includes(all[1]!))) return null;
  return { category: q.category, type: q.type, difficulty: q.difficulty, question: q.question, correct_answer: q.correct_answer, incorrect_answers: [...incorrect] };
}

/** The usable questions of an OTDB response (`{results: [...]}`) and how many entries were not. */
export function parseOtdb(data: unknown): { questions: OtdbQuestion[]; skipped: number } {
  const results = typeof data === 'object' && data !== null ? (data as { results?: unknown }).results : undefined;
  if (!Array.isArray(results)) throw new Error('not Open Trivia DB JSON: there is no "results" list');
  const questions: OtdbQuestion[] = [];
  for (const raw of results) {
    const q = validQuestion(raw);
    if (q) questions.push(q);
  }
  return { questions, skipped: results.length - questions.length };
}

/** Reads a bank file in OTDB format; throws when it is unreadable or holds no usable question. */
export function loadBank(path: string): { questions: OtdbQuestion[]; skipped: number } {
  const parsed = parseOtdb(JSON.parse(readFileSync(path, 'utf8')) as unknown);
  if (parsed.questions.length === 0) throw new Error(`the question bank ${path} holds no usable question`);
  return parsed;
}

/** The categories of a set of questions, by name. */
export function categoriesOf(questions: readonly OtdbQuestion[]): Category[] {
  const byName = new Map<string, Category>();
  for (const q of questions) {
    const name = decodeEntities(q.category);
    if (!byName.has(name)) byName.set(name, { name, slug: categorySlug(q.category) });
  }
  return [...byName.values()].sort((a, b) => a.slug.localeCompare(b.slug));
}

export type TriviaCommand = { kind: 'scores' } | { kind: 'categories' } | { kind: 'ask'; category?: Category; difficulty?: Difficulty } | { kind: 'error'; message: string };

export function categoryList(categories: readonly Category[]): string {
  return categories.map((c) => c.slug).join(', ');
}

/**
 * `scores`, `categories`, or `[category] [difficulty]` in either order; a
 * category is its slug or its full name (any case).
 */
export function parseTriviaCommand(text: string, categories: readonly Category[]): TriviaCommand {
  const words = text.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 1 && (words[0] === 'scores' || words[0] === 'score' || words[0] === 'scoreboard')) return { kind: 'scores' };
  if (words.length === 1 && words[0] === 'categories') return { kind: 'categories' };
  let difficulty: Difficulty | undefined;
  const rest: string[] = [];
  for (const word of words) {
    if (!difficulty && isDifficulty(word)) difficulty = word;
    else rest.push(word);
  }
  if (rest.length === 0) return { kind: 'ask', difficulty };
  const wanted = rest.join(' ');
  const category = categories.find((c) => c.slug === wanted || c.name.toLowerCase() === wanted);
  if (category) return { kind: 'ask', category, difficulty };
  // Two words where the second is not a difficulty: say what was wrong with it.
  if (rest.length === 2 && categories.some((c) => c.slug === rest[0])) {
    return { kind: 'error', message: `Unknown difficulty "${rest[1]}". Difficulties: ${DIFFICULTIES.join(', ')}.` };
  }
  return { kind: 'error', message: `Unknown category "${wanted}". Categories: ${categoryList(categories)}. Difficulties: ${DIFFICULTIES.join(', ')}.` };
}

export function filterQuestions(questions: readonly OtdbQuestion[], filter: { category?: Category; difficulty?: Difficulty }): OtdbQuestion[] {
  return questions.filter((q) => (!filter.category || decodeEntities(q.category) === filter.category.name) && (!filter.difficulty || q.difficulty === filter.difficulty));
}

/** Open Trivia DB's own category ids, for its `category` parameter. */
export const OTDB_CATEGORY_IDS: Record<string, number> = {
  'General Knowledge': 9,
  'Entertainment: Books': 10,
  'Entertainment: Film': 11,
  'Entertainment: Music': 12,
  'Entertainment: Musicals & Theatres': 13,
  'Entertainment: Television': 14,
  'Entertainment: Video Games': 15,
  'Entertainment: Board Games': 16,
  'Science & Nature': 17,
  'Science: Computers': 18,
  'Science: Mathematics': 19,
  Mythology: 20,
  Sports: 21,
  Geography: 22,
  History: 23,
  Politics: 24,
  Art: 25,
  Celebrities: 26,
  Animals: 27,
  Vehicles: 28,
  'Entertainment: Comics': 29,
  'Science: Gadgets': 30,
  'Entertainment: Japanese Anime & Manga': 31,
  'Entertainment: Cartoon & Animations': 32,
};

/** OTDB's response codes (anything but 0 means no questions). */
const RESPONSE_CODES: Record<number, string> = {
  1: 'no results for the query',
  2: 'invalid parameter',
  3: 'session token not found',
  4: 'session token exhausted',
  5: 'rate limited',
};

/**
 * Asks an OTDB-format HTTP source for questions. The URL is used as
 * configured, with OTDB's `amount` (10 if absent), `difficulty` and
 * `category` (OTDB's id for a known name) added when asked for and not set
 * already. Returns the usable questions that match the filter; throws with a
 * reason on any failure (network, HTTP status, response code, bad JSON).
 */
export async function fetchOtdb(sourceUrl: string, filter: { category?: Category; difficulty?: Difficulty }, timeoutMs: number): Promise<OtdbQuestion[]> {
  const url = new URL(sourceUrl);
  if (!url.searchParams.has('amount')) url.searchParams.set('amount', '10');
  if (filter.difficulty && !url.searchParams.has('difficulty')) url.searchParams.set('difficulty', filter.difficulty);
  const categoryId = filter.category ? OTDB_CATEGORY_IDS[filter.category.name] : undefined;
  if (categoryId !== undefined && !url.searchParams.has('category')) url.searchParams.set('category', String(categoryId));
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    throw new Error(`${url.origin} did not answer: ${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (cause?.message ?? errorMessage(err))}`);
  }
  if (!res.ok) throw new Error(`${url.origin} answered HTTP ${res.status}`);
  let data: unknown;
  try {
    data = await res.json();
  } catch {
    throw new Error(`${url.origin} answered something that is not JSON`);
  }
  const code = (data as { response_code?: unknown } | null)?.response_code;
  if (typeof code === 'number' && code !== 0) throw new Error(`${url.origin} answered response_code ${code} (${RESPONSE_CODES[code] ?? 'unknown'})`);
  const matching = filterQuestions(parseOtdb(data).questions, filter);
  if (matching.length === 0) throw new Error(`${url.origin} sent no usable question${filter.category || filter.difficulty ? ' for that category and difficulty' : ''}`);
  return matching;
}
