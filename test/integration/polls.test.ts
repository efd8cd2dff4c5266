/**
 * The polls plugin through a real Synapse and the real daemon: two people
 * vote on a native MSC3381 poll (one changes their mind), the creator closes
 * it, a late vote is ignored; bad input; reaction polls; and a poll that
 * survives a daemon restart and closes by its timer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { buildPollResponse, parsePollEnd, parsePollStart, type PollStart } from '../../src/sdk/index.ts';

describe('polls plugin through a real homeserver', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let alice: TestUser;
  let bob: TestUser;
  let bot: string;
  const rooms: Record<'native' | 'reactions' | 'timer', string> = { native: '', reactions: '', timer: '' };

  const fromBot = (type: string) => (ev: TestMatrixEvent) => ev.sender === bot && ev.type === type;
  const replyTo = (eventId: string) => (ev: TestMatrixEvent) =>
    ev.sender === bot && ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

  /** Sends a command as `user` and returns the bot's reply text. */
  async function ask(user: TestUser, room: string, text: string): Promise<string> {
    const id = await user.sendText(room, text);
    const reply = await user.waitForEvent(room, replyTo(id), 20_000, `the answer to "${text}"`);
    assert.equal(reply.content.msgtype, 'm.notice');
    return String(reply.content.body);
  }

  async function startPoll(room: string, text: string): Promise<{ eventId: string; poll: PollStart; event: TestMatrixEvent }> {
    await alice.sendText(room, text);
    const event = await alice.waitForEvent(room, fromBot('org.matrix.msc3381.poll.start'), 20_000, 'the poll');
    const poll = parsePollStart(event.content);
    assert.ok(poll, 'the bot sent a valid MSC3381 poll');
    return { eventId: event.event_id, poll, event };
  }

  const answerId = (poll: PollStart, text: string) => poll.answers.find((a) => a.text === text)!.id;

  async function vote(user: TestUser, room: string, pollEventId: string, answers: string[]): Promise<void> {
    const response = buildPollResponse(pollEventId, answers);
    await user.sendEvent(room, response.type, response.content);
  }

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    [alice, bob] = await Promise.all([TestUser.create(hs, 'alice'), TestUser.create(hs, 'bob')]);
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('pollbot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body.id;
    const configs: Record<keyof typeof rooms, Record<string, unknown>> = {
      native: {},
      reactions: { mode: 'reactions' },
      timer: { auto_close_minutes: 0.25 },
    };
    for (const name of Object.keys(rooms) as Array<keyof typeof rooms>) {
      const room = await alice.createRoom({ name: `polls ${name}`, invite: [bot, bob.userId] });
      await bob.join(room);
      rooms[name] = room;
      await daemon.createInstance(`polls-${name}`, { type: 'org.trellis.polls', primary_user: bot, rooms: [room], config: configs[name] });
    }
    for (const room of Object.values(rooms)) await alice.waitForMembership(room, bot, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it("counts each user's latest vote, closes with the results, and ignores a vote after the close", async () => {
    const room = rooms.native;
    const { eventId, poll, event } = await startPoll(room, '!poll Lunch? | Pizza | Sushi | Tacos');
    assert.equal(poll.question, 'Lunch?');
    assert.equal(poll.kind, 'disclosed');
    assert.deepEqual(
      poll.answers.map((a) => a.text),
      ['Pizza', 'Sushi', 'Tacos'],
    );
    assert.equal(event.content.body, 'Lunch?\n1. Pizza\n2. Sushi\n3. Tacos', 'plain-text fallback lists the options');
    assert.equal(event.content['org.matrix.msc1767.text'], 'Lunch?\n1. Pizza\n2. Sushi\n3. Tacos');
    const [pizza, sushi, tacos] = ['Pizza', 'Sushi', 'Tacos'].map((t) => answerId(poll, t));

    await vote(alice, room, eventId, [pizza!]);
    await vote(bob, room, eventId, [sushi!]);
    await vote(bob, room, eventId, [pizza!]); // bob changes his mind
    await vote(alice, room, eventId, ['not-an-answer']); // ignored: alice's pizza stands

    // Bob (power level 0) did not create the poll: he may not close it.
    assert.match(await ask(bob, room, '!poll close'), /Only the poll's creator or someone with power level 50 or more can close it\./);
    assert.match(await ask(alice, room, '!poll results'), /^Poll open: Lunch\?\nPizza: 2 votes\nSushi: 0 votes\nTacos: 0 votes\nWinner: Pizza/);

    await alice.sendText(room, '!poll close');
    const end = await alice.waitForEvent(room, fromBot('org.matrix.msc3381.poll.end'), 20_000, 'the poll end');
    const parsed = parsePollEnd(end.content);
    assert.equal(parsed?.pollEventId, eventId);
    assert.deepEqual(parsed?.results, { [pizza!]: 2, [sushi!]: 0, [tacos!]: 0 });
    assert.equal(parsed?.text, 'Poll closed: Lunch?\nPizza: 2 votes\nSushi: 0 votes\nTacos: 0 votes\nWinner: Pizza (2 votes of 2 voters).');
    const notice = await alice.waitForEvent(room, replyTo(eventId), 20_000, 'the results notice');
    assert.equal(notice.content.body, parsed?.text);

    // After the end: bob's new vote changes nothing, and there is nothing left to close.
    await vote(bob, room, eventId, [tacos!]);
    assert.equal(await ask(alice, room, '!poll close'), 'There is no open poll in this room.');
    assert.equal(await ask(alice, room, '!poll results'), parsed?.text);
    assert.equal((await alice.messages(room, 100)).filter(fromBot('org.matrix.msc3381.poll.end')).length, 1, 'closed once');
  });

  it('answers bad input with a clear sentence and starts no poll', async () => {
    const room = rooms.native;
    assert.match(await ask(alice, room, '!poll'), /^Start a poll with a question and options separated by \|/);
    assert.match(await ask(alice, room, '!poll Where do we eat? Pizza or sushi'), /^Separate the question and the options with \|/);
    assert.equal(await ask(alice, room, '!poll Lunch? | Pizza'), 'A poll needs 2 to 20 options; you gave 1.');
    const many = Array.from({ length: 21 }, (_, i) => `o${i + 1}`).join(' | ');
    assert.equal(await ask(alice, room, `!poll Too many? | ${many}`), 'A poll needs 2 to 20 options; you gave 21.');
    assert.equal(await ask(alice, room, '!poll Dupes? | Tea | tea'), 'The option "tea" is listed twice.');
    assert.equal(await ask(alice, room, '!poll close'), 'There is no open poll in this room.');
    const starts = (await alice.messages(room, 100)).filter(fromBot('org.matrix.msc3381.poll.start'));
    assert.equal(starts.length, 1, 'only the first test started a poll');
  });

  it('runs a reaction poll: number reactions, each user’s latest counts', async () => {
    const room = rooms.reactions;
    const cmd = await alice.sendText(room, '!poll Colour? | Red | Blue');
    const message = await alice.waitForEvent(room, (ev) => fromBot('m.room.message')(ev) && String(ev.content.body).startsWith('📊 Colour?'), 20_000, 'the reaction poll');
    assert.ok(cmd);
    assert.match(String(message.content.body), /1️⃣ Red\n2️⃣ Blue\n/);
    const seeded = [];
    for (let i = 0; i < 2; i++) seeded.push(await alice.waitForEvent(room, fromBot('m.reaction'), 20_000, `the bot's reaction ${i + 1}`));
    assert.deepEqual(
      seeded.map((r) => (r.content['m.relates_to'] as { key: string }).key),
      ['1️⃣', '2️⃣'],
    );
    const react = (user: TestUser, key: string) => user.sendEvent(room, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: message.event_id, key } });
    await react(alice, '1️⃣');
    await react(alice, '2️⃣'); // alice's latest: Blue
    await react(bob, '2️⃣');
    await react(bob, '👍'); // not a number: ignored
    await alice.sendText(room, '!poll close');
    const results = await alice.waitForEvent(room, replyTo(message.event_id), 20_000, 'the results');
    assert.equal(results.content.body, 'Poll closed: Colour?\nRed: 0 votes\nBlue: 2 votes\nWinner: Blue (2 votes of 2 voters).');
    assert.equal((await alice.messages(room, 50)).filter(fromBot('org.matrix.msc3381.poll.end')).length, 0, 'no native poll events in reaction mode');
  });

  it('keeps an open poll and its votes across a daemon restart, and closes it by its timer', async () => {
    const room = rooms.timer;
    const { eventId, poll } = await startPoll(room, '!poll Restart? | Yes | No');
    const [yes, no] = ['Yes', 'No'].map((t) => answerId(poll, t));
    await vote(alice, room, eventId, [yes!]);
    await vote(bob, room, eventId, [no!]);
    // The bot has counted both votes (they are stored) before the restart.
    assert.match(await ask(alice, room, '!poll results'), /Yes: 1 vote\nNo: 1 vote\n/);
    await daemon.restart();
    await daemon.waitFor('polls-timer running again', async () => (await daemon.api<{ state: string }>('GET', '/instance/polls-timer')).body.state === 'running' || undefined);
    await vote(bob, room, eventId, [yes!]);
    const end = await alice.waitForEvent(room, fromBot('org.matrix.msc3381.poll.end'), 30_000, 'the poll closed by its timer');
    const parsed = parsePollEnd(end.content);
    assert.equal(parsed?.pollEventId, eventId);
    assert.deepEqual(parsed?.results, { [yes!]: 2, [no!]: 0 });
    assert.match(parsed!.text, /Winner: Yes \(2 votes of 2 voters\)\.$/);
  });
});
