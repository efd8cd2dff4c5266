import { WebRoutes } from '../../src/sdk/web-routes.ts';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { InstanceContext, boundStorage } from '../../src/core/plugin-context.ts';
import { replayStableTxnId } from '../../src/core/plugin-scope.ts';
import { LogHub, wrapLogger, type LogEntry } from '../../src/core/logging.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { Metrics } from '../../src/core/metrics.ts';
import { definePlugin, type MatrixEvent, type MembershipEvent, type MessageEvent, type ReactionEvent, type RoomEvent } from '../../src/sdk/index.ts';
import { createTestContext, TestMatrix, type SentEvent } from 'trellis/sdk/testing';

const ROOM = '!room';
const BOT = '@bot:example.org';
const ALICE = '@alice:example.org';

let storage: Storage;
before(async () => {
  storage = await openStorage({ type: 'sqlite', path: ':memory:' });
});
after(async () => {
  await storage.close();
});

/** What a text message the bot sent says, where and how (the kit's recording also has its ids and content). */
function texts(matrix: TestMatrix): Array<Pick<SentEvent, 'roomId' | 'text' | 'html' | 'options'>> {
  return matrix.sent.filter((s) => s.kind === 'message').map(({ roomId, text, html, options }) => ({ roomId, text, html, options }));
}

function setup(config: Record<string, unknown> = {}, instanceId = 'inst1') {
  // The homeserver side: the test kit's recording of the SDK's Matrix actions.
  const matrix = new TestMatrix(BOT);
  const entries: LogEntry[] = [];
  const hub = new LogHub({ write: () => {} });
  hub.subscribe((e) => entries.push(e));
  const handlerErrors: unknown[] = [];
  const commandsRun: string[] = [];
  const failures: string[] = [];
  const ctx = new InstanceContext({
    instanceId,
    config,
    matrix,
    storage: boundStorage(storage.pluginStorage, instanceId),
    metrics: new Metrics().forPlugin('org.example.test', instanceId),
    web: new WebRoutes(null).forInstance(instanceId, wrapLogger(hub.root)),
    senders: () => [],
    matrixAs: (userId: string) => {
      throw new Error(`not a sender: ${userId}`);
    },
    log: wrapLogger(hub.root).child({ instance: instanceId }),
    onCommand: (name) => commandsRun.push(name),
    onHandlerError: (err) => handlerErrors.push(err),
    onFail: (reason) => failures.push(reason),
  });
  return { ctx, matrix, entries, handlerErrors, commandsRun, failures };
}

let seq = 0;
function message(body: string, extra: Record<string, unknown> = {}, sender = ALICE): MatrixEvent {
  return { event_id: `$m${++seq}`, type: 'm.room.message', sender, origin_server_ts: Date.now(), content: { msgtype: 'm.text', body, ...extra } };
}

describe('InstanceContext commands', () => {
  test('a command in an m.room.message event runs its handler with parsed args', async () => {
    const { ctx, commandsRun } = setup();
    const calls: Array<{ args: Record<string, string>; text: string; sender: string; roomId: string }> = [];
    ctx.command({
      name: 'echo',
      description: 'Repeat',
      aliases: ['say'],
      args: [{ name: 'text', required: true, rest: true }],
      handler: ({ args, text, message: m }) => {
        calls.push({ args, text, sender: m.sender, roomId: m.roomId });
      },
    });
    await ctx.dispatch(ROOM, message('!echo hello world'));
    await ctx.dispatch(ROOM, message('!SAY again'));
    await ctx.dispatch(ROOM, message('echo no prefix'));
    await ctx.dispatch(ROOM, message('!unknown thing'));
    assert.deepEqual(calls, [
      { args: { text: 'hello world' }, text: 'hello world', sender: ALICE, roomId: ROOM },
      { args: { text: 'again' }, text: 'again', sender: ALICE, roomId: ROOM },
    ]);
    assert.deepEqual(commandsRun, ['echo', 'echo']);
  });

  test('reply() answers as a notice in reply to the command, in its thread', async () => {
    const { ctx, matrix } = setup();
    ctx.command({ name: 'ping', description: 'Pong', handler: async ({ message: m }) => void (await m.reply('pong', '<b>pong</b>')) });
    const plain = message('!ping');
    await ctx.dispatch(ROOM, plain);
    const threaded = message('!ping', { 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } });
    await ctx.dispatch(ROOM, threaded);
    assert.deepEqual(texts(matrix), [
      { roomId: ROOM, text: 'pong', html: '<b>pong</b>', options: { replyTo: plain.event_id, notice: true, threadRoot: undefined } },
      { roomId: ROOM, text: 'pong', html: '<b>pong</b>', options: { replyTo: threaded.event_id, notice: true, threadRoot: '$root' } },
    ]);
  });

  test('missing required arguments get a usage reply and the handler does not run', async () => {
    const { ctx, matrix, commandsRun } = setup();
    let ran = false;
    ctx.command({
      name: 'move',
      description: 'Move',
      args: [
        { name: 'from', required: true },
        { name: 'to', required: true },
      ],
      handler: () => void (ran = true),
    });
    await ctx.dispatch(ROOM, message('!move here'));
    assert.equal(ran, false);
    assert.deepEqual(commandsRun, []);
    assert.equal(matrix.sent.length, 1);
    assert.equal(matrix.sent[0].text, 'Usage: !move <from> <to> (missing <to>)');
  });

  test('edits (m.replace) and m.notice messages never trigger commands', async () => {
    const { ctx, matrix } = setup();
    let runs = 0;
    const seen: string[] = [];
    ctx.command({ name: 'ping', description: 'Pong', handler: () => void runs++ });
    ctx.onMessage((m) => void seen.push(m.msgtype));
    await ctx.dispatch(ROOM, message('* !ping', { 'm.new_content': { msgtype: 'm.text', body: '!ping' }, 'm.relates_to': { rel_type: 'm.replace', event_id: '$orig' } }));
    await ctx.dispatch(ROOM, message('!ping', { msgtype: 'm.notice' }));
    assert.equal(runs, 0);
    assert.equal(matrix.sent.length, 0);
    // Notices are still messages for onMessage; edits are not new messages at all.
    assert.deepEqual(seen, ['m.notice']);
    await ctx.dispatch(ROOM, message('!ping'));
    assert.equal(runs, 1);
  });

  test('a command registered twice (also via an alias) is refused', () => {
    const { ctx } = setup();
    ctx.command({ name: 'ping', description: 'x', handler: () => {} });
    assert.throws(() => ctx.command({ name: 'PING', description: 'x', handler: () => {} }), /registered twice/);
    assert.throws(() => ctx.command({ name: 'pong', aliases: ['ping'], description: 'x', handler: () => {} }), /registered twice/);
  });

  test('the generated help command replies with the help text', async () => {
    const { ctx, matrix } = setup();
    ctx.command({ name: 'ping', description: 'Measure latency', handler: () => {} });
    ctx.command({ name: 'echo', description: 'Repeat <text>', args: [{ name: 'text', required: true, rest: true }], handler: () => {} });
    const expected = ['!echo <text> — Repeat <text>', '!help — List the commands', '!ping — Measure latency'].join('\n');
    assert.equal(ctx.helpText(), expected);
    const ask = message('!help');
    await ctx.dispatch(ROOM, ask);
    assert.equal(matrix.sent.length, 1);
    assert.equal(matrix.sent[0].text, expected);
    assert.equal(matrix.sent[0].html, `<pre>${expected.replace(/</g, '&lt;')}</pre>`);
    assert.equal(matrix.sent[0].options?.replyTo, ask.event_id);
  });

  test('a failing help reply is reported, not left as an unhandled rejection', async () => {
    const { ctx, matrix, handlerErrors, entries } = setup();
    ctx.command({ name: 'ping', description: 'x', handler: () => {} });
    matrix.failSends = new Error('homeserver said no');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await ctx.dispatch(ROOM, message('!help'));
      await sleep(10);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
    assert.equal(handlerErrors.length, 1);
    assert.ok(entries.some((e) => e.level === 'error' && /homeserver said no/.test(e.message)));
  });

  test("a plugin's own help command is kept; no commands means no help command", async () => {
    const own = setup();
    own.ctx.command({ name: 'help', description: 'Custom', handler: async ({ message: m }) => void (await m.reply('custom help')) });
    await own.ctx.dispatch(ROOM, message('!help'));
    assert.deepEqual(
      own.matrix.sent.map((s) => s.text),
      ['custom help'],
    );

    const none = setup();
    await none.ctx.dispatch(ROOM, message('!help'));
    assert.equal(none.ctx.helpText(), '');
    assert.equal(none.matrix.sent.length, 0);
  });

  test('config prefix changes the prefix, and updateConfig switches it live', async () => {
    const { ctx, matrix } = setup({ prefix: '?' });
    let runs = 0;
    ctx.command({ name: 'ping', description: 'Pong', handler: () => void runs++ });
    assert.equal(ctx.prefix, '?');
    await ctx.dispatch(ROOM, message('!ping'));
    assert.equal(runs, 0);
    await ctx.dispatch(ROOM, message('?ping'));
    assert.equal(runs, 1);
    assert.match(ctx.helpText(), /^\?help — /m);

    await ctx.updateConfig({ prefix: 'bot ' });
    await ctx.dispatch(ROOM, message('bot ping'));
    assert.equal(runs, 2);
    await ctx.updateConfig({ prefix: '' });
    assert.equal(ctx.prefix, '!', 'an empty prefix falls back to the default');
    await ctx.dispatch(ROOM, message('!ping'));
    assert.equal(runs, 3);
    assert.equal(matrix.sent.length, 0);
  });
});

describe('InstanceContext handlers', () => {
  test('a throwing handler is reported and logged while other handlers still run', async () => {
    const { ctx, handlerErrors, entries } = setup();
    const ran: string[] = [];
    ctx.onMessage(() => {
      throw new Error('plugin bug');
    });
    ctx.onMessage(async () => {
      ran.push('second message handler');
    });
    ctx.onEvent('m.room.message', async () => {
      await Promise.reject(new Error('async plugin bug'));
    });
    ctx.command({
      name: 'ping',
      description: 'x',
      handler: () => {
        ran.push('command');
        throw new TypeError('command bug');
      },
    });
    await assert.doesNotReject(ctx.dispatch(ROOM, message('!ping')));
    assert.deepEqual(ran.sort(), ['command', 'second message handler']);
    assert.deepEqual(handlerErrors.map((e) => (e as Error).message).sort(), ['async plugin bug', 'command bug', 'plugin bug']);
    const errors = entries.filter((e) => e.level === 'error');
    assert.equal(errors.length, 3);
    for (const e of errors) assert.equal(e.instanceId, 'inst1');
    assert.ok(errors.some((e) => e.message === 'message handler threw: plugin bug'));
    assert.ok(errors.some((e) => e.message === 'command ping handler threw: command bug'));
    assert.ok(errors.some((e) => e.message === 'm.room.message event handler threw: async plugin bug'));

    // The instance keeps working afterwards.
    await ctx.dispatch(ROOM, message('!ping'));
    assert.equal(ran.filter((r) => r === 'command').length, 2);
  });

  test('messages reach onMessage with their fields', async () => {
    const { ctx } = setup();
    const seen: MessageEvent[] = [];
    ctx.onMessage((m) => void seen.push(m));
    const ev = message('hello', { format: 'org.matrix.custom.html', formatted_body: '<i>hello</i>' });
    await ctx.dispatch(ROOM, ev);
    await ctx.dispatch(ROOM, { ...message('x'), content: { msgtype: 'm.text' } });
    assert.equal(seen.length, 1, 'a message without a body is not a message');
    assert.equal(seen[0].body, 'hello');
    assert.equal(seen[0].formattedBody, '<i>hello</i>');
    assert.equal(seen[0].msgtype, 'm.text');
    assert.equal(seen[0].eventId, ev.event_id);
    assert.equal(seen[0].sender, ALICE);
    assert.equal(seen[0].roomId, ROOM);
    assert.equal(seen[0].event, ev);
  });

  test('message.react reacts to that message', async () => {
    const { ctx, matrix } = setup();
    ctx.onMessage(async (m) => void (await m.react('👍')));
    const ev = message('nice');
    await ctx.dispatch(ROOM, ev);
    assert.deepEqual(
      matrix.sent.map((s) => [s.kind, s.roomId, s.targetEventId, s.key]),
      [['reaction', ROOM, ev.event_id, '👍']],
    );
  });

  test('reactions reach onReaction with target and key; malformed ones do not', async () => {
    const { ctx } = setup();
    const seen: ReactionEvent[] = [];
    ctx.onReaction((r) => void seen.push(r));
    const ev: MatrixEvent = { event_id: '$r1', type: 'm.reaction', sender: ALICE, origin_server_ts: 1, content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$target', key: '🎉' } } };
    await ctx.dispatch(ROOM, ev);
    await ctx.dispatch(ROOM, { ...ev, event_id: '$r2', content: { 'm.relates_to': { rel_type: 'm.reference', event_id: '$target', key: 'x' } } });
    await ctx.dispatch(ROOM, { ...ev, event_id: '$r3', content: {} });
    assert.equal(seen.length, 1);
    assert.deepEqual({ ...seen[0], event: undefined }, { roomId: ROOM, event: undefined, sender: ALICE, eventId: '$r1', targetEventId: '$target', key: '🎉' });
  });

  test('membership events reach onMembership with user, membership and previous membership', async () => {
    const { ctx } = setup();
    const seen: MembershipEvent[] = [];
    ctx.onMembership((m) => void seen.push(m));
    await ctx.dispatch(ROOM, {
      event_id: '$j1',
      type: 'm.room.member',
      sender: ALICE,
      state_key: '@carol:example.org',
      origin_server_ts: 1,
      content: { membership: 'join' },
      unsigned: { prev_content: { membership: 'invite' } },
    });
    await ctx.dispatch(ROOM, { event_id: '$j2', type: 'm.room.member', sender: ALICE, state_key: ALICE, origin_server_ts: 2, content: { membership: 'leave' } });
    // Not a state event: ignored.
    await ctx.dispatch(ROOM, { event_id: '$j3', type: 'm.room.member', sender: ALICE, origin_server_ts: 3, content: { membership: 'join' } });
    assert.deepEqual(
      seen.map((m) => [m.roomId, m.sender, m.userId, m.membership, m.previousMembership]),
      [
        [ROOM, ALICE, '@carol:example.org', 'join', 'invite'],
        [ROOM, ALICE, ALICE, 'leave', undefined],
      ],
    );
  });

  test("onEvent('*') sees every event and typed onEvent only its type", async () => {
    const { ctx } = setup();
    const all: string[] = [];
    const topics: RoomEvent[] = [];
    ctx.onEvent('*', (e) => void all.push(e.event.type));
    ctx.onEvent('m.room.topic', (e) => void topics.push(e));
    const topic: MatrixEvent = { event_id: '$t', type: 'm.room.topic', sender: ALICE, state_key: '', origin_server_ts: 1, content: { topic: 'hi' } };
    await ctx.dispatch(ROOM, message('hello'));
    await ctx.dispatch(ROOM, message('* edit', { 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } }));
    await ctx.dispatch(ROOM, topic);
    await ctx.dispatch(ROOM, { event_id: '$c', type: 'org.example.custom', sender: ALICE, origin_server_ts: 1, content: {} });
    assert.deepEqual(all, ['m.room.message', 'm.room.message', 'm.room.topic', 'org.example.custom']);
    assert.deepEqual(topics, [{ roomId: ROOM, event: topic }]);
  });
});

describe('InstanceContext config, timers and storage', () => {
  test('updateConfig replaces the config and calls config handlers with new and previous', async () => {
    const { ctx, handlerErrors } = setup({ greeting: 'hi' });
    const calls: Array<[unknown, unknown]> = [];
    ctx.onConfigChange((c, p) => void calls.push([c.greeting, p.greeting]));
    ctx.onConfigChange(() => {
      throw new Error('bad reload');
    });
    ctx.onConfigChange((c) => void calls.push(['second', c.greeting]));
    await ctx.updateConfig({ greeting: 'hello' });
    assert.deepEqual(ctx.config, { greeting: 'hello' });
    assert.deepEqual(calls, [
      ['hello', 'hi'],
      ['second', 'hello'],
    ]);
    assert.equal((handlerErrors[0] as Error).message, 'bad reload');
  });

  test('timers fire while running and are cancelled by stop()', async () => {
    const { ctx } = setup();
    let fired = 0;
    let ticks = 0;
    ctx.timers.setTimeout(() => void fired++, 10);
    await sleep(40);
    assert.equal(fired, 1);

    ctx.timers.setTimeout(() => void fired++, 50);
    ctx.timers.setInterval(() => void ticks++, 15);
    ctx.stop();
    await sleep(100);
    assert.equal(fired, 1, 'the timeout did not fire after stop');
    assert.equal(ticks, 0, 'the interval did not tick after stop');
  });

  test("timers longer than Node's 24.8-day setTimeout limit wait instead of firing at once", async () => {
    const { ctx } = setup();
    let fired = 0;
    ctx.timers.setTimeout(() => void fired++, 30 * 86_400_000);
    ctx.timers.setInterval(() => void fired++, 2 ** 31);
    await sleep(30);
    assert.equal(fired, 0);
    await ctx.stop();
  });

  test('a timer can be cancelled by its own handle; a throwing timer is reported', async () => {
    const { ctx, handlerErrors, entries } = setup();
    let fired = false;
    const cancel = ctx.timers.setTimeout(() => void (fired = true), 20);
    cancel();
    ctx.timers.setTimeout(async () => {
      throw new Error('timer bug');
    }, 5);
    await sleep(50);
    assert.equal(fired, false);
    assert.equal((handlerErrors[0] as Error).message, 'timer bug');
    assert.ok(entries.some((e) => e.message === 'timer handler threw: timer bug' && e.instanceId === 'inst1'));
    ctx.stop();
  });

  test('stop() aborts ctx.signal and runs onStop handlers, newest first, each isolated', async () => {
    const { ctx, handlerErrors } = setup();
    const order: string[] = [];
    ctx.onStop(() => void order.push('first'));
    ctx.onStop(() => {
      throw new Error('close failed');
    });
    ctx.onStop(async () => {
      await sleep(5);
      order.push('last registered');
    });
    let abortedWith: unknown;
    ctx.signal.addEventListener('abort', () => (abortedWith = ctx.signal.reason));
    assert.equal(ctx.signal.aborted, false);
    await ctx.stop();
    assert.equal(ctx.signal.aborted, true);
    assert.match(String(abortedWith), /instance inst1 stopped/);
    assert.deepEqual(order, ['last registered', 'first'], 'a throwing onStop does not keep the others from running');
    assert.equal((handlerErrors[0] as Error).message, 'close failed');
  });

  test('each handler of an event sends with transaction ids that repeat when the event is handled again', async () => {
    const txnIds: string[] = [];
    const { ctx, matrix } = setup();
    const original = matrix.sendText.bind(matrix);
    matrix.sendText = async (...args: Parameters<typeof original>) => {
      txnIds.push(replayStableTxnId() ?? 'random');
      return original(...args);
    };
    ctx.command({ name: 'echo', description: 'Repeat', args: [{ name: 'text', rest: true }], handler: async ({ args, message }) => void (await message.reply(args.text ?? '')) });
    ctx.onMessage((m) => void ctx.matrix.sendText(m.roomId, 'seen'));
    const event = message('!echo hi');
    await ctx.dispatch(ROOM, event);
    await ctx.dispatch(ROOM, event);
    assert.equal(txnIds.length, 4);
    assert.ok(!txnIds.includes('random'));
    assert.deepEqual(txnIds.slice(2).sort(), txnIds.slice(0, 2).sort(), 'the replay reuses the ids');
    assert.notEqual(txnIds[0], txnIds[1], 'two handlers never share an id');
  });

  test('ctx.idempotent: sends of the same key repeat their transaction ids; another key or instance, or none, does not', async () => {
    const { ctx } = setup({}, 'idem-a');
    const { ctx: other } = setup({}, 'idem-b');
    const ids = (c: InstanceContext, key: string) => c.idempotent(key, async () => [replayStableTxnId(), replayStableTxnId()]);
    const first = await ids(ctx, 'webhook:h1:7');
    assert.ok(first.every((id) => typeof id === 'string'));
    assert.notEqual(first[0], first[1], 'two sends of one unit never share an id');
    assert.deepEqual(await ids(ctx, 'webhook:h1:7'), first, 'running it again reuses the ids');
    assert.notDeepEqual(await ids(ctx, 'webhook:h1:8'), first);
    assert.notDeepEqual(await ids(other, 'webhook:h1:7'), first);
    assert.equal(replayStableTxnId(), undefined, 'outside a unit: random ids');
    assert.equal(await ctx.idempotent('k', () => 42), 42);
  });

  test('boundStorage isolates instances and round-trips JSON values', async () => {
    const a = setup({}, 'iso-a').ctx.storage;
    const b = setup({}, 'iso-b').ctx.storage;
    await a.set('score', { alice: 3, list: [1, 'two', null, true] });
    await b.set('score', 7);
    assert.deepEqual(await a.get('score'), { alice: 3, list: [1, 'two', null, true] });
    assert.equal(await b.get('score'), 7);
    await a.set('user:1', 'x');
    await b.set('user:2', 'y');
    assert.deepEqual(await a.list('user:'), [{ key: 'user:1', value: 'x' }]);
    assert.deepEqual(await b.list(), [
      { key: 'score', value: 7 },
      { key: 'user:2', value: 'y' },
    ]);
    assert.equal(await b.delete('user:1'), false, "b cannot delete a's key");
    assert.equal(await a.get('user:1'), 'x');
    assert.equal(await a.delete('user:1'), true);
    assert.equal(await a.get('user:1'), undefined);
    assert.equal(await a.get('never-set'), undefined);
  });
});

describe('the test kit and the daemon', () => {
  test('route the same events to the same handlers and answers (one registry, src/sdk/handlers.ts)', async () => {
    const plugin = definePlugin<Record<string, unknown>>({
      setup(ctx) {
        ctx.command({
          name: 'echo',
          description: 'Repeat',
          aliases: ['say'],
          args: [{ name: 'text', required: true, rest: true }],
          handler: ({ args, message: m }) => m.reply(args.text!).then(() => undefined),
        });
        ctx.command({
          name: 'boom',
          description: 'Throws',
          handler: () => {
            throw new Error('boom');
          },
        });
        ctx.onMessage(async (m) => {
          if (m.body === 'hi') await m.reply(`message ${m.msgtype}`);
        });
        ctx.onReaction((r) => ctx.matrix.sendText(r.roomId, `reaction ${r.key} on ${r.targetEventId}`).then(() => undefined));
        ctx.onMembership((m) => ctx.matrix.sendText(m.roomId, `membership ${m.userId} ${m.previousMembership ?? '-'}→${m.membership}`).then(() => undefined));
        ctx.onEvent('m.room.topic', (e) => ctx.matrix.sendText(e.roomId, `topic ${String(e.event.content.topic)}`).then(() => undefined));
      },
    });
    const events: MatrixEvent[] = [
      message('!echo hello world'),
      message('!SAY again'),
      message('!echo'),
      message('!help'),
      message('!boom'),
      message('!echo from a bot', { msgtype: 'm.notice' }),
      message('* !echo edited', { 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } }),
      message('hi'),
      message('hi', { 'm.relates_to': { rel_type: 'm.thread', event_id: '$root' } }),
      { event_id: '$r', type: 'm.reaction', sender: ALICE, origin_server_ts: 1, content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$t', key: '👍' } } },
      { event_id: '$j', type: 'm.room.member', sender: ALICE, state_key: ALICE, origin_server_ts: 1, content: { membership: 'join' }, unsigned: { prev_content: { membership: 'invite' } } },
      { event_id: '$topic', type: 'm.room.topic', sender: ALICE, state_key: '', origin_server_ts: 1, content: { topic: 'news' } },
    ];

    const daemon = setup({ prefix: '!' });
    await plugin.setup(daemon.ctx);
    for (const event of events) await daemon.ctx.dispatch(ROOM, event);

    const kit = createTestContext({ config: { prefix: '!' } });
    await plugin.setup(kit);
    for (const event of events) await kit.dispatch(ROOM, event);

    const fromDaemon = daemon.matrix.sent.map((s) => [s.text, s.options?.replyTo ?? null, s.options?.threadRoot ?? null]);
    const fromKit = kit.messages.map((s) => [s.text, s.options?.replyTo ?? null, s.options?.threadRoot ?? null]);
    assert.ok(fromDaemon.length >= 9, JSON.stringify(fromDaemon));
    assert.deepEqual(fromKit, fromDaemon);
    assert.deepEqual(
      kit.errors.map((e) => (e as Error).message),
      daemon.handlerErrors.map((e) => (e as Error).message),
    );
    assert.equal(kit.helpText(), daemon.ctx.helpText());
  });
});
