/**
 * The wordle plugin's wiring on the test kit (trellis/sdk/testing): !wordle in a room moves the game
 * to a DM, guesses (!guess or bare words) are played there, the spoiler-free result goes back to the
 * room, share/stats/hard answer, bad guesses use no turn and change nothing, the kit's clock brings
 * the next day's puzzle, and a game goes on across a restart.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createTestClock, startPlugin, TEST_ROOM, TEST_USER, type TestClock, type TestContext } from 'trellis/sdk/testing';
import plugin from '../../plugins/wordle/index.ts';
import { dailyAnswer } from '../../plugins/wordle/game.ts';
import { ANSWERS, GUESSES } from '../../plugins/wordle/words.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];
const SEED = 'wiring-test';
const DAY_MS = 86_400_000;

const answerOn = (day: string) => dailyAnswer(day, SEED, ANSWERS);

/** A valid guess that shares no letter with the answer (all grey). */
function missFor(answer: string, skip: string[] = []): string {
  const word = [...GUESSES].find((w) => !skip.includes(w) && ![...w].some((c) => answer.includes(c)));
  assert.ok(word, `no valid guess avoids every letter of ${answer}`);
  return word;
}

describe('wordle plugin on the test kit', () => {
  let clock: TestClock;
  beforeEach(() => {
    // Today's puzzle comes from Date.now(): the kit's clock picks the day.
    clock = createTestClock({ start: Date.UTC(2025, 5, 1, 12), patchDate: true });
  });
  afterEach(() => clock.restore());

  function started(config: Partial<Config> = {}): Promise<TestContext<Config>> {
    return startPlugin(plugin, { clock, config: { prefix: '!', seed: SEED, bare_guesses: true, post_results: true, ...config } });
  }

  /** Says `body` in a room and returns the one reply's text. */
  async function say(ctx: TestContext<Config>, body: string, roomId = TEST_ROOM): Promise<string> {
    const { sent } = await ctx.sendMessage(body, { roomId });
    assert.equal(sent.length, 1, `${body} got ${sent.length} answers`);
    return sent[0].text!;
  }

  test('!wordle in a room sends the board to a DM; guesses there win the game and the grid goes back to the room', async () => {
    const ctx = await started();
    const answer = answerOn('2025-06-01');
    const miss = missFor(answer);
    const { sent } = await ctx.sendMessage('!wordle');
    const dm = ctx.matrix.directRooms.get(TEST_USER)!;
    assert.ok(dm, 'a DM was opened with the player');
    assert.deepEqual(
      sent.map((s) => [s.roomId, s.options?.replyTo !== undefined]),
      [
        [TEST_ROOM, true],
        [dm, false],
      ],
    );
    assert.equal(sent[0].text, "Let's play in our DM: I've sent you today's Wordle there.");
    assert.match(sent[1].text!, /^Wordle 2025-06-01\n[\s\S]*\n\nGuess 1 of 6: send a 5-letter word \(or !guess <word>\)\.$/);
    assert.equal(ctx.metrics.value('games_started_total'), 1);

    const first = await say(ctx, miss.toUpperCase(), dm); // a bare word in the DM is a guess
    assert.match(first, new RegExp(`^Wordle 2025-06-01\\n\\n⬛⬛⬛⬛⬛  ${miss.toUpperCase().split('').join(' ')}\\n`));
    assert.match(first, /Guess 2 of 6: /);
    const { sent: winning } = await ctx.sendMessage(`!guess ${answer}`, { roomId: dm });
    const [won, result] = winning;
    assert.equal(won.roomId, dm);
    assert.match(won.text!, /\n\nSolved in 2\/6! Share it with !wordle share; a new word comes at 00:00 UTC\.$/);
    assert.equal(result.roomId, TEST_ROOM);
    assert.equal(result.content.msgtype, 'm.notice');
    assert.equal(result.text, `${TEST_USER} solved Wordle 2025-06-01 in 2/6\n⬛⬛⬛⬛⬛\n🟩🟩🟩🟩🟩`);
    assert.equal(ctx.metrics.value('guesses_total'), 2);
    assert.equal(ctx.metrics.value('games_finished_total', { result: 'won' }), 1);

    assert.equal(await say(ctx, '!wordle share', dm), 'Wordle 2025-06-01 2/6\n\n⬛⬛⬛⬛⬛\n🟩🟩🟩🟩🟩');
    assert.match(await say(ctx, '!wordle stats'), /^Wordle stats for @alice:example\.org\nPlayed: 1 · Win: 100 % · Current streak: 1 · Max streak: 1\n/);
    assert.equal(await say(ctx, '!wordle'), "You've finished today's Wordle (2/6). The next word comes at 00:00 UTC, in 12 h 0 min. !wordle share shows your grid.");
    assert.equal(await say(ctx, `!guess ${answer}`, dm), "You've finished today's Wordle (2/6). The next word comes at 00:00 UTC, in 12 h 0 min.");
    const { sent: bare } = await ctx.sendMessage(answer, { roomId: dm });
    assert.deepEqual(bare, [], 'after the game a bare word is just chat');
  });

  test('bad guesses and unknown options get a clear answer, use no turn and change nothing', async () => {
    const ctx = await started();
    await ctx.sendMessage('!wordle');
    const dm = ctx.matrix.directRooms.get(TEST_USER)!;
    const before = [...ctx.storage.data];
    const answers: string[] = [];
    for (const body of ['!guess abc', '!guess zzzzz', '!guess crane!', '!guess', '!wordle dance', '!wordle hard maybe']) answers.push(await say(ctx, body, dm));
    assert.deepEqual(answers, [
      'ABC has 3 letters; guesses have exactly 5.',
      'ZZZZZ is not in the word list.',
      'A guess is one word of 5 letters (A to Z).',
      'Usage: !guess <word> (missing <word>)',
      'I don\'t know "dance". Try !wordle, !wordle hard on|off, !wordle stats or !wordle share.',
      'Say !wordle hard on or !wordle hard off.',
    ]);
    // Chat in the DM that is not a 5-letter word is not a guess.
    for (const body of ['hello there', 'banana', 'hi!', '12345']) await ctx.sendMessage(body, { roomId: dm });
    assert.deepEqual([...ctx.storage.data], before);
    assert.equal(ctx.metrics.value('guesses_total'), 0);
    assert.equal(await say(ctx, '!wordle share', dm), "You haven't played today's Wordle yet: say !wordle to start.");
  });

  test('a guess said in the shared room is not played there: the game moves to the DM', async () => {
    const ctx = await started({ bare_guesses: false });
    const answer = answerOn('2025-06-01');
    const { sent } = await ctx.sendMessage(`!guess ${answer}`);
    assert.equal(sent[0].text, "Guesses go in our DM, so nobody else sees them: I've sent you today's Wordle there.");
    assert.ok(!sent.some((s) => s.text!.toLowerCase().includes(answer)), 'the word is not shown anywhere');
    assert.equal(ctx.metrics.value('guesses_total'), 0);
    // With bare_guesses off, a bare word in the DM is just chat.
    const dm = ctx.matrix.directRooms.get(TEST_USER)!;
    const { sent: chat } = await ctx.sendMessage(answer, { roomId: dm });
    assert.deepEqual(chat, []);
    assert.match(await say(ctx, '!wordle share', dm), /^You haven't played today's Wordle yet/);
  });

  test('hard mode: switched before the first guess, refused after it', async () => {
    const ctx = await started();
    assert.equal(await say(ctx, '!wordle hard'), 'Hard mode is off for you. Switch it with !wordle hard on or !wordle hard off, before your first guess of a game.');
    assert.match(await say(ctx, '!wordle hard on'), /^Hard mode is on: green letters must stay in place/);
    await ctx.sendMessage('!wordle');
    const dm = ctx.matrix.directRooms.get(TEST_USER)!;
    const board = await say(ctx, missFor(answerOn('2025-06-01')), dm);
    assert.match(board, /^Wordle 2025-06-01 · hard mode\n/);
    assert.equal(await say(ctx, '!wordle hard off', dm), "Hard mode can only be switched before your first guess of a game; it stays on for today's game.");
  });

  test('the clock brings the next puzzle at 00:00 UTC; a lost game says the word; streaks follow the days', async () => {
    const ctx = await started({ post_results: false });
    await ctx.sendMessage('!wordle');
    const dm = ctx.matrix.directRooms.get(TEST_USER)!;
    const day1 = answerOn('2025-06-01');
    assert.match(await say(ctx, day1, dm), /Solved in 1\/6!/);
    assert.equal(ctx.messages.at(-1)!.roomId, dm, 'post_results off: nothing went to the room');

    await clock.advance(12 * 3_600_000); // midnight UTC
    const day2 = answerOn('2025-06-02');
    assert.notEqual(day2, day1);
    const { sent } = await ctx.sendMessage('!wordle', { roomId: dm });
    assert.equal(sent.length, 1);
    assert.match(sent[0].text!, /^Wordle 2025-06-02\n/);
    assert.match(await say(ctx, day2, dm), /Solved in 1\/6!/);
    assert.match(await say(ctx, '!wordle stats', dm), /Played: 2 · Win: 100 % · Current streak: 2 · Max streak: 2/);

    await clock.advance(DAY_MS);
    const day3 = answerOn('2025-06-03');
    const { sent: notYet } = await ctx.sendMessage(missFor(day3), { roomId: dm });
    assert.deepEqual(notYet, [], 'a bare word is no guess before today’s game is started');
    await ctx.sendMessage('!wordle', { roomId: dm });
    const tried: string[] = [];
    let last = '';
    for (let i = 0; i < 6; i++) {
      tried.push(missFor(day3, tried));
      last = await say(ctx, tried.at(-1)!, dm);
    }
    assert.match(last, new RegExp(`Out of guesses \\(X/6\\): the word was ${day3.toUpperCase()}\\. A new word comes at 00:00 UTC\\.$`));
    assert.equal(ctx.metrics.value('games_finished_total', { result: 'lost' }), 1);
    assert.match(await say(ctx, '!wordle stats', dm), /Played: 3 · Win: 67 % · Current streak: 0 · Max streak: 2/);
  });

  test('a game goes on across a restart, in the same DM', async () => {
    const first = await started();
    await first.sendMessage('!wordle');
    const dm = first.matrix.directRooms.get(TEST_USER)!;
    const answer = answerOn('2025-06-01');
    const miss = missFor(answer);
    await say(first, miss, dm);

    const second = await first.restart(plugin);
    const board = await say(second, missFor(answer, [miss]), dm); // still a bare guess: the DM is known
    assert.match(board, /Guess 3 of 6: /);
    const { sent } = await second.sendMessage(answer, { roomId: dm });
    assert.match(sent[0].text!, /Solved in 3\/6!/);
    assert.equal(sent[1].roomId, TEST_ROOM, 'the result still goes to the room the game was started from');
    assert.match(sent[1].text!, / solved Wordle 2025-06-01 in 3\/6\n/);
  });

  test('a storage failure becomes a plain apology and an error in the log', async () => {
    const ctx = await started();
    ctx.storage.get = async () => {
      throw new Error('disk on fire');
    };
    assert.equal(await say(ctx, '!wordle stats'), 'Something went wrong with Wordle; please try again.');
    assert.ok(ctx.logs.some((l) => l.level === 'error' && l.message === 'wordle command failed: disk on fire'));
  });
});
