/**
 * The word lists shipped beside this module (answers.txt, guesses.txt: one
 * lowercase word a line, `#` starts a comment line). Every answer is also a
 * valid guess, whatever guesses.txt says.
 */
import { readFileSync } from 'node:fs';
import { WORD_LENGTH, type WordLists } from './game.ts';

export function parseWordList(text: string, what: string): string[] {
  const words: string[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim().toLowerCase();
    if (!line || line.startsWith('#')) continue;
    if (line.length !== WORD_LENGTH || !/^[a-z]+$/.test(line)) throw new Error(`${what} line ${index + 1}: "${raw.trim()}" is not a ${WORD_LENGTH}-letter word`);
    if (seen.has(line)) continue;
    seen.add(line);
    words.push(line);
  }
  if (words.length === 0) throw new Error(`${what} has no words`);
  return words;
}

function load(file: string): string[] {
  return parseWordList(readFileSync(new URL(`./${file}`, import.meta.url), 'utf8'), file);
}

export const ANSWERS: readonly string[] = Object.freeze(load('answers.txt'));
export const GUESSES: ReadonlySet<string> = new Set([...load('guesses.txt'), ...ANSWERS]);
export const WORDS: WordLists = { answers: ANSWERS, guesses: GUESSES };
