/** The plugin test kit itself (trellis/sdk/testing): clock-driven timers, storage round trip, metrics, stop, membership. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { definePlugin } from 'trellis/sdk';
import { createTestContext, startPlugin } from 'trellis/sdk/testing';

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
});
