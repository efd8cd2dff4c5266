/**
 * The trivia plugin's wiring on the test kit (trellis/sdk/testing): !trivia asks from the fake Open
 * Trivia DB on loopback (or the bundled bank), answers come as number reactions or native poll
 * responses (first answer counts), the kit's clock reveals the answer and updates the scoreboard,
 * an open question survives a restart, and bad input changes nothing.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { buildPollResponse, POLL_END_TYPE, POLL_START_TYPE } from 'trellis/sdk';
import { createTestClock, startPlugin, TEST_ROOM, type SentEvent, type TestClock, type TestContext } from 'trellis/sdk/testing';
import plugin from '../../plugins/trivia/index.ts';
import { FakeOpenTdb, type FakeQuestion } from '../fakes/opentdb.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];
const BOB = '@bob:example.org';
const CAROL = '@carol:example.org';
const NUMBERS = ['1️⃣', '2️⃣', '3️⃣', '4️⃣'];

const BIG_APPLE: FakeQuestion = {
  category: 'Geography',
  type: 'multiple',
  difficulty: 'easy',
  question: 'Which city is called &quot;the Big Apple&quot;?',
  correct_answer: 'New York',
  incorrect_answers: ['Boston', 'Chicago', 'Seattle'],
};

/** The number emoji of an answer in a reaction-mode question, from the lines it shows. */
function emojiOf(question: SentEvent, answer: string): string {
  const line = question.text!.split('\n').find((l) => l.endsWith(` ${answer}`));
  assert.ok(line, `"${answer}" is not among the answers shown`);
  return line.split(' ')[0];
}

describe('trivia plugin on the test kit', () => {
  let otdb: FakeOpenTdb;
  let clock: TestClock;
  before(async () => {
    otdb = await FakeOpenTdb.start([BIG_APPLE]);
  });
  after(() => otdb.stop());
  beforeEach(() => {
    // The reveal is armed from Date.now() and the stored reveal time: the kit's clock drives both.
    clock = createTestClock({ start: Date.UTC(2025, 2, 3, 18), patchDate: true });
    otdb.failWith = null;
  });
  afterEach(() => clock.restore());

  function started(config: Partial<Config> = {}): Promise<TestContext<Config>> {
    return startPlugin(plugin, {
      clock,
      config: { prefix: '!', answer_mode: 'reactions', reveal_seconds: 20, source_url: `${otdb.url}/api.php?amount=1`, source_timeout_seconds: 2, scoreboard_size: 10, ...config },
    });
  }

  test('a reaction question from the HTTP source: first answers count, the clock reveals, the scoreboard keeps the points', async () => {
    const ctx = await started();
    const { sent } = await ctx.sendMessage('!trivia');
    const [question, ...seeds] = sent;
    assert.equal(question.content.msgtype, 'm.notice');
    assert.match(question.text!, /^🧠 Geography \(easy\): Which city is called "the Big Apple"\?\n/);
    assert.match(question.text!, /\nReact with a number\. The answer comes in 20 s; only your first answer counts\.$/);
    assert.deepEqual(
      seeds.map((s) => [s.kind, s.targetEventId, s.key]),
      NUMBERS.map((key) => ['reaction', question.eventId, key]),
    );
    assert.equal(ctx.metrics.value('questions_total', { source: 'http' }), 1);

    const right = emojiOf(question, 'New York');
    const wrong = emojiOf(question, 'Boston');
    await ctx.react(question.eventId, right, { sender: BOB });
    await ctx.react(question.eventId, wrong, { sender: CAROL });
    await ctx.react(question.eventId, right, { sender: CAROL, ts: clock.now() + 1 }); // too late: her first answer stands
    await ctx.react(question.eventId, '9️⃣', { sender: '@dave:example.org' }); // no such answer
    await ctx.react('$another-event', right, { sender: '@erin:example.org' });
    assert.equal(ctx.metrics.value('answers_total'), 2);
    assert.ok(await ctx.storage.get(`active:${TEST_ROOM}`), 'the open question is kept in storage');

    await clock.advance(19_999);
    assert.equal(ctx.messages.length, 1, 'no reveal before its time');
    await clock.advance(1);
    const reveal = ctx.messages.at(-1)!;
    assert.equal(reveal.text, `The answer was: New York.\nRight (+1 point): ${BOB}\nWrong: ${CAROL}`);
    assert.equal(reveal.html, `<b>The answer was: New York.</b><br>Right (+1 point): ${BOB}<br>Wrong: ${CAROL}`);
    assert.equal(reveal.options?.replyTo, question.eventId);
    assert.equal(await ctx.storage.get(`active:${TEST_ROOM}`), undefined);

    await ctx.react(question.eventId, right, { sender: '@late:example.org' });
    assert.equal(ctx.metrics.value('answers_total'), 2, 'an answer after the reveal does not count');
    const { sent: scores } = await ctx.sendMessage('!trivia scores');
    assert.equal(scores[0].text, `Trivia scores:\n1. ${BOB}: 1 point (1 of 1 right)\n2. ${CAROL}: 0 points (0 of 1 right)`);
  });

  test('a native poll asks the source for the category and difficulty; one question at a time; the reveal ends the poll', async () => {
    const ctx = await started({ answer_mode: 'native', reveal_seconds: 30 });
    const fetched = otdb.requests.length;
    const { sent } = await ctx.sendMessage('!trivia easy Geography');
    const asked = otdb.requests.at(-1)!;
    assert.equal(asked.searchParams.get('category'), '22');
    assert.equal(asked.searchParams.get('difficulty'), 'easy');
    assert.equal(sent.length, 1);
    const poll = sent[0];
    assert.equal(poll.type, POLL_START_TYPE);
    const start = poll.content[POLL_START_TYPE] as { kind: string; answers: Array<{ id: string; 'org.matrix.msc1767.text': string }> };
    assert.equal(start.kind, 'org.matrix.msc3381.poll.undisclosed');
    const idOf = (text: string) => start.answers.find((a) => a['org.matrix.msc1767.text'] === text)!.id;

    for (const [sender, answer, ts] of [
      [BOB, 'Chicago', clock.now()],
      [CAROL, 'New York', clock.now()],
      [BOB, 'New York', clock.now() + 1],
    ] as const) {
      const response = buildPollResponse(poll.eventId, [idOf(answer)]);
      await ctx.event(response.type, response.content, { sender, ts });
    }
    assert.equal(ctx.metrics.value('answers_total'), 2);

    await clock.advance(12_500);
    const { sent: busy } = await ctx.sendMessage('!trivia');
    assert.equal(busy[0].text, 'A trivia question is already open in this room; one at a time. The answer comes in 18 s.');
    assert.equal(otdb.requests.length, fetched + 1, 'no second question was fetched');

    await clock.advance(17_500);
    const [end, reveal] = ctx.sent.slice(-2);
    assert.equal(end.type, POLL_END_TYPE);
    assert.deepEqual(end.content['m.relates_to'], { rel_type: 'm.reference', event_id: poll.eventId });
    assert.deepEqual(end.content['m.poll.results'], { [idOf('New York')]: 1, [idOf('Chicago')]: 1, [idOf('Boston')]: 0, [idOf('Seattle')]: 0 });
    assert.equal(reveal.text, `The answer was: New York.\nRight (+1 point): ${CAROL}\nWrong: ${BOB}`);
    assert.equal(reveal.options?.replyTo, poll.eventId);
  });

  test('without a working source the bundled bank asks, and recent questions are not asked again soon', async () => {
    otdb.failWith = 503;
    const failing = await started();
    const { sent } = await failing.sendMessage('!trivia history hard');
    assert.match(sent[0].text!, /^🧠 History \(hard\): /);
    assert.equal(failing.metrics.value('questions_total', { source: 'bank' }), 1);
    assert.ok(failing.logs.some((l) => l.level === 'warn' && /^trivia source failed, asking from the bundled bank instead: .* answered HTTP 503$/.test(l.message)));

    // The bank has three hard History questions: three rounds ask each once.
    const ctx = await failing.restart(plugin, { config: { ...failing.config, source_url: '' } });
    const asked = [sent[0].text!.split('\n')[0]];
    for (let round = 0; round < 2; round++) {
      await clock.advance(20_000);
      const { sent: next } = await ctx.sendMessage('!trivia hard history');
      asked.push(next[0].text!.split('\n')[0]);
    }
    assert.equal(new Set(asked).size, 3, `asked: ${asked.join(' | ')}`);
    assert.equal(((await ctx.storage.get(`recent:${TEST_ROOM}`)) as string[]).length, 3);
  });

  test('bad input gets a clear answer and changes nothing', async () => {
    const ctx = await started();
    const fetched = otdb.requests.length;
    const answers: string[] = [];
    for (const body of ['!trivia nonsense', '!trivia geography impossible', '!trivia categories', '!trivia scores']) {
      const { sent } = await ctx.sendMessage(body);
      assert.equal(sent.length, 1, body);
      answers.push(sent[0].text!);
    }
    assert.deepEqual(answers, [
      'Unknown category "nonsense". Categories: computers, general, geography, history, science, sports. Difficulties: easy, medium, hard.',
      'Unknown difficulty "impossible". Difficulties: easy, medium, hard.',
      'Categories: computers (Science: Computers), general (General Knowledge), geography (Geography), history (History), science (Science & Nature), sports (Sports). Difficulties: easy, medium, hard.',
      'No trivia scores in this room yet.',
    ]);
    assert.equal(ctx.storage.data.size, 0);
    assert.equal(clock.pending, 0, 'no reveal was armed');
    assert.equal(otdb.requests.length, fetched, 'the source was not asked');
  });

  test('an open question survives a restart: answers before and after count, the reveal comes on time or at once if overdue', async () => {
    const first = await started();
    const { sent } = await first.sendMessage('!trivia');
    const question = sent[0];
    await first.react(question.eventId, emojiOf(question, 'New York'), { sender: BOB });
    await clock.advance(5_000);

    const second = await first.restart(plugin);
    assert.ok(second.logs.some((l) => l.message === 'resumed 1 open trivia question(s)'));
    await second.react(question.eventId, emojiOf(question, 'New York'), { sender: CAROL });
    await clock.advance(14_999);
    assert.equal(second.messages.length, 1, 'still open');
    await clock.advance(1);
    assert.equal(second.messages.at(-1)!.text, `The answer was: New York.\nRight (+1 point): ${BOB}, ${CAROL}`);

    // Stopped past its reveal time: the next start reveals it at once.
    const { sent: again } = await second.sendMessage('!trivia');
    await second.stop();
    await clock.advance(60_000);
    const third = await second.restart(plugin);
    await clock.advance(0);
    const reveal = third.messages.at(-1)!;
    assert.equal(reveal.text, 'The answer was: New York.\nNobody answered.');
    assert.equal(reveal.options?.replyTo, again[0].eventId);
    const { sent: scores } = await third.sendMessage('!trivia scores');
    assert.equal(scores[0].text, `Trivia scores:\n1. ${BOB}: 1 point (1 of 1 right)\n2. ${CAROL}: 1 point (1 of 1 right)`);
  });
});
