/**
 * The small games' rules, pure: the random source is passed in.
 */
import { randomInt } from 'node:crypto';
import type { RandomInt } from './dice.ts';

export type { RandomInt };

/** crypto.randomInt where it can (ranges below 2^48), else Math.random. */
export const secureRandom: RandomInt = (min, max) => {
  if (max - min < 2 ** 48 - 1) return randomInt(min, max + 1);
  return Math.min(max, min + Math.floor(Math.random() * (max - min + 1)));
};

export function pick<T>(items: readonly T[], random: RandomInt): T {
  return items[random(0, items.length - 1)];
}

export type RangeParse = { ok: true; min: number; max: number } | { ok: false; error: string };

/** A safe integer, or why the text is not one. */
function parseInteger(text: string): { value: number } | { error: string } {
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t)) return { error: `"${t}" is not a whole number.` };
  const value = Number(t);
  if (!Number.isSafeInteger(value)) return { error: `${t} is too large (at most ${Number.MAX_SAFE_INTEGER} either way).` };
  return { value };
}

/** The bounds of `!random <min> <max>`. */
export function parseRange(minText: string, maxText: string): RangeParse {
  const min = parseInteger(minText);
  if ('error' in min) return { ok: false, error: min.error };
  const max = parseInteger(maxText);
  if ('error' in max) return { ok: false, error: max.error };
  if (min.value > max.value) return { ok: false, error: `min must not be greater than max (${min.value} > ${max.value}).` };
  return { ok: true, min: min.value, max: max.value };
}

export const RPS_CHOICES = ['rock', 'paper', 'scissors'] as const;
export type RpsChoice = (typeof RPS_CHOICES)[number];
export type RpsOutcome = 'win' | 'lose' | 'draw';

const BEATS: Record<RpsChoice, RpsChoice> = { rock: 'scissors', paper: 'rock', scissors: 'paper' };

export function parseRps(text: string): RpsChoice | null {
  const t = text.trim().toLowerCase();
  return (RPS_CHOICES as readonly string[]).includes(t) ? (t as RpsChoice) : null;
}

/** The outcome for the player. */
export function rpsOutcome(player: RpsChoice, bot: RpsChoice): RpsOutcome {
  if (player === bot) return 'draw';
  return BEATS[player] === bot ? 'win' : 'lose';
}

export const LANES = ['top', 'jungle', 'mid', 'bot', 'support'] as const;
export type Lane = (typeof LANES)[number];
export const ROLES = ['duelist', 'initiator', 'controller', 'sentinel'] as const;
export type Role = (typeof ROLES)[number];

const LANE_ALIASES: Record<string, Lane> = {
  jg: 'jungle',
  jungler: 'jungle',
  middle: 'mid',
  adc: 'bot',
  bottom: 'bot',
  carry: 'bot',
  supp: 'support',
  sup: 'support',
};

export function parseLane(text: string): Lane | null {
  const t = text.trim().toLowerCase();
  if ((LANES as readonly string[]).includes(t)) return t as Lane;
  return LANE_ALIASES[t] ?? null;
}

export function parseRole(text: string): Role | null {
  const t = text.trim().toLowerCase().replace(/s$/, '');
  return (ROLES as readonly string[]).includes(t) ? (t as Role) : null;
}

export interface Champion {
  name: string;
  lanes: string[];
}

export interface Agent {
  name: string;
  role: string;
}

export function championsFor(champions: readonly Champion[], lane?: Lane): Champion[] {
  return lane ? champions.filter((c) => c.lanes.includes(lane)) : [...champions];
}

export function agentsFor(agents: readonly Agent[], role?: Role): Agent[] {
  return role ? agents.filter((a) => a.role === role) : [...agents];
}

/** The configured list when it has entries, else the shipped one. */
export function listOrDefault<T>(configured: readonly T[] | undefined, shipped: readonly T[]): readonly T[] {
  return configured && configured.length > 0 ? configured : shipped;
}

/** `1 d 2 h 3 min 4 s`, leading zero units left out. */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  for (const [label, size] of units) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n > 0 || parts.length > 0 || label === 's') parts.push(`${n} ${label}`);
  }
  return parts.join(' ');
}
