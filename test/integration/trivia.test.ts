/**
 * The trivia plugin through a real Synapse and the real daemon: questions
 * as undisclosed polls and as reaction messages, right and wrong answers
 * (a player's second answer ignored), the timed reveal, the per-room
 * scoreboard across a restart, one question at a time, bad input, and the
 * HTTP source (a loopback Open Trivia DB, test/fakes/opentdb.ts) with its
 * fallback to the bank.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { FakeOpenTdb } from '../fakes/opentdb.ts';
import { buildPollResponse, parsePollEnd, parsePollStart, type PollStart } from '../../src/sdk/index.ts';
import { decodeEntities, loadBank } from '../../plugins/trivia/otdb.ts';

const BANK = loadBank(join(import.meta.dirname, '../../plugins/trivia/questions.json')).questions;

/** The right answer of a question as shown ("Geography (easy): What is …?"), from the shipped bank. */
function bankAnswer(heading: string): string {
  const text = /^.+ \((?:easy|medium|hard)\): ([\s\S]+)$/.exec(heading)?.[1];
  const q = BANK.find((b) => decodeEntities(b.question) === text);
  assert.ok(q, `"${heading}" is a question of the bank`);
  return decodeEntities(q.correct_answer);
}

describe('trivia plugin through a real homeserver', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let otdb: FakeOpenTdb;
  let daemon: TestDaemon;
  let alice: TestUser;
  let bob: TestUser;
  let bot: string;
  const rooms: Record<'bank' | 'reactions' | 'slow' | 'http', string> = { bank: '', reactions: '', slow: '', http: '' };

  const fromBot = (type: string) => (ev: TestMatrixEvent) => ev.sender === bot && ev.type === type;
  const replyTo = (eventId: string) => (ev: TestMatrixEvent) =>
    ev.sender === bot && ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

  async function ask(user: TestUser, room: string, text: string): Promise<string> {
    const id = await user.sendText(room, text);
    const reply = await user.waitForEvent(room, replyTo(id), 20_000, `the answer to "${text}"`);
    return String(reply.content.body);
  }

  async function question(room: string, command: string): Promise<{ eventId: string; poll: PollStart }> {
    await alice.sendText(room, command);
    const event = await alice.waitForEvent(room, fromBot('org.matrix.msc3381.poll.start'), 20_000, `the question for ${command}`);
    const poll = parsePollStart(event.content);
    assert.ok(poll);
    return { eventId: event.event_id, poll };
  }

  const vote = (user: TestUser, room: string, pollId: string, answerId: string) => {
    const r = buildPollResponse(pollId, [answerId]);
    return user.sendEvent(room, r.type, r.content);
  };

  /** The reveal: the poll's end event (text checked against the notice that replies to the question). */
  async function reveal(room: string, questionId: string): Promise<string> {
    const notice = await alice.waitForEvent(room, replyTo(questionId), 20_000, 'the reveal');
    return String(notice.content.body);
  }

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    otdb = await FakeOpenTdb.start([
      {
        category: 'Geography',
        type: 'multiple',
        difficulty: 'medium',
        question: 'Which question came from the &quot;fake&quot; Open Trivia DB?',
        correct_answer: 'This one',
        incorrect_answers: ['That one', 'Neither', 'Both'],
      },
    ]);
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    [alice, bob] = await Promise.all([TestUser.create(hs, 'alice'), TestUser.create(hs, 'bob')]);
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('triviabot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body.id;
    const configs: Record<keyof typeof rooms, Record<string, unknown>> = {
      bank: { reveal_seconds: 2 },
      reactions: { reveal_seconds: 2, answer_mode: 'reactions' },
      slow: { reveal_seconds: 600 },
      http: { reveal_seconds: 1, source_url: `${otdb.url}/api.php?amount=1`, source_timeout_seconds: 2 },
    };
    for (const name of Object.keys(rooms) as Array<keyof typeof rooms>) {
      const room = await alice.createRoom({ name: `trivia ${name}`, invite: [bot, bob.userId] });
      await bob.join(room);
      rooms[name] = room;
      await daemon.createInstance(`trivia-${name}`, { type: 'org.trellis.trivia', primary_user: bot, rooms: [room], config: configs[name] });
    }
    for (const room of Object.values(rooms)) await alice.waitForMembership(room, bot, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await otdb?.stop();
    await hs?.release();
  });

  it("scores right and wrong answers (a player's second answer ignored) at the timed reveal, and keeps the scoreboard across a restart", async () => {
    const room = rooms.bank;
    const first = await question(room, '!trivia geography easy');
    assert.equal(first.poll.kind, 'undisclosed');
    assert.match(first.poll.question, /^Geography \(easy\): /);
    const correct = first.poll.answers.find((a) => a.text === bankAnswer(first.poll.question))!;
    const wrong = first.poll.answers.find((a) => a.id !== correct.id)!;
    await vote(alice, room, first.eventId, correct.id);
    await vote(alice, room, first.eventId, wrong.id); // second answer: ignored
    await vote(bob, room, first.eventId, wrong.id);
    const text = await reveal(room, first.eventId);
    assert.equal(text, `The answer was: ${correct.text}.\nRight (+1 point): ${alice.userId}\nWrong: ${bob.userId}`);
    const end = parsePollEnd((await alice.waitForEvent(room, fromBot('org.matrix.msc3381.poll.end'), 20_000, 'the poll end')).content);
    assert.equal(end?.pollEventId, first.eventId);
    assert.equal(end?.text, text);

    // Second round (medium: 2 points): bob right, alice wrong twice — her first answer counts.
    const second = await question(room, '!trivia history medium');
    const right2 = second.poll.answers.find((a) => a.text === bankAnswer(second.poll.question))!;
    const wrong2 = second.poll.answers.find((a) => a.id !== right2.id)!;
    await vote(bob, room, second.eventId, right2.id);
    await vote(alice, room, second.eventId, wrong2.id);
    await vote(alice, room, second.eventId, right2.id); // changed her mind: too late
    assert.equal(await reveal(room, second.eventId), `The answer was: ${right2.text}.\nRight (+2 points): ${bob.userId}\nWrong: ${alice.userId}`);

    const scores = `Trivia scores:\n1. ${bob.userId}: 2 points (1 of 2 right)\n2. ${alice.userId}: 1 point (1 of 2 right)`;
    assert.equal(await ask(alice, room, '!trivia scores'), scores);
    await daemon.restart();
    await daemon.waitFor('trivia-bank running again', async () => (await daemon.api<{ state: string }>('GET', '/instance/trivia-bank')).body.state === 'running' || undefined);
    assert.equal(await ask(bob, room, '!trivia scores'), scores, 'the scoreboard survives a restart');
  });

  it('plays with reactions: each player’s first number reaction counts', async () => {
    const room = rooms.reactions;
    await alice.sendText(room, '!trivia sports easy');
    const message = await alice.waitForEvent(room, (ev) => fromBot('m.room.message')(ev) && String(ev.content.body).startsWith('🧠 Sports (easy): '), 20_000, 'the question');
    const lines = String(message.content.body).split('\n');
    const heading = lines[0]!.slice('🧠 '.length);
    const options = lines
      .slice(1)
      .filter((l) => /^\d\uFE0F\u20E3 /.test(l))
      .map((l) => ({ key: l.split(' ')[0]!, text: l.slice(l.indexOf(' ') + 1) }));
    assert.ok(options.length >= 2);
    const right = options.find((o) => o.text === bankAnswer(heading))!;
    const wrong = options.find((o) => o !== right)!;
    const react = (user: TestUser, key: string) => user.sendEvent(room, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: message.event_id, key } });
    await react(bob, wrong.key);
    await react(bob, right.key); // second reaction: ignored
    await react(alice, right.key);
    assert.equal(await reveal(room, message.event_id), `The answer was: ${right.text}.\nRight (+1 point): ${alice.userId}\nWrong: ${bob.userId}`);
  });

  it('asks one question at a time per room, and answers bad input with the valid choices', async () => {
    const room = rooms.slow;
    await question(room, '!trivia history hard');
    assert.match(await ask(bob, room, '!trivia'), /^A trivia question is already open in this room; one at a time\. The answer comes in \d+ s\.$/);
    assert.equal(await ask(bob, room, '!trivia cooking'), 'Unknown category "cooking". Categories: computers, general, geography, history, science, sports. Difficulties: easy, medium, hard.');
    assert.equal(await ask(bob, room, '!trivia sports impossible'), 'Unknown difficulty "impossible". Difficulties: easy, medium, hard.');
    assert.equal(await ask(bob, room, '!trivia scores'), 'No trivia scores in this room yet.');
    assert.equal((await alice.messages(room, 50)).filter(fromBot('org.matrix.msc3381.poll.start')).length, 1, 'still one question');
  });

  it('asks from the HTTP source, and falls back to the bank with a WARN when it fails', async () => {
    const room = rooms.http;
    const remote = await question(room, '!trivia geography medium');
    assert.equal(remote.poll.question, 'Geography (medium): Which question came from the "fake" Open Trivia DB?');
    const asked = otdb.requests.at(-1)!;
    assert.equal(asked.pathname, '/api.php');
    assert.equal(asked.searchParams.get('category'), '22');
    assert.equal(asked.searchParams.get('difficulty'), 'medium');
    await vote(alice, room, remote.eventId, remote.poll.answers.find((a) => a.text === 'This one')!.id);
    assert.equal(await reveal(room, remote.eventId), `The answer was: This one.\nRight (+2 points): ${alice.userId}`);

    otdb.failWith = 503;
    const fallback = await question(room, '!trivia geography medium');
    assert.match(fallback.poll.question, /^Geography \(medium\): /);
    assert.ok(bankAnswer(fallback.poll.question), 'a question from the bank');
    assert.ok(
      daemon.output.some((l) => l.includes('"level":"warn"') && l.includes('trivia source failed') && l.includes('HTTP 503')),
      'a WARN in the log',
    );
    assert.equal(await reveal(room, fallback.eventId), `The answer was: ${bankAnswer(fallback.poll.question)}.\nNobody answered.`);
  });
});
