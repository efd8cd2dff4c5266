/**
 * The ask plugin's wiring on the test kit (trellis/sdk/testing): !ask against the fake Ollama on
 * loopback, answered as one reply or as a "Thinking…" notice edited as the answer streams in (edits
 * paced by the kit's clock), the per-user cooldown on the clock (a failed answer gives the turn back),
 * config changes taking effect at once, and an answer cut short when the instance stops.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { createTestClock, startPlugin, type SentEvent, type TestClock, type TestContext } from 'trellis/sdk/testing';
import plugin, { STILL_WRITING, THINKING } from '../../plugins/ask/index.ts';
import { FakeOllama } from '../fakes/ollama.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];
const BOB = '@bob:example.org';

describe('ask plugin on the test kit', () => {
  let ollama: FakeOllama;
  let clock: TestClock;
  before(async () => {
    ollama = await FakeOllama.start({ models: ['llama3.2', 'qwen2.5:7b'] });
  });
  after(() => ollama.stop());
  beforeEach(() => {
    // Cooldowns and the pace of the edits read Date.now(): the kit's clock drives both.
    clock = createTestClock({ start: Date.UTC(2025, 3, 1, 8), patchDate: true });
    ollama.answer = (messages) => `You asked: ${messages.at(-1)?.content ?? ''}. The answer is forty-two, as always.`;
    ollama.chunkDelayMs = 0;
  });
  afterEach(() => clock.restore());

  function started(config: Partial<Config> = {}): Promise<TestContext<Config>> {
    return startPlugin(plugin, {
      clock,
      config: {
        prefix: '!',
        host: ollama.url,
        model: 'llama3.2',
        system_prompt: 'Be brief.',
        timeout_seconds: 20,
        user_cooldown_seconds: 120,
        stream_edits: false,
        edit_interval_ms: 1000,
        max_answer_chars: 8000,
        ...config,
      },
    });
  }

  /** Asks and waits (in real time) for the reply that is not the "Thinking…" notice. */
  async function ask(ctx: TestContext<Config>, body: string, sender?: string): Promise<SentEvent> {
    const since = ctx.sent.length;
    const { event } = await ctx.sendMessage(body, { sender });
    return ctx.waitForSent((s) => s.kind === 'message' && s.options?.replyTo === event.event_id && s.text !== THINKING, { since });
  }

  test('!ask sends the question to the model and replies with the answer', async () => {
    const ctx = await started();
    const chats = ollama.chats.length;
    const reply = await ask(ctx, '!ask what is six times seven?');
    assert.equal(reply.text, 'You asked: what is six times seven?. The answer is forty-two, as always.');
    assert.equal(reply.content.msgtype, 'm.notice');
    assert.equal(ollama.chats.length, chats + 1);
    const chat = ollama.chats.at(-1)!;
    assert.equal(chat.model, 'llama3.2');
    assert.deepEqual(chat.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'what is six times seven?' },
    ]);
    assert.equal(ctx.metrics.value('questions_total', { outcome: 'answered' }), 1);
    assert.ok(ctx.logs.some((l) => l.level === 'info' && /^ask: answered @alice:example\.org with llama3\.2 in \d+ ms/.test(l.message)));
    assert.deepEqual(ctx.edits, []);
  });

  test('a question without text gets the usage and reaches no model', async () => {
    const ctx = await started();
    const chats = ollama.chats.length;
    const { sent } = await ctx.sendMessage('!ask');
    assert.equal(sent[0].text, 'Usage: !ask <question> (missing <question>)');
    assert.equal(ollama.chats.length, chats);
    assert.equal(ctx.storage.data.size, 0);
    // It did not use up the turn.
    assert.match((await ask(ctx, '!ask and now?')).text!, /^You asked: and now\?/);
  });

  test('with stream_edits a notice comes at once and is edited as the answer streams, at the pace of the clock', async () => {
    const ctx = await started({ stream_edits: true, edit_interval_ms: 1000 });
    const answer = 'Forty two, as always, my friend.';
    ollama.answer = () => answer;
    ollama.chunkDelayMs = 150;
    const { event } = await ctx.sendMessage('!ask the answer?');
    const notice = await ctx.waitForSent((s) => s.text === THINKING);
    assert.equal(notice.options?.replyTo, event.event_id);

    // The first words are in: an edit waits for the interval on the clock.
    await ctx.waitFor(() => clock.pending > 0, { what: 'the first words of the answer' });
    assert.equal(ctx.edits.length, 0, 'no edit before the interval');
    await clock.advance(1000);
    const progressive = await ctx.waitForSent((s) => s.kind === 'edit');
    assert.equal(progressive.targetEventId, notice.eventId);
    assert.ok(progressive.text!.endsWith(STILL_WRITING), progressive.text);
    assert.ok(answer.startsWith(progressive.text!.slice(0, -STILL_WRITING.length)), `"${progressive.text}" is the start of the answer`);
    assert.notEqual(progressive.text!.slice(0, -STILL_WRITING.length), answer);

    const final = await ctx.waitForSent((s) => s.kind === 'edit' && s.text === answer);
    assert.equal(final.targetEventId, notice.eventId);
    assert.deepEqual(
      ctx.edits.map((e) => e.text),
      [progressive.text, answer],
      'one progressive edit (the clock moved once), then the whole answer',
    );
    assert.equal(ctx.replies.length, 1, 'the answer is in the notice, not in a second message');
  });

  test('one question per cooldown on the clock, per person; a failed answer gives the turn back; config changes apply at once', async () => {
    const ctx = await started({ user_cooldown_seconds: 120 });
    await ask(ctx, '!ask first?');
    assert.equal((await ask(ctx, '!ask second?')).text, 'You can ask again in 2 min.');
    await clock.advance(80_000);
    assert.equal((await ask(ctx, '!ask second?')).text, 'You can ask again in 40 s.');
    assert.match((await ask(ctx, '!ask mine?', BOB)).text!, /^You asked: mine\?/);
    await clock.advance(40_000);
    assert.match((await ask(ctx, '!ask second?')).text!, /^You asked: second\?/);

    await ctx.updateConfig({ ...ctx.config, model: 'mistral' });
    await clock.advance(120_000);
    const missing = 'Sorry, the model "mistral" is not available on the model server. An admin needs to install it (ollama pull mistral).';
    assert.equal((await ask(ctx, '!ask third?')).text, missing);
    assert.equal((await ask(ctx, '!ask third?')).text, missing, 'not told to wait: the failure did not count');
    assert.equal(ctx.metrics.value('questions_total', { outcome: 'model_missing' }), 2);
    assert.ok(ctx.logs.some((l) => l.level === 'warn' && /could not answer @alice:example\.org \(model_missing\)/.test(l.message)));

    await ctx.updateConfig({ ...ctx.config, model: 'qwen2.5:7b', system_prompt: '' });
    await ask(ctx, '!ask fourth?');
    assert.deepEqual(ollama.chats.at(-1)!, { model: 'qwen2.5:7b', messages: [{ role: 'user', content: 'fourth?' }], stream: true });
  });

  test('an answer still streaming when the instance stops ends with what was written and says why', async () => {
    const ctx = await started({ stream_edits: true });
    ollama.answer = () => 'Slowly, word by word, the answer comes along.';
    ollama.chunkDelayMs = 400;
    await ctx.sendMessage('!ask tell me slowly');
    const notice = await ctx.waitForSent((s) => s.text === THINKING);
    await ctx.waitFor(() => clock.pending > 0, { what: 'the first words of the answer' });
    await ctx.stop();
    const last = await ctx.waitForSent((s) => s.kind === 'edit' && /restarted/.test(s.text!));
    assert.equal(last.targetEventId, notice.eventId);
    assert.match(last.text!, /^Slowly,.*\n\n\(The answer was interrupted: the bot restarted\.\)$/s);
    assert.equal(ctx.metrics.value('questions_total', { outcome: 'aborted' }), 1);
  });
});
