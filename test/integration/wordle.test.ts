/**
 * The wordle plugin end to end on a real Synapse: a person says !wordle in
 * a room, accepts the bot's DM invite, plays today's puzzle there (an
 * invalid word, hard mode and a refused guess included), wins, and the
 * spoiler-free result appears in the room. The day's answer comes from the
 * plugin's exported dailyAnswer(date, seed): the public rule of a
 * deterministic daily puzzle.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { dailyAnswer } from '../../plugins/wordle/game.ts';
import { ANSWERS, GUESSES } from '../../plugins/wordle/words.ts';

interface ApiInstance {
  state: string;
}

const SEED = 'integration-seed';

describe('wordle plugin through a real homeserver', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let player: TestUser;
  let bot: string;
  let room: string;
  let dm: string;
  let day: string;
  let answer: string;

  const fromBot = (ev: TestMatrixEvent) => ev.sender === bot && ev.type === 'm.room.message';
  const replyTarget = (ev: TestMatrixEvent) => (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id;
  const body = (ev: TestMatrixEvent) => String(ev.content.body);

  /** Sends a message and returns the bot's reply to it. */
  async function ask(roomId: string, text: string, what = `the answer to "${text}"`): Promise<TestMatrixEvent> {
    const sent = await player.sendText(roomId, text);
    return player.waitForEvent(roomId, (ev) => fromBot(ev) && replyTarget(ev) === sent, 20_000, what);
  }

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    player = await TestUser.create(hs, 'player');
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('wordlebot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body.id;
    room = await player.createRoom({ name: 'games', invite: [bot] });
    const put = await daemon.api('PUT', '/instance/wordle', { type: 'org.trellis.wordle', primary_user: bot, rooms: [room], config: { seed: SEED } });
    assert.equal(put.status, 201, put.text);
    await daemon.waitFor('instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/wordle')).body.state === 'running' || undefined);
    await player.waitForMembership(room, bot, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it("!wordle in a room opens a DM with today's board", async () => {
    const reply = await ask(room, '!wordle');
    assert.equal(body(reply), "Let's play in our DM: I've sent you today's Wordle there.");
    dm = await player.waitForInvite(bot, 30_000);
    assert.notEqual(dm, room);
    await player.join(dm);
    const board = await player.waitForEvent(dm, (ev) => fromBot(ev) && body(ev).startsWith('Wordle '), 20_000, 'the board in the DM');
    const date = /^Wordle (\d{4}-\d{2}-\d{2})\n/.exec(body(board));
    assert.ok(date, body(board));
    day = date[1]!;
    answer = dailyAnswer(day, SEED, ANSWERS);
    assert.equal(board.content.msgtype, 'm.notice');
    assert.equal((body(board).match(/⬜⬜⬜⬜⬜/g) ?? []).length, 6, 'six empty rows');
    assert.match(body(board), /Guess 1 of 6/);
    assert.match(String(board.content.formatted_body), /<code>.*data-mx-bg-color="#d3d6da" data-mx-color="#1a1a1b"><b>&nbsp;Q&nbsp;<\/b>/, 'the keyboard is coloured');
  });

  it('plays a hard-mode game in the DM: invalid word, refused guess, bare guess, win', async () => {
    assert.match(body(await ask(dm, '!wordle hard on')), /^Hard mode is on/);
    assert.equal(body(await ask(dm, '!guess qzxvj')), 'QZXVJ is not in the word list.');

    // A bare word is a guess; this one shares the answer's first letter, so that letter turns green.
    const opener = [...GUESSES].find((w) => w !== answer && w[0] === answer[0])!;
    const first = await ask(dm, opener.toUpperCase(), 'the board after the first guess');
    assert.match(body(first), new RegExp(`^🟩[🟩🟨⬛]{4}  ${opener.toUpperCase().split('').join(' ')}$`, 'mu'));
    assert.match(body(first), /Guess 2 of 6/);
    assert.match(String(first.content.formatted_body), new RegExp(`<span data-mx-bg-color="#6aaa64" data-mx-color="#ffffff"><b>&nbsp;${answer[0]!.toUpperCase()}&nbsp;</b></span>`));

    assert.match(body(await ask(dm, '!wordle hard off')), /^Hard mode can only be switched before your first guess of a game/);
    const breaker = [...GUESSES].find((w) => w[0] !== answer[0])!;
    assert.equal(body(await ask(dm, `!guess ${breaker}`)), `Hard mode: 1st letter must be ${answer[0]!.toUpperCase()}.`);

    const last = await ask(dm, `!guess ${answer}`, 'the winning board');
    assert.match(body(last), /^🟩🟩🟩🟩🟩  /mu);
    assert.match(body(last), /Solved in 2\/6!/);

    const result = await player.waitForEvent(room, (ev) => fromBot(ev) && body(ev).includes(' solved Wordle '), 20_000, 'the result in the room');
    assert.equal(body(result).split('\n')[0], `${player.userId} solved Wordle ${day} in 2/6 (hard mode)`);
    assert.equal(body(result).split('\n').length, 3, 'headline and two rows');
    assert.equal(body(result).split('\n')[2], '🟩🟩🟩🟩🟩');
    for (const word of [opener, answer]) assert.ok(!body(result).toLowerCase().includes(word), `the result gives away ${word}`);

    assert.equal(body(await ask(dm, '!wordle share')).split('\n')[0], `Wordle ${day} 2/6*`);
    assert.match(body(await ask(room, '!wordle')), /^You've finished today's Wordle \(2\/6\)/);
  });

  it('!wordle stats shows one game played and won, streak 1', async () => {
    const stats = await ask(room, '!wordle stats');
    assert.match(body(stats), /Played: 1 · Win: 100 % · Current streak: 1 · Max streak: 1/);
    assert.match(body(stats), /\n2 │█{10} 1\n/);
  });
});
