/** The polls plugin's wiring on the test kit (trellis/sdk/testing): start, vote, close by command or by the clock, resume after a restart. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { buildPollResponse, POLL_END_TYPE, POLL_START_TYPE } from 'trellis/sdk';
import { createTestClock, createTestContext, TestStorage, type TestClock } from 'trellis/sdk/testing';
import plugin from '../../plugins/polls/index.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];
const BOB = '@bob:example.org';
const CAROL = '@carol:example.org';

describe('polls plugin on the test kit', () => {
  let clock: TestClock;
  beforeEach(() => {
    // The plugin compares Date.now() with each poll's deadline: the clock drives both.
    clock = createTestClock({ start: Date.UTC(2025, 0, 1), patchDate: true });
  });
  afterEach(() => clock.restore());

  async function started(config: Partial<Config> = {}, storage?: TestStorage) {
    const ctx = createTestContext<Config>({ clock, storage, config: { prefix: '!', mode: 'native', kind: 'disclosed', close_power_level: 50, auto_close_minutes: 10, ...config } });
    await plugin.setup(ctx);
    return ctx;
  }

  test('a reaction poll counts each user’s latest number reaction and closes itself when the clock runs out', async () => {
    const ctx = await started({ mode: 'reactions', auto_close_minutes: 5 });
    const { sent } = await ctx.sendMessage('!poll Lunch? | Pizza | Sushi');
    const [question, ...seeds] = sent;
    assert.equal(question.content.msgtype, 'm.notice');
    assert.match(question.text!, /^📊 Lunch\?\n1️⃣ Pizza\n2️⃣ Sushi\n.*Closes in 5 min or with !poll close\.$/);
    assert.deepEqual(
      seeds.map((r) => [r.kind, r.targetEventId, r.key]),
      [
        ['reaction', question.eventId, '1️⃣'],
        ['reaction', question.eventId, '2️⃣'],
      ],
    );

    await ctx.react(question.eventId, '1️⃣', { sender: BOB });
    await ctx.react(question.eventId, '2️⃣', { sender: CAROL });
    await ctx.react(question.eventId, '1️⃣', { sender: CAROL, ts: clock.now() + 1 }); // Carol changes her mind
    await ctx.react(question.eventId, '7️⃣', { sender: BOB }); // no such option
    assert.equal(ctx.metrics.value('votes_total'), 3);

    await clock.advance(4 * 60_000);
    assert.equal(ctx.messages.length, 1, 'still open after 4 minutes');
    await clock.advance(60_000);

    const closed = ctx.messages.at(-1)!;
    assert.equal(closed.options?.replyTo, question.eventId);
    assert.equal(closed.text, 'Poll closed: Lunch?\nPizza: 2 votes\nSushi: 0 votes\nWinner: Pizza (2 votes of 2 voters).');
    assert.equal(ctx.metrics.value('polls_closed_total', { by: 'timer' }), 1);
    assert.deepEqual(await ctx.storage.list('open:'), []);
    assert.equal(((await ctx.storage.get(`closed:${question.roomId}`)) as { question: string }).question, 'Lunch?');

    // A vote after the end does not count; !poll results shows the closed poll.
    await ctx.react(question.eventId, '2️⃣', { sender: '@late:example.org' });
    const { sent: results } = await ctx.sendMessage('!poll results');
    assert.equal(results[0].text, closed.text);
  });

  test('a native poll takes MSC3381 responses; only its creator or a moderator closes it', async () => {
    const ctx = await started();
    const { sent } = await ctx.sendMessage('!poll Tabs or spaces? | Tabs | Spaces');
    assert.equal(sent.length, 1);
    const start = sent[0];
    assert.equal(start.type, POLL_START_TYPE);
    const answers = (start.content[POLL_START_TYPE] as { answers: Array<{ id: string }> }).answers;

    for (const [sender, answer] of [
      [BOB, answers[1].id],
      [CAROL, answers[1].id],
      ['@dave:example.org', answers[0].id],
    ]) {
      const response = buildPollResponse(start.eventId, [answer]);
      await ctx.event(response.type, response.content, { sender });
    }
    const { sent: open } = await ctx.sendMessage('!poll results');
    assert.match(open[0].text!, /^Poll open: Tabs or spaces\?/);

    const { sent: refused } = await ctx.sendMessage('!poll close', { sender: BOB });
    assert.equal(refused[0].text, "Only the poll's creator or someone with power level 50 or more can close it.");

    ctx.setPowerLevel(BOB, 50);
    const { sent: closing } = await ctx.sendMessage('!poll close', { sender: BOB });
    assert.deepEqual(
      closing.map((s) => s.type),
      [POLL_END_TYPE, 'm.room.message'],
    );
    assert.equal(closing[1].text, 'Poll closed: Tabs or spaces?\nTabs: 1 vote\nSpaces: 2 votes\nWinner: Spaces (2 votes of 3 voters).');
    assert.equal(ctx.metrics.value('polls_closed_total', { by: 'command' }), 1);
    assert.equal(clock.pending, 0, 'closing cancelled the auto-close timer');

    const { sent: none } = await ctx.sendMessage('!poll close');
    assert.equal(none[0].text, 'There is no open poll in this room.');
  });

  test('bad input gets the parser’s message; !poll results before any poll says so', async () => {
    const ctx = await started({ mode: 'reactions' });
    await ctx.sendMessage('!poll Only one | option');
    await ctx.sendMessage('!poll results');
    assert.deepEqual(
      ctx.replies.map((r) => r.text),
      ['A poll needs 2 to 10 options; you gave 1. (Reaction polls have one number emoji per option.)', 'There has been no poll in this room yet.'],
    );
  });

  test('an open poll survives a restart: its timer is re-armed from storage and still closes it', async () => {
    const storage = new TestStorage();
    const first = await started({ mode: 'reactions', auto_close_minutes: 30 }, storage);
    const { sent } = await first.sendMessage('!poll Ship it? | Yes | No');
    await first.react(sent[0].eventId, '1️⃣', { sender: BOB });
    await first.stop();
    assert.equal(first.signal.aborted, true);
    assert.equal(clock.pending, 0, 'stop cancelled the first instance’s timers');

    await clock.advance(20 * 60_000);
    const second = await started({ mode: 'reactions', auto_close_minutes: 30 }, storage);
    assert.ok(second.logs.some((l) => l.message === 'resumed 1 open poll(s)'));
    await clock.advance(10 * 60_000);
    assert.equal(second.messages.at(-1)!.text, 'Poll closed: Ship it?\nYes: 1 vote\nNo: 0 votes\nWinner: Yes (1 vote of 1 voter).');
  });
});
