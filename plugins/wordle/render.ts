/**
 * Boards, keyboards and stats as Matrix messages: an HTML body coloured
 * only with the spec's `data-mx-bg-color` / `data-mx-color` span attributes
 * inside `<code>` (Element and Cinny both honour them; no CSS classes), and
 * a plain-text body with emoji squares and bracket markers.
 */
import { escapeHtml } from 'trellis/sdk';
import { MAX_GUESSES, WORD_LENGTH, emojiRow, evaluate, score, winPercent, type Game, type Mark, type Stats } from './game.ts';

export interface Rendered {
  text: string;
  html: string;
}

export const COLORS: Record<Mark | 'unknown', { bg: string; fg: string }> = {
  correct: { bg: '#6aaa64', fg: '#ffffff' },
  present: { bg: '#c9b458', fg: '#ffffff' },
  absent: { bg: '#787c7e', fg: '#ffffff' },
  unknown: { bg: '#d3d6da', fg: '#1a1a1b' },
};

const KEY_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm'];

function tile(letter: string, state: Mark | 'unknown'): string {
  const { bg, fg } = COLORS[state];
  return `<span data-mx-bg-color="${bg}" data-mx-color="${fg}"><b>&nbsp;${escapeHtml(letter.toUpperCase())}&nbsp;</b></span>`;
}

/** The board: one coloured row per guess, then empty rows up to six. */
export function renderBoard(guesses: readonly string[], answer: string): Rendered {
  const text: string[] = [];
  const html: string[] = [];
  for (const guess of guesses) {
    const marks = evaluate(guess, answer);
    text.push(`${emojiRow(marks)}  ${guess.toUpperCase().split('').join(' ')}`);
    html.push(`<code>${[...guess].map((c, i) => tile(c, marks[i]!)).join('&nbsp;')}</code>`);
  }
  for (let i = guesses.length; i < MAX_GUESSES; i++) {
    text.push(`${'⬜'.repeat(WORD_LENGTH)}`);
    html.push(`<code>${new Array(WORD_LENGTH).fill('&nbsp;·&nbsp;').join('&nbsp;')}</code>`);
  }
  return { text: text.join('\n'), html: html.join('<br>') };
}

/** The best thing known about each letter so far: green beats yellow beats grey. */
export function letterStates(guesses: readonly string[], answer: string): Map<string, Mark> {
  const rank: Record<Mark, number> = { absent: 0, present: 1, correct: 2 };
  const states = new Map<string, Mark>();
  for (const guess of guesses) {
    const marks = evaluate(guess, answer);
    [...guess].forEach((letter, i) => {
      const known = states.get(letter);
      if (!known || rank[marks[i]!] > rank[known]) states.set(letter, marks[i]!);
    });
  }
  return states;
}

/** The on-screen keyboard with every letter coloured by what the guesses revealed. */
export function renderKeyboard(guesses: readonly string[], answer: string): Rendered {
  const states = letterStates(guesses, answer);
  const text = KEY_ROWS.map(
    (row, r) =>
      ' '.repeat(r * 2) +
      [...row]
        .map((c) => {
          const state = states.get(c);
          const upper = c.toUpperCase();
          return state === 'correct' ? `[${upper}]` : state === 'present' ? `(${upper})` : state === 'absent' ? ' · ' : ` ${upper} `;
        })
        .join(''),
  );
  const html = KEY_ROWS.map((row, r) => `<code>${'&nbsp;'.repeat(r * 2)}${[...row].map((c) => tile(c, states.get(c) ?? 'unknown')).join('&nbsp;')}</code>`);
  return { text: text.join('\n'), html: html.join('<br>') };
}

/** A whole game message: title, board, keyboard and what comes next. */
export function renderGame(game: Game, prefix: string): Rendered {
  const board = renderBoard(game.guesses, game.answer);
  const keyboard = renderKeyboard(game.guesses, game.answer);
  const mode = game.hard ? ' · hard mode' : '';
  let footer: string;
  if (game.status === 'won') footer = `Solved in ${score(game)}! Share it with ${prefix}wordle share; a new word comes at 00:00 UTC.`;
  else if (game.status === 'lost') footer = `Out of guesses (${score(game)}): the word was ${game.answer.toUpperCase()}. A new word comes at 00:00 UTC.`;
  else footer = `Guess ${game.guesses.length + 1} of ${MAX_GUESSES}: send a ${WORD_LENGTH}-letter word (or ${prefix}guess <word>).`;
  const title = `Wordle ${game.day}${mode}`;
  const legend = '[X] right spot, (X) elsewhere in the word, · not in the word';
  return {
    text: `${title}\n\n${board.text}\n\n${keyboard.text}\n${legend}\n\n${footer}`,
    html: `<b>${escapeHtml(title)}</b><br><br>${board.html}<br><br>${keyboard.html}<br><br>${escapeHtml(footer)}`,
  };
}

/** The result posted to the room the game was started from: no letters, only squares. */
export function renderRoomResult(user: string, game: Game): Rendered {
  const rows = game.guesses.map((g) => emojiRow(evaluate(g, game.answer)));
  const hard = game.hard ? ' (hard mode)' : '';
  const headline = game.status === 'won' ? `${user} solved Wordle ${game.day} in ${score(game)}${hard}` : `${user} did not solve Wordle ${game.day}: ${score(game)}${hard}`;
  return { text: `${headline}\n${rows.join('\n')}`, html: `${escapeHtml(headline)}<br>${rows.join('<br>')}` };
}

export function renderStats(user: string, stats: Stats): Rendered {
  const lines = [`Played: ${stats.played}`, `Win: ${winPercent(stats)} %`, `Current streak: ${stats.currentStreak}`, `Max streak: ${stats.maxStreak}`];
  const most = Math.max(1, ...stats.distribution);
  const bars = stats.distribution.map((count, i) => ({ guesses: i + 1, count, bar: '█'.repeat(Math.round((count / most) * 10)) }));
  const text = [`Wordle stats for ${user}`, lines.join(' · '), 'Guess distribution:', ...bars.map((b) => `${b.guesses} │${b.bar} ${b.count}`)].join('\n');
  const html = [
    `<b>Wordle stats for ${escapeHtml(user)}</b>`,
    escapeHtml(lines.join(' · ')),
    'Guess distribution:',
    // The bar is the span's own colour: spaces, so it shows the same in any font.
    ...bars.map(
      (b) =>
        `<code>${b.guesses}&nbsp;<span data-mx-bg-color="${b.count ? COLORS.correct.bg : COLORS.absent.bg}" data-mx-color="#ffffff">${'&nbsp;'.repeat(b.bar.length * 2)}&nbsp;${b.count}&nbsp;</span></code>`,
    ),
  ].join('<br>');
  return { text, html };
}
