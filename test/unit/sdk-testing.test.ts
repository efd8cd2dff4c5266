/** The plugin test kit itself (trellis/sdk/testing): clock-driven timers, storage round trip, metrics, stop, membership, room state, restart, waiting for background work. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { definePlugin } from 'trellis/sdk';
import { createTestContext, startPlugin, TEST_USER, TestStorage } from 'trellis/sdk/testing';

describe('trellis/sdk/testing', () => {
  test('timers fire in due order as the clock advances; intervals repeat; stop cancels them and aborts the signal', async () => {
    const ctx = createTestContext({ config: {}, clock: 1_000 });
    const fired: string[] = [];
    ctx.timers.setTimeout(() => void fired.push(`b@${ctx.clock.now()}`), 200);
    ctx.timers.setTimeout(() => void fired.push(`a@${ctx.clock.now()}`), 100);
    const cancel = ctx.timers.setTimeout(() => void fired.push('never'), 150);
    ctx.timers.setInterval(() => void fired.push(`i@${ctx.clock.now()}`), 120);
    cancel();
    await ctx.clock.advance(250);
    assert.deepEqual(fired, ['a@1100', 'i@1120', 'b@1200', 'i@1240']);
    assert.equal(ctx.clock.now(), 1250);
    let stopped = false;
    ctx.onStop(() => void (stopped = true));
    await ctx.stop();
    assert.equal(ctx.signal.aborted, true);
    assert.equal(stopped, true);
    await ctx.clock.advance(1_000);
    assert.equal(fired.length, 4);
  });

  test('a throwing timer is logged as the daemon logs it', async () => {
    const ctx = createTestContext({ config: {} });
    ctx.timers.setTimeout(() => {
      throw new Error('tick failed');
    }, 10);
    await ctx.clock.advance(10);
    assert.deepEqual(
      ctx.logs.map((l) => [l.level, l.message]),
      [['error', 'timer handler threw: tick failed']],
    );
  });

  test('storage is JSON in and out, listed by prefix in key order', async () => {
    const ctx = createTestContext({ config: {} });
    const value = { n: 1, list: [1, 'two'] };
    await ctx.storage.set('b:2', value);
    await ctx.storage.set('b:1', true);
    await ctx.storage.set('a', null);
    value.n = 99;
    assert.deepEqual(await ctx.storage.get('b:2'), { n: 1, list: [1, 'two'] });
    assert.deepEqual(
      (await ctx.storage.list('b:')).map((e) => e.key),
      ['b:1', 'b:2'],
    );
    assert.equal(await ctx.storage.delete('a'), true);
    assert.equal(await ctx.storage.get('a'), undefined);
  });

  test('metrics keep their values by label; membership and raw events reach their handlers', async () => {
    const plugin = definePlugin({
      setup(ctx) {
        const joins = ctx.metrics.counter('joins_total', 'Joins', ['room']);
        ctx.onMembership(async (m) => {
          if (m.membership !== 'join') return;
          joins.inc({ room: m.roomId });
          await ctx.matrix.sendText(m.roomId, `Welcome ${m.userId}`);
        });
        ctx.onEvent('org.example.ping', async ({ roomId, event }) => void (await ctx.matrix.sendState(roomId, 'org.example.seen', event.sender, { at: event.origin_server_ts })));
      },
    });
    const ctx = await startPlugin(plugin, { config: {} });
    await ctx.membership('@zoe:example.org', 'join', { previous: 'invite' });
    await ctx.event('org.example.ping', {}, { sender: '@zoe:example.org', ts: 5 });
    assert.equal(ctx.metrics.value('joins_total', { room: '!room:example.org' }), 1);
    assert.deepEqual(await ctx.matrix.joinedMembers('!room:example.org'), ['@zoe:example.org']);
    assert.deepEqual(
      ctx.messages.map((m) => m.text),
      ['Welcome @zoe:example.org'],
    );
    assert.deepEqual(await ctx.matrix.getRoomState('!room:example.org', 'org.example.seen', '@zoe:example.org'), { at: 5 });
  });

  test('room state: set by the test, sent by the bot or kept by membership events; invites refused per room', async () => {
    const plugin = definePlugin({
      setup(ctx) {
        ctx.command({
          name: 'where',
          description: 'Names a room and invites the sender',
          args: [{ name: 'room', required: true }],
          handler: async ({ args, message }) => {
            const name = await ctx.matrix.getRoomState(args.room!, 'm.room.name');
            const member = await ctx.matrix.getRoomState(args.room!, 'm.room.member', message.sender);
            const invited = await ctx.matrix.invite(args.room!, message.sender).then(
              () => 'invited',
              (err: { errcode?: string }) => `refused (${err.errcode})`,
            );
            await message.reply(`${String(name?.name ?? 'no name')}, ${String(member?.membership ?? 'not a member')}, ${invited}`);
          },
        });
      },
    });
    const ctx = await startPlugin(plugin, { config: {} });
    ctx.matrix.setRoomState('!a:example.org', 'm.room.name', '', { name: 'Lobby' });
    await ctx.matrix.sendState('!b:example.org', 'm.room.name', '', { name: 'Games' });
    await ctx.membership(TEST_USER, 'join', { roomId: '!b:example.org' });
    ctx.matrix.inviteErrors.set('!b:example.org', { errcode: 'M_FORBIDDEN' });
    await ctx.sendMessage('!where !a:example.org');
    await ctx.sendMessage('!where !b:example.org');
    assert.deepEqual(
      ctx.replies.map((r) => r.text),
      ['Lobby, not a member, invited', 'Games, join, refused (M_FORBIDDEN)'],
    );
    assert.deepEqual(ctx.invites, [{ roomId: '!a:example.org', userId: TEST_USER }]);
    assert.deepEqual(
      ctx.stateEvents.map((s) => s.roomId),
      ['!b:example.org'],
      'only what the bot sent is recorded as sent',
    );
  });

  test('restart: a new context on the same storage, clock and homeserver side; the old one is stopped', async () => {
    let setups = 0;
    const plugin = definePlugin<{ greeting: string }>({
      async setup(ctx) {
        setups++;
        const count = ((await ctx.storage.get('count')) as number | undefined) ?? 0;
        ctx.timers.setInterval(() => undefined, 1_000);
        ctx.command({
          name: 'count',
          description: 'Counts',
          handler: async ({ message }) => {
            await ctx.storage.set('count', count + 1);
            const dm = await ctx.matrix.openDirectRoom(message.sender);
            await ctx.matrix.sendText(dm, `${ctx.config.greeting} ${count + 1}`);
          },
        });
      },
    });
    const first = await startPlugin(plugin, { config: { greeting: 'hi' }, clock: 5_000 });
    await first.sendMessage('!count');
    await first.updateConfig({ greeting: 'hello' });
    assert.equal(first.timers.active, 1);
    const second = await first.restart(plugin);
    assert.equal(setups, 2);
    assert.equal(first.signal.aborted, true);
    assert.equal(first.timers.active, 0, 'the first instance’s timers were cancelled');
    assert.equal(second.timers.active, 1);
    assert.equal(second.clock, first.clock);
    assert.equal(second.clock.now(), 5_000);
    await second.sendMessage('!count');
    assert.deepEqual(
      second.messages.map((m) => [m.roomId, m.text]),
      [
        ['!dm-1:example.org', 'hi 1'],
        ['!dm-1:example.org', 'hello 2'],
      ],
      'the config, the storage and the DM carried over',
    );
    assert.equal(second.matrix.isDirectRoom('!dm-1:example.org'), true);
    const third = await second.restart(plugin, { config: { greeting: 'hey' }, storage: new TestStorage() });
    await third.sendMessage('!count');
    assert.equal(third.messages.at(-1)?.text, 'hey 1');
  });

  test('waitFor and waitForSent wait in real time for work no dispatch awaits, and say what never came', async () => {
    const plugin = definePlugin({
      setup(ctx) {
        ctx.command({
          name: 'later',
          description: 'Answers after a real delay',
          handler: ({ message }) => {
            // Like a plugin waiting for an HTTP answer: the handler returns at once.
            setTimeout(() => void message.reply('done'), 30);
          },
        });
      },
    });
    const ctx = await startPlugin(plugin, { config: {} });
    const { sent } = await ctx.sendMessage('!later');
    assert.deepEqual(sent, [], 'nothing yet when the dispatch returns');
    const reply = await ctx.waitForSent((s) => s.text === 'done');
    assert.equal(reply.kind, 'message');
    assert.equal(await ctx.waitForSent((s) => s.text === 'done'), reply, 'an event already sent counts');
    await assert.rejects(
      ctx.waitForSent((s) => s.text === 'done', { since: ctx.sent.length, timeoutMs: 50 }),
      /waited 50 ms for an event from the bot that matches \(sent: \["done"\]\) in vain/,
    );
    let calls = 0;
    assert.equal(await ctx.waitFor(() => ++calls >= 3 && 'third'), 'third');
    await assert.rejects(
      ctx.waitFor(() => false, { timeoutMs: 20, what: 'Godot' }),
      /waited 20 ms for Godot in vain/,
    );
  });
});
