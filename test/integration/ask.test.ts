/**
 * The ask plugin end to end: people ask questions in a room on a real
 * Synapse; the real daemon runs the plugin, which asks a fake Ollama server
 * on loopback (test/fakes/ollama.ts) through the official `ollama` client
 * and streams the answer into the room by editing its notice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { freePort, TestDaemon } from '../harness/daemon.ts';
import { FakeOllama } from '../fakes/ollama.ts';

interface ApiClient {
  id: string;
}
interface ApiInstance {
  state: string;
}

type Relation = { rel_type?: string; event_id?: string; 'm.in_reply_to'?: { event_id?: string } };
const relation = (ev: TestMatrixEvent) => (ev.content['m.relates_to'] as Relation | undefined) ?? {};
const newBody = (ev: TestMatrixEvent) => String((ev.content['m.new_content'] as { body?: string } | undefined)?.body);

const ANSWER = 'Trellis runs many Matrix bots from one daemon, each with its own plugins and rooms, and it answers questions through a local model.';

describe('ask plugin through a real homeserver and a fake Ollama server', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let ollama: FakeOllama;
  let daemon: TestDaemon;
  let alice: TestUser;
  let bob: TestUser;
  let bot: ApiClient;
  let room: string;

  const baseConfig = () => ({
    host: ollama.url,
    model: 'llama3.2',
    system_prompt: 'Answer like a librarian.',
    timeout_seconds: 5,
    user_cooldown_seconds: 120,
    stream_edits: true,
    edit_interval_ms: 200,
  });
  const configure = async (config: Record<string, unknown>) => {
    const res = await daemon.api<ApiInstance>('PUT', '/instance/ask', { config });
    assert.equal(res.status, 200, res.text);
  };
  const fromBot = (ev: TestMatrixEvent) => ev.sender === bot.id && ev.type === 'm.room.message';
  const replyTo = (eventId: string) => (ev: TestMatrixEvent) => fromBot(ev) && ev.content.msgtype === 'm.notice' && relation(ev)['m.in_reply_to']?.event_id === eventId;
  const editOf = (eventId: string, body?: string) => (ev: TestMatrixEvent) =>
    fromBot(ev) && relation(ev).rel_type === 'm.replace' && relation(ev).event_id === eventId && (body === undefined || newBody(ev) === body);

  /** Asks, and returns the bot's first notice and the edit that carries `finalBody`. */
  async function askStreaming(user: TestUser, question: string, finalBody: string): Promise<{ notice: TestMatrixEvent; final: TestMatrixEvent }> {
    const sent = await user.sendText(room, `!ask ${question}`);
    const notice = await user.waitForEvent(room, replyTo(sent), 20_000, 'the first notice');
    assert.equal(notice.content.body, 'Thinking…');
    const final = await user.waitForEvent(room, editOf(notice.event_id, finalBody), 30_000, `the edit with "${finalBody.slice(0, 40)}"`);
    return { notice, final };
  }
  const warnings = (fragment: string) => daemon.output.filter((l) => l.includes('"level":"warn"') && l.includes(fragment));

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    ollama = await FakeOllama.start({ models: ['llama3.2'], chunkDelayMs: 60 });
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    alice = await TestUser.create(hs, 'asker');
    bob = await TestUser.create(hs, 'asker2');
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('askbot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    room = await alice.createRoom({ name: 'questions', invite: [bot.id, bob.userId] });
    await bob.join(room);
    const put = await daemon.api<ApiInstance>('PUT', '/instance/ask', { type: 'org.trellis.ask', primary_user: bot.id, rooms: [room], config: baseConfig() });
    assert.equal(put.status, 201, put.text);
    await daemon.waitFor('instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/ask')).body.state === 'running' || undefined);
    await alice.waitForMembership(room, bot.id, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await ollama?.stop();
    await hs?.release();
  });

  it('posts a notice at once and edits it as the answer streams in, ending with the full answer', async () => {
    ollama.answer = () => ANSWER;
    const { notice, final } = await askStreaming(alice, 'What is Trellis?', ANSWER);
    assert.equal(final.content.body, `* ${ANSWER}`);
    assert.equal((final.content['m.new_content'] as { msgtype?: string }).msgtype, 'm.notice');
    // The answer takes ~1.4 s in 23 chunks and edits may come every 200 ms: partial edits were shown on the way.
    const edits = (await alice.messages(room, 100)).filter(editOf(notice.event_id));
    const partial = edits.filter((e) => newBody(e) !== ANSWER);
    assert.ok(partial.length >= 1, `progressive edits before the final one (saw ${edits.length} edits)`);
    for (const e of partial) {
      assert.ok(newBody(e).endsWith(' …'), newBody(e));
      assert.ok(ANSWER.startsWith(newBody(e).slice(0, -2)), 'each partial edit is a prefix of the answer');
    }
    const chat = ollama.chats.at(-1)!;
    assert.equal(chat.model, 'llama3.2');
    assert.equal(chat.stream, true);
    assert.deepEqual(chat.messages, [
      { role: 'system', content: 'Answer like a librarian.' },
      { role: 'user', content: 'What is Trellis?' },
    ]);
  });

  it('tells a person who asks again during the cooldown how long to wait', async () => {
    const chats = ollama.chats.length;
    const sent = await alice.sendText(room, '!ask And another thing?');
    const reply = await alice.waitForEvent(room, replyTo(sent), 20_000, 'the cooldown message');
    assert.match(String(reply.content.body), /^You can ask again in (1 min \d{1,2} s|2 min)\.$/);
    assert.equal(ollama.chats.length, chats, 'the model was not asked');
  });

  it('answers politely when the model is not installed, and warns in the log', async () => {
    await configure({ ...baseConfig(), model: 'mistral' });
    const polite = 'Sorry, the model "mistral" is not available on the model server. An admin needs to install it (ollama pull mistral).';
    await askStreaming(bob, 'Hello?', polite);
    assert.ok(warnings('(model_missing)').length > 0, 'a WARN in the log');
  });

  it('answers politely when the model server is down (a failed answer does not use up the turn)', async () => {
    await configure({ ...baseConfig(), host: `http://127.0.0.1:${await freePort()}` });
    await askStreaming(bob, 'Anyone there?', "Sorry, I can't reach the model server right now. Please try again later.");
    assert.ok(warnings('(unreachable)').length > 0, 'a WARN in the log');
  });

  it('gives up after timeout_seconds, keeping what was written and saying it was cut off', async () => {
    await configure({ ...baseConfig(), timeout_seconds: 1 });
    ollama.answer = () => 'This answer is far too slow to finish in time, word after word after word.';
    ollama.chunkDelayMs = 300;
    const aborted = ollama.aborted;
    try {
      const sent = await bob.sendText(room, '!ask Slowly please?');
      const notice = await bob.waitForEvent(room, replyTo(sent), 20_000, 'the first notice');
      const final = await bob.waitForEvent(room, (ev) => editOf(notice.event_id)(ev) && newBody(ev).includes('(The answer was cut off'), 20_000, 'the cut-off edit');
      assert.match(newBody(final), /^This answer .*\n\n\(The answer was cut off: it took longer than 1 s\.\)$/s);
      assert.ok(warnings('(timeout)').length > 0, 'a WARN in the log');
      await daemon.waitFor('the request closed', async () => ollama.aborted > aborted);
    } finally {
      ollama.chunkDelayMs = 60;
    }
  });

  it('with stream_edits off, replies once with the whole answer', async () => {
    await configure({ ...baseConfig(), stream_edits: false });
    ollama.answer = () => 'Short and complete.';
    const sent = await bob.sendText(room, '!ask Quick one?');
    const reply = await bob.waitForEvent(room, replyTo(sent), 20_000, 'the answer');
    assert.equal(reply.content.body, 'Short and complete.');
    assert.equal((await daemon.api<ApiInstance>('GET', '/instance/ask')).body.state, 'running');
  });
});
