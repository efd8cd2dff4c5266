/**
 * The ask plugin's parts: throttled progressive edits (fake
 * clock), answer and error texts, the Ollama exchange through the real
 * `ollama` client against the fake server, and the fake's API itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { ProgressiveEditor } from '../../plugins/ask/edits.ts';
import { askModel, AskFailure, chatMessages } from '../../plugins/ask/answer.ts';
import { answerText, failureText, safeHost } from '../../plugins/ask/index.ts';
import { FakeOllama, normalizeModel, tokenize } from '../fakes/ollama.ts';
import { freePort } from '../harness/daemon.ts';

/** A clock the test moves by hand; scheduled functions run when their time comes. */
function manualClock() {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    schedule(fn: () => void, ms: number) {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return () => void (timers = timers.filter((t) => t !== timer));
    },
    async advance(ms: number) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= now);
        if (!due.length) break;
        timers = timers.filter((t) => t.at > now);
        for (const t of due) t.fn();
        await flush();
      }
      await flush();
    },
    pending: () => timers.length,
  };
}
const flush = () => new Promise((r) => setImmediate(r));

describe('progressive edits', () => {
  it('edits at most once per interval with the newest text, then once more with the final text', async () => {
    const clock = manualClock();
    const sent: string[] = [];
    const editor = new ProgressiveEditor(
      async (t) => void sent.push(t),
      1000,
      clock,
      (err) => assert.fail(String(err)),
    );
    editor.update('a');
    editor.update('a b');
    await flush();
    assert.deepEqual(sent, [], 'nothing before the first interval');
    await clock.advance(999);
    assert.deepEqual(sent, []);
    await clock.advance(1);
    assert.deepEqual(sent, ['a b'], 'the newest text at the first allowed moment');
    editor.update('a b c');
    editor.update('a b c d');
    await clock.advance(500);
    assert.deepEqual(sent, ['a b']);
    await clock.advance(500);
    assert.deepEqual(sent, ['a b', 'a b c d']);
    await editor.finish('a b c d e');
    assert.deepEqual(sent, ['a b', 'a b c d', 'a b c d e']);
    assert.equal(clock.pending(), 0);
    editor.update('late');
    await clock.advance(5000);
    assert.equal(sent.length, 3, 'no edit after finish');
  });

  it('sends one edit at a time and skips a final edit that would repeat the last one', async () => {
    const clock = manualClock();
    const sent: string[] = [];
    let release: () => void = () => undefined;
    const editor = new ProgressiveEditor(
      (t) => {
        sent.push(t);
        return new Promise<void>((r) => (release = r));
      },
      100,
      clock,
      () => undefined,
    );
    await clock.advance(100);
    editor.update('one');
    await flush();
    assert.deepEqual(sent, ['one']);
    editor.update('two');
    await clock.advance(1000);
    assert.deepEqual(sent, ['one'], 'waits for the edit in flight');
    release();
    await flush();
    assert.deepEqual(sent, ['one', 'two']);
    const done = editor.finish('two');
    release();
    await done;
    assert.deepEqual(sent, ['one', 'two']);
  });

  it('goes on after a failed progressive edit and reports it', async () => {
    const clock = manualClock();
    const errors: unknown[] = [];
    const sent: string[] = [];
    let fail = true;
    const editor = new ProgressiveEditor(
      async (t) => {
        if (fail) throw new Error('rate limited');
        sent.push(t);
      },
      100,
      clock,
      (err) => errors.push(err),
    );
    editor.update('x');
    await clock.advance(100);
    assert.equal(errors.length, 1);
    fail = false;
    await editor.finish('final');
    assert.deepEqual(sent, ['final']);
  });
});

describe('answer and error texts', () => {
  const config = { model: 'llama3.2', timeout_seconds: 120 };
  it('are polite plain sentences', () => {
    assert.match(failureText(new AskFailure('unreachable', 'x'), config), /^Sorry, I can't reach the model server right now\./);
    assert.equal(failureText(new AskFailure('model_missing', 'x'), config), 'Sorry, the model "llama3.2" is not available on the model server. An admin needs to install it (ollama pull llama3.2).');
    assert.match(failureText(new AskFailure('timeout', 'x'), config), /took too long to answer \(more than 120 s\)/);
    assert.equal(failureText(new AskFailure('timeout', 'x', 'Half an'), config), 'Half an\n\n(The answer was cut off: it took longer than 120 s.)');
    assert.match(failureText(new AskFailure('server', 'x'), config), /^Sorry, the model server ran into a problem/);
  });
  it('trims answers and says so when one was cut or empty', () => {
    assert.equal(answerText({ text: '  Yes.\n', doneReason: 'stop', evalCount: 2, truncated: false }), 'Yes.');
    assert.match(answerText({ text: ' ', doneReason: 'stop', evalCount: 0, truncated: false }), /empty answer/);
    assert.match(answerText({ text: 'long', doneReason: 'length', evalCount: 9, truncated: true }), /^long\n\n\(The answer was too long/);
  });
  it('logs the server address without credentials', () => {
    assert.equal(safeHost('https://user:s3cret@ollama.example.org:8443/'), 'https://ollama.example.org:8443');
    assert.equal(safeHost('127.0.0.1:11434'), 'http://127.0.0.1:11434');
  });
  it('puts the system prompt first, and leaves it out when empty', () => {
    assert.deepEqual(chatMessages('Be brief.', 'Why?'), [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Why?' },
    ]);
    assert.deepEqual(chatMessages('  ', 'Why?'), [{ role: 'user', content: 'Why?' }]);
  });
});

describe('the fake Ollama server', () => {
  let fake: FakeOllama;
  before(async () => {
    fake = await FakeOllama.start({ models: ['llama3.2', 'qwen2.5:7b'] });
  });
  after(() => fake.stop());

  it('tokenizes into words that join back into the text', () => {
    const text = '  Hello there,\nworld!  ';
    assert.equal(tokenize(text).join(''), text);
    assert.deepEqual(tokenize('a b'), ['a', ' b']);
    assert.equal(normalizeModel('llama3.2'), 'llama3.2:latest');
  });

  it('answers /api/version, /api/tags and / like Ollama', async () => {
    assert.deepEqual(await (await fetch(`${fake.url}/api/version`)).json(), { version: '0.12.6' });
    const tags = (await (await fetch(`${fake.url}/api/tags`)).json()) as { models: Array<{ name: string; details: { family: string } }> };
    assert.deepEqual(
      tags.models.map((m) => m.name),
      ['llama3.2:latest', 'qwen2.5:7b'],
    );
    assert.equal(tags.models[0]!.details.family, 'llama');
    assert.equal(await (await fetch(fake.url)).text(), 'Ollama is running');
    assert.equal((await fetch(`${fake.url}/api/nothing`)).status, 404);
  });

  it('streams NDJSON chunks and a final done chunk with durations and counts (streaming is the default)', async () => {
    fake.answer = () => 'One two three.';
    const res = await fetch(`${fake.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'count' }] }) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.slice(0, -1).map((l) => (l.message as { content: string }).content),
      ['One', ' two', ' three.'],
    );
    assert.ok(lines.slice(0, -1).every((l) => l.done === false && l.model === 'llama3.2' && typeof l.created_at === 'string'));
    const last = lines.at(-1)!;
    assert.equal(last.done, true);
    assert.equal(last.done_reason, 'stop');
    assert.deepEqual(last.message, { role: 'assistant', content: '' });
    for (const key of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration']) assert.equal(typeof last[key], 'number', key);
    assert.equal(last.eval_count, 3);
  });

  it('answers in one object without streaming, and 404s an unknown model', async () => {
    fake.answer = () => 'Whole answer.';
    const client = new Ollama({ host: fake.url });
    const whole = await client.chat({ model: 'qwen2.5:7b', messages: [{ role: 'user', content: 'hi' }], stream: false });
    assert.equal(whole.message.content, 'Whole answer.');
    assert.equal(whole.done, true);
    assert.equal(fake.chats.at(-1)?.stream, false);
    const res = await fetch(`${fake.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'mistral', messages: [] }) });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: 'model "mistral" not found, try pulling it first' });
    const missing = await fetch(`${fake.url}/api/chat`, { method: 'POST', body: JSON.stringify({ messages: [] }) });
    assert.equal(missing.status, 400);
  });

  describe("the plugin's exchange (ollama client) against it", () => {
    const settings = () => ({ host: fake.url, model: 'llama3.2', systemPrompt: 'Be brief.', timeoutMs: 5000 });

    it('streams the answer into onText piece by piece and returns it whole', async () => {
      fake.answer = (messages) => `Answer to ${messages.at(-1)?.content}: yes, indeed.`;
      const seen: string[] = [];
      const result = await askModel(settings(), 'really', (t) => seen.push(t));
      assert.equal(result.text, 'Answer to really: yes, indeed.');
      assert.equal(result.truncated, false);
      assert.equal(result.doneReason, 'stop');
      assert.deepEqual(seen, ['Answer', 'Answer to', 'Answer to really:', 'Answer to really: yes,', 'Answer to really: yes, indeed.']);
      const chat = fake.chats.at(-1)!;
      assert.equal(chat.stream, true);
      assert.deepEqual(chat.messages, [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'really' },
      ]);
    });

    it('reports an unknown model, a server that is down, and a timeout (with the partial answer)', async () => {
      await assert.rejects(
        askModel({ ...settings(), model: 'mistral' }, 'q', () => undefined),
        (e: unknown) => e instanceof AskFailure && e.kind === 'model_missing',
      );
      const closed = `http://127.0.0.1:${await freePort()}`;
      await assert.rejects(
        askModel({ ...settings(), host: closed }, 'q', () => undefined),
        (e: unknown) => e instanceof AskFailure && e.kind === 'unreachable',
      );
      fake.answer = () => 'slow words keep coming in';
      fake.chunkDelayMs = 150;
      const aborted = fake.aborted;
      try {
        await assert.rejects(
          askModel({ ...settings(), timeoutMs: 400 }, 'q', () => undefined),
          (e: unknown) => e instanceof AskFailure && e.kind === 'timeout' && e.partial.startsWith('slow'),
        );
        fake.firstChunkDelayMs = 1000;
        await assert.rejects(
          askModel({ ...settings(), timeoutMs: 200 }, 'q', () => undefined),
          (e: unknown) => e instanceof AskFailure && e.kind === 'timeout' && e.partial === '',
        );
      } finally {
        fake.chunkDelayMs = 0;
        fake.firstChunkDelayMs = 0;
      }
      await new Promise((r) => setTimeout(r, 900));
      assert.ok(fake.aborted >= aborted + 2, 'the client closed the timed-out requests');
    });

    it('stops reading at maxChars and says the answer was cut', async () => {
      fake.answer = () => 'word '.repeat(200);
      const result = await askModel({ ...settings(), maxChars: 23 }, 'q', () => undefined);
      assert.equal(result.truncated, true);
      assert.equal(result.text.length, 23);
    });

    it('stops when the instance stops', async () => {
      fake.chunkDelayMs = 100;
      const stop = new AbortController();
      try {
        const pending = askModel({ ...settings(), signal: stop.signal }, 'q', () => stop.abort());
        await assert.rejects(pending, (e: unknown) => e instanceof AskFailure && e.kind === 'aborted');
      } finally {
        fake.chunkDelayMs = 0;
      }
    });
  });
});
