import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addDays, dailyAnswer, dayKey, evaluate, hardModeProblem, msUntilNextDay, shareText, Wordle, type Game, type Mark } from '../../plugins/wordle/game.ts';
import { letterStates, renderBoard, renderGame, renderKeyboard, renderRoomResult, renderStats } from '../../plugins/wordle/render.ts';
import { ANSWERS, GUESSES, WORDS, parseWordList } from '../../plugins/wordle/words.ts';

const C: Mark = 'correct';
const P: Mark = 'present';
const A: Mark = 'absent';

const at = (day: string, time = '12:00:00') => Date.parse(`${day}T${time}Z`);

/** The platform's storage, in memory: JSON in, JSON out. */
function memoryStorage() {
  const data = new Map<string, string>();
  return {
    data,
    async get(key: string) {
      const raw = data.get(key);
      return raw === undefined ? undefined : JSON.parse(raw);
    },
    async set(key: string, value: unknown) {
      data.set(key, JSON.stringify(value));
    },
  };
}

function setup(day: string, seed = 'test-seed') {
  const clock = { ms: at(day) };
  const storage = memoryStorage();
  let currentSeed = seed;
  const wordle = new Wordle({ storage, words: WORDS, now: () => clock.ms, seed: () => currentSeed });
  return {
    wordle,
    storage,
    goTo(next: string, time?: string) {
      clock.ms = at(next, time);
    },
    setSeed(next: string) {
      currentSeed = next;
    },
    answer: (d: string) => dailyAnswer(d, currentSeed, ANSWERS),
  };
}

/** A valid guess that is not the answer and shares no letter with it. */
function missFor(answer: string, skip: string[] = []): string {
  const word = [...GUESSES].find((w) => w !== answer && !skip.includes(w) && ![...w].some((c) => answer.includes(c)));
  assert.ok(word, `no valid guess avoids every letter of ${answer}`);
  return word;
}

async function win(wordle: Wordle, user: string, answer: string, misses = 0) {
  const tried: string[] = [];
  for (let i = 0; i < misses; i++) {
    const miss = missFor(answer, tried);
    tried.push(miss);
    const out = await wordle.guess(user, miss);
    assert.equal(out.kind, 'played');
  }
  const out = await wordle.guess(user, answer);
  assert.equal(out.kind, 'played');
  return out;
}

async function lose(wordle: Wordle, user: string, answer: string) {
  const tried: string[] = [];
  let out;
  for (let i = 0; i < 6; i++) {
    const miss = missFor(answer, tried);
    tried.push(miss);
    out = await wordle.guess(user, miss);
    assert.equal(out.kind, 'played');
  }
  return out!;
}

describe('wordle evaluation (two passes: greens, then yellows by remaining counts)', () => {
  test('duplicate letters in the guess are yellow only as often as the answer has them left', () => {
    // SPEED vs ABIDE: one E in ABIDE, so only the first E is yellow; D is yellow.
    assert.deepEqual(evaluate('speed', 'abide'), [A, A, P, A, P]);
    // ALLEY vs LLAMA: the 2nd L is green, the 1st A yellow, the 3rd-position L takes the other L (yellow).
    assert.deepEqual(evaluate('alley', 'llama'), [P, C, P, A, A]);
  });

  test('a green takes its letter before an earlier duplicate can be yellow', () => {
    // EERIE vs THERE: the last E is green, the first E takes the other E, the second E is grey.
    assert.deepEqual(evaluate('eerie', 'there'), [P, A, P, A, C]);
    // SASSY vs ASSET: the middle S is green; one S left for the first S; the fourth S is grey.
    assert.deepEqual(evaluate('sassy', 'asset'), [P, P, C, A, A]);
    // LEVER vs EATEN: 4th E green, 2nd E yellow (the first E of EATEN).
    assert.deepEqual(evaluate('lever', 'eaten'), [A, P, A, C, A]);
    // ABBEY vs BABES: B green in the middle, the other B and A are yellow.
    assert.deepEqual(evaluate('abbey', 'babes'), [P, P, C, C, A]);
    // A letter the answer has twice, guessed once in a wrong place: yellow.
    assert.deepEqual(evaluate('spool', 'llama'), [A, A, A, A, P]);
  });

  test('all green, all grey, and yellows that are only position swaps', () => {
    assert.deepEqual(evaluate('kayak', 'kayak'), [C, C, C, C, C]);
    assert.deepEqual(evaluate('crane', 'dough'), [A, A, A, A, A]);
    assert.deepEqual(evaluate('heart', 'earth'), [P, P, P, P, P]);
  });
});

describe('wordle hard mode', () => {
  const history = (answer: string, ...words: string[]) => words.map((word) => ({ word, marks: evaluate(word, answer) }));

  test('greens must stay in place, named by ordinal position', () => {
    // STEER vs SHEEP: S, and E in the 3rd and 4th place are green.
    assert.equal(hardModeProblem('sable', history('sheep', 'steer')), '3rd letter must be E.');
    assert.equal(hardModeProblem('shell', history('sheep', 'steer')), '4th letter must be E.');
    assert.equal(hardModeProblem('xxxxx', history('cater', 'crane')), '1st letter must be C.');
    assert.equal(hardModeProblem('sheep', history('sheep', 'steer')), null);
  });

  test('yellows must be used again, duplicates as often as revealed', () => {
    // CRANE vs CATER: C green; R, A, E yellow.
    assert.equal(hardModeProblem('cabin', history('cater', 'crane')), 'Guess must contain R.');
    assert.equal(hardModeProblem('cream', history('cater', 'crane')), null);
    // EERIE vs THERE reveals two Es (one yellow, one green) and an R.
    assert.equal(hardModeProblem('bribe', history('there', 'eerie')), 'Guess must contain E twice.');
    assert.equal(hardModeProblem('three', history('there', 'eerie')), null);
    // Greys never restrict anything.
    assert.equal(hardModeProblem('dough', history('dough', 'crane')), null);
  });

  test('every earlier guess counts, not only the last', () => {
    // Guess 1 CRANE vs TEPID reveals E; guess 2 PIOUS reveals P and I.
    const earlier = history('tepid', 'crane', 'pious');
    assert.equal(hardModeProblem('pixie', earlier), null);
    assert.equal(hardModeProblem('split', earlier), 'Guess must contain E.');
  });
});

describe('wordle daily word', () => {
  test('days are UTC days', () => {
    assert.equal(dayKey(Date.parse('2025-06-01T23:59:59.999Z')), '2025-06-01');
    assert.equal(dayKey(Date.parse('2025-06-02T00:00:00Z')), '2025-06-02');
    assert.equal(addDays('2024-12-31', 1), '2025-01-01');
    assert.equal(addDays('2024-03-01', -1), '2024-02-29');
    assert.equal(msUntilNextDay(Date.parse('2025-06-01T23:00:00Z')), 3_600_000);
  });

  test('the same date and seed give the same word, from the answer list', () => {
    const word = dailyAnswer('2025-06-01', 'alpha', ANSWERS);
    assert.ok(ANSWERS.includes(word));
    assert.equal(dailyAnswer('2025-06-01', 'alpha', ANSWERS), word);
    assert.equal(dailyAnswer('2025-06-01', 'alpha', [...ANSWERS]), word, 'a copy of the list gives the same word');
  });

  test('another seed gives (almost always) other words; words rarely repeat', () => {
    let differ = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const day = addDays('2025-06-01', i);
      const a = dailyAnswer(day, 'alpha', ANSWERS);
      if (a !== dailyAnswer(day, 'beta', ANSWERS)) differ++;
      seen.add(a);
    }
    assert.ok(differ >= 55, `only ${differ} of 60 days differ between seeds`);
    assert.ok(seen.size >= 59, `only ${seen.size} different words in 60 days`);
  });

  test('a whole round of the list deals every answer exactly once', () => {
    const answers = ANSWERS.slice(0, 40);
    const first = Math.ceil(Date.parse('2025-01-01T00:00:00Z') / 86_400_000 / 40) * 40;
    const dealt = new Set<string>();
    for (let i = 0; i < 40; i++) dealt.add(dailyAnswer(dayKey((first + i) * 86_400_000), 'x', answers));
    assert.equal(dealt.size, 40);
  });

  test('word lists: enough common answers, a large guess list that contains them all', () => {
    assert.ok(ANSWERS.length >= 300, `${ANSWERS.length} answers`);
    assert.ok(GUESSES.size >= 2000, `${GUESSES.size} guesses`);
    for (const a of ANSWERS) assert.ok(GUESSES.has(a), `${a} is an answer but not a valid guess`);
    for (const w of GUESSES) assert.match(w, /^[a-z]{5}$/);
    assert.equal(new Set(ANSWERS).size, ANSWERS.length);
    assert.throws(() => parseWordList('# comment\nhello\nhi\n', 'test.txt'), /test\.txt line 3: "hi" is not a 5-letter word/);
    assert.deepEqual(parseWordList('# c\nHello\n\nhello\nworld\n', 't'), ['hello', 'world']);
  });
});

describe('wordle games, stats and streaks', () => {
  test('rejects bad guesses without using a turn', async () => {
    const { wordle } = setup('2025-06-01');
    for (const [input, message] of [
      ['qzxvj', 'QZXVJ is not in the word list.'],
      ['toolong', 'TOOLONG has 7 letters; guesses have exactly 5.'],
      ['cat', 'CAT has 3 letters; guesses have exactly 5.'],
      ['cr4ne', 'A guess is one word of 5 letters (A to Z).'],
    ]) {
      const out = await wordle.guess('@a:x', input!);
      assert.equal(out.kind, 'rejected');
      assert.equal(out.kind === 'rejected' && out.message, message);
    }
    assert.deepEqual((await wordle.game('@a:x'))!.guesses, []);
  });

  test('a game is won with the answer and lost after six misses; then it is over', async () => {
    const s = setup('2025-06-01');
    const answer = s.answer('2025-06-01');
    const won = await win(s.wordle, '@w:x', answer, 2);
    assert.ok(won.kind === 'played' && won.finished && won.game.status === 'won' && won.game.guesses.length === 3);
    assert.equal((await s.wordle.guess('@w:x', answer)).kind, 'over');
    const lost = await lose(s.wordle, '@l:x', answer);
    assert.ok(lost.kind === 'played' && lost.finished && lost.game.status === 'lost');
    assert.equal((await s.wordle.guess('@l:x', answer)).kind, 'over');
    assert.deepEqual((await s.wordle.stats('@l:x')).distribution, [0, 0, 0, 0, 0, 0]);
  });

  test('hard mode refuses a violating guess and can only be switched before the first guess', async () => {
    const s = setup('2025-06-01');
    const answer = s.answer('2025-06-01');
    assert.equal((await s.wordle.setHard('@h:x', true)).refused, false);
    const { game } = await s.wordle.start('@h:x');
    assert.equal(game.hard, true);
    // A first guess that reveals the answer's first letter as green.
    const opener = [...GUESSES].find((w) => w !== answer && w[0] === answer[0])!;
    assert.equal((await s.wordle.guess('@h:x', opener)).kind, 'played');
    const breaker = [...GUESSES].find((w) => w[0] !== answer[0])!;
    const refused = await s.wordle.guess('@h:x', breaker);
    assert.equal(refused.kind, 'rejected');
    assert.equal(refused.kind === 'rejected' && refused.message, `Hard mode: 1st letter must be ${answer[0]!.toUpperCase()}.`);
    assert.deepEqual(await s.wordle.setHard('@h:x', false), { changed: false, refused: true, game: (await s.wordle.game('@h:x'))! });
    assert.equal((await s.wordle.game('@h:x'))!.hard, true);
    assert.equal((await s.wordle.guess('@h:x', answer)).kind, 'played');
    // Game over: the switch is allowed again and applies to the next game.
    assert.equal((await s.wordle.setHard('@h:x', false)).refused, false);
    s.goTo('2025-06-02');
    assert.equal((await s.wordle.start('@h:x')).game.hard, false);
    // Before the first guess, switching changes today's game too.
    await s.wordle.setHard('@h:x', true);
    assert.equal((await s.wordle.game('@h:x'))!.hard, true);
  });

  test('streaks: consecutive wins grow it, a loss or a missed day resets it, max is kept', async () => {
    const s = setup('2025-06-01');
    const u = '@s:x';
    await win(s.wordle, u, s.answer('2025-06-01'), 3); // 4/6
    let stats = await s.wordle.stats(u);
    assert.deepEqual([stats.played, stats.wins, stats.currentStreak, stats.maxStreak], [1, 1, 1, 1]);
    assert.deepEqual(stats.distribution, [0, 0, 0, 1, 0, 0]);

    s.goTo('2025-06-02', '23:59:00');
    await win(s.wordle, u, s.answer('2025-06-02'), 0); // 1/6, late in the day still counts as consecutive
    stats = await s.wordle.stats(u);
    assert.deepEqual([stats.played, stats.currentStreak, stats.maxStreak], [2, 2, 2]);

    s.goTo('2025-06-03', '00:00:01');
    await lose(s.wordle, u, s.answer('2025-06-03'));
    stats = await s.wordle.stats(u);
    assert.deepEqual([stats.played, stats.wins, stats.currentStreak, stats.maxStreak], [3, 2, 0, 2]);

    s.goTo('2025-06-04');
    await win(s.wordle, u, s.answer('2025-06-04'), 1);
    assert.equal((await s.wordle.stats(u)).currentStreak, 1);
    s.goTo('2025-06-05');
    assert.equal((await s.wordle.stats(u)).currentStreak, 1, 'still alive the next day, before playing');

    // 2025-06-05 is skipped: on the 6th the streak is gone, and a win starts a new one.
    s.goTo('2025-06-06');
    assert.equal((await s.wordle.stats(u)).currentStreak, 0);
    await win(s.wordle, u, s.answer('2025-06-06'), 1);
    s.goTo('2025-06-07');
    await win(s.wordle, u, s.answer('2025-06-07'), 1);
    s.goTo('2025-06-08');
    await win(s.wordle, u, s.answer('2025-06-08'), 1);
    stats = await s.wordle.stats(u);
    assert.deepEqual([stats.played, stats.wins, stats.currentStreak, stats.maxStreak], [7, 6, 3, 3]);
    assert.deepEqual(stats.distribution, [1, 4, 0, 1, 0, 0]);
  });

  test('an unfinished game from yesterday is not continued or counted; a seed change keeps a started game', async () => {
    const s = setup('2025-06-01');
    const u = '@y:x';
    await s.wordle.guess(u, missFor(s.answer('2025-06-01')));
    s.goTo('2025-06-02');
    const { game, created } = await s.wordle.start(u);
    assert.equal(created, true);
    assert.deepEqual(game.guesses, []);
    assert.equal(game.answer, s.answer('2025-06-02'));
    assert.equal((await s.wordle.stats(u)).played, 0);
    s.setSeed('another');
    assert.equal((await s.wordle.game(u))!.answer, game.answer);
  });

  test('the room a game was started from is kept for the result', async () => {
    const s = setup('2025-06-01');
    assert.equal((await s.wordle.start('@r:x', '!room1:x')).game.originRoom, '!room1:x');
    assert.equal((await s.wordle.start('@r:x', '!room2:x')).game.originRoom, '!room1:x');
    await s.wordle.start('@d:x');
    assert.equal((await s.wordle.start('@d:x', '!room3:x')).game.originRoom, '!room3:x', 'a game begun in the DM reports to the first room that asks');
  });

  test('guesses of one player are played one at a time', async () => {
    const s = setup('2025-06-01');
    const answer = s.answer('2025-06-01');
    const tried: string[] = [];
    for (let i = 0; i < 8; i++) tried.push(missFor(answer, tried));
    const outcomes = await Promise.all(tried.map((w) => s.wordle.guess('@p:x', w)));
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['played', 'played', 'played', 'played', 'played', 'played', 'over', 'over'],
    );
    assert.equal((await s.wordle.stats('@p:x')).played, 1);
  });
});

describe('wordle sharing and rendering', () => {
  const game: Game = { day: '2025-06-01', answer: 'cater', guesses: ['crane', 'water', 'cater'], hard: true, status: 'won' };

  test('share text: date, score, hard-mode star, one emoji row per guess', () => {
    assert.equal(shareText(game), 'Wordle 2025-06-01 3/6*\n\n🟩🟨🟨⬛🟨\n⬛🟩🟩🟩🟩\n🟩🟩🟩🟩🟩');
    assert.equal(shareText({ ...game, hard: false, status: 'lost', guesses: ['crane', 'water', 'later', 'hater', 'mater', 'pater'] }).split('\n')[0], 'Wordle 2025-06-01 X/6');
  });

  test('the room result has the grid and the score but no letters of any guess', () => {
    const won = renderRoomResult('@ann:x', game);
    assert.equal(won.text, '@ann:x solved Wordle 2025-06-01 in 3/6 (hard mode)\n🟩🟨🟨⬛🟨\n⬛🟩🟩🟩🟩\n🟩🟩🟩🟩🟩');
    for (const word of game.guesses) assert.ok(!won.text.toLowerCase().includes(word) && !won.html.toLowerCase().includes(word));
    const lost = renderRoomResult('@ann:x', { ...game, hard: false, status: 'lost', guesses: ['crane', 'water', 'later', 'hater', 'mater', 'pater'] });
    assert.match(lost.text, /^@ann:x did not solve Wordle 2025-06-01: X\/6\n/);
  });

  test('the board in HTML: colour spans per tile (green, yellow, grey), inside <code>, no CSS classes', () => {
    const board = renderBoard(['crane'], 'cater');
    const tiles = [...board.html.matchAll(/<span data-mx-bg-color="(#[0-9a-f]{6})" data-mx-color="(#[0-9a-f]{6})"><b>&nbsp;([A-Z])&nbsp;<\/b><\/span>/g)].map((m) => `${m[3]}${m[1]}`);
    assert.deepEqual(tiles, ['C#6aaa64', 'R#c9b458', 'A#c9b458', 'N#787c7e', 'E#c9b458']);
    assert.match(board.html, /^<code>.*<\/code>(<br><code>.*<\/code>){5}$/);
    assert.equal(board.text.split('\n')[0], '🟩🟨🟨⬛🟨  C R A N E');
    assert.equal(board.text.split('\n').length, 6);
    const whole = renderGame(game, '!');
    assert.doesNotMatch(whole.html, /class=|style=/);
    assert.match(whole.html, /data-mx-bg-color="#6aaa64" data-mx-color="#ffffff"/);
  });

  test('the keyboard shows the best state of each letter; unknown keys are light', () => {
    const states = letterStates(['eerie', 'there'], 'there');
    assert.equal(states.get('e'), 'correct');
    assert.equal(states.get('i'), 'absent');
    const keyboard = renderKeyboard(['crane'], 'cater');
    assert.match(keyboard.html, /data-mx-bg-color="#6aaa64" data-mx-color="#ffffff"><b>&nbsp;C&nbsp;/);
    assert.match(keyboard.html, /data-mx-bg-color="#787c7e" data-mx-color="#ffffff"><b>&nbsp;N&nbsp;/);
    assert.match(keyboard.html, /data-mx-bg-color="#d3d6da" data-mx-color="#1a1a1b"><b>&nbsp;Q&nbsp;/);
    assert.equal(keyboard.text.split('\n')[0], ' Q  W (E)(R) T  Y  U  I  O  P ');
    assert.equal(keyboard.text.split('\n')[2], '     Z  X [C] V  B  ·  M ');
  });

  test('game messages tell what comes next', () => {
    assert.match(renderGame({ ...game, status: 'playing', guesses: ['crane'] }, '!').text, /Guess 2 of 6: send a 5-letter word \(or !guess <word>\)\.$/);
    assert.match(renderGame(game, '!').text, /^Wordle 2025-06-01 · hard mode\n/);
    assert.match(renderGame(game, '!').text, /Solved in 3\/6!/);
    assert.match(renderGame({ ...game, status: 'lost' }, '!').text, /the word was CATER/);
  });

  test('stats text', () => {
    const text = renderStats('@ann:x', { played: 3, wins: 2, currentStreak: 1, maxStreak: 2, distribution: [0, 1, 1, 0, 0, 0] }).text;
    assert.match(text, /Played: 3 · Win: 67 % · Current streak: 1 · Max streak: 2/);
    assert.match(text, /\n2 │█{10} 1\n/);
    assert.match(text, /\n1 │ 0\n/);
  });
});
