/**
 * "did you mean …?" for unknown keys: most unknown keys are typos of a key
 * the schema knows at the same place.
 */
import { z } from 'zod';
import { SECRET_SUFFIXES, secretBaseKey } from './secrets.ts';

/** Keys a strict object accepts at `path`, including the `_file`/`_credential` forms of secrets. */
export function knownKeys(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  let current: z.ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject) current = unwrap(current.shape[String(segment)] as z.ZodType | undefined);
    else if (current instanceof z.ZodRecord) current = unwrap(current.valueType as z.ZodType);
    else return [];
  }
  if (!(current instanceof z.ZodObject)) return [];
  const keys = Object.keys(current.shape);
  const stringPath = path.map(String);
  for (const key of [...keys]) {
    if (secretBaseKey([...stringPath, key]) === key) keys.push(...SECRET_SUFFIXES.map((s) => key + s));
  }
  return keys;
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.out as z.ZodType;
    } else {
      return current;
    }
  }
}

/** The candidate closest to `key` if it is a plausible typo (edit distance ≤ 2), else null. */
export function closest(key: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] as number;
}
