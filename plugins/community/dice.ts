/**
 * Dice notation: `NdS` terms (N dice of S sides, N defaults to 1) and whole
 * number modifiers, joined by `+` or `-`: `d20`, `2d6+1d4-2`, `3d6 + 5`.
 * Pure: the random source is passed in.
 */

/** A whole number in [min, max], both included. */
export type RandomInt = (min: number, max: number) => number;

export interface DiceLimits {
  /** Dice in all terms together. */
  maxDice: number;
  /** Sides of any one die. */
  maxSides: number;
}

export type DiceTerm = { kind: 'dice'; sign: 1 | -1; count: number; sides: number } | { kind: 'modifier'; sign: 1 | -1; value: number };

export type DiceParse = { ok: true; terms: DiceTerm[] } | { ok: false; error: string };

export interface RolledTerm {
  term: DiceTerm;
  /** The dice's faces (empty for a modifier). */
  rolls: number[];
  /** The term's signed contribution to the total. */
  value: number;
}

export interface DiceRoll {
  terms: RolledTerm[];
  total: number;
}

export const MAX_TERMS = 20;
export const MAX_MODIFIER = 1_000_000;
export const NOT_DICE = 'That is not dice notation, e.g. 2d6+3 (NdS terms and numbers joined by + or -, like d20 or 2d6+1d4-2).';

const TERM = /^([+-])?(?:(\d*)[dD](\d+)|(\d+))/;

/** A number as the user wrote it, shortened when absurdly long. */
function shown(digits: string): string {
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  return trimmed.length > 12 ? `${trimmed.slice(0, 12)}…` : trimmed;
}

/** Whole number of at most 15 digits, else Infinity (compares as over any cap). */
function toNumber(digits: string): number {
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  return trimmed.length > 15 ? Infinity : Number(trimmed);
}

export function parseDice(input: string, limits: DiceLimits): DiceParse {
  // Spaces may surround + and -, nowhere else ("2d6 3" is not 2d63).
  let rest = input.trim().replace(/\s*([+-])\s*/g, '$1');
  if (!rest || /\s/.test(rest)) return { ok: false, error: NOT_DICE };
  const terms: DiceTerm[] = [];
  let totalDice = 0;
  let biggestSides = 0;
  let biggestSidesText = '';
  while (rest) {
    const m = TERM.exec(rest);
    // After the first term every term needs its + or -.
    if (!m || (terms.length > 0 && !m[1])) return { ok: false, error: NOT_DICE };
    rest = rest.slice(m[0].length);
    const sign = m[1] === '-' ? -1 : 1;
    if (terms.length >= MAX_TERMS) return { ok: false, error: `Too many terms: at most ${MAX_TERMS}.` };
    if (m[3] !== undefined) {
      const count = m[2] ? toNumber(m[2]) : 1;
      const sides = toNumber(m[3]);
      if (count < 1) return { ok: false, error: `Roll at least one die per term (got ${shown(m[2])}d${shown(m[3])}).` };
      if (sides < 1) return { ok: false, error: `A die needs at least one side (got d${shown(m[3])}).` };
      totalDice += count;
      if (sides > biggestSides) {
        biggestSides = sides;
        biggestSidesText = shown(m[3]);
      }
      terms.push({ kind: 'dice', sign, count, sides });
    } else {
      const value = toNumber(m[4]);
      if (value > MAX_MODIFIER) return { ok: false, error: `Modifiers can be at most ${MAX_MODIFIER} (got ${shown(m[4])}).` };
      terms.push({ kind: 'modifier', sign, value });
    }
  }
  if (!terms.some((t) => t.kind === 'dice')) return { ok: false, error: NOT_DICE };
  const problems: string[] = [];
  if (totalDice > limits.maxDice) {
    const asked = Number.isFinite(totalDice) ? String(totalDice) : 'more than that';
    problems.push(`too many dice (${asked}; at most ${limits.maxDice} in total)`);
  }
  if (biggestSides > limits.maxSides) problems.push(`too many sides (${biggestSidesText}; at most ${limits.maxSides} per die)`);
  if (problems.length) {
    const text = problems.join(' and ');
    return { ok: false, error: `${text[0].toUpperCase()}${text.slice(1)}.` };
  }
  return { ok: true, terms };
}

export function rollDice(terms: DiceTerm[], random: RandomInt): DiceRoll {
  const rolled = terms.map((term): RolledTerm => {
    if (term.kind === 'modifier') return { term, rolls: [], value: term.sign * term.value };
    const rolls = Array.from({ length: term.count }, () => random(1, term.sides));
    return { term, rolls, value: term.sign * rolls.reduce((a, b) => a + b, 0) };
  });
  return { terms: rolled, total: rolled.reduce((sum, t) => sum + t.value, 0) };
}

/** `2d6 [3, 5] + 1d4 [2] - 2 = 8` */
export function formatRoll(roll: DiceRoll): string {
  const parts = roll.terms.map((t, i) => {
    const sign = t.term.sign < 0 ? (i === 0 ? '-' : ' - ') : i === 0 ? '' : ' + ';
    const body = t.term.kind === 'dice' ? `${t.term.count}d${t.term.sides} [${t.rolls.join(', ')}]` : String(t.term.value);
    return sign + body;
  });
  return `${parts.join('')} = ${roll.total}`;
}
