/**
 * The welcome plugin's wiring on the test kit (trellis/sdk/testing): a join to the Space opens a DM
 * with a welcome, the right reaction to it invites to the configured rooms (skipping rooms the person
 * is already in, explaining refused invites), everything else is ignored without touching storage,
 * and a restart between the welcome and the reaction changes nothing.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createTestClock, startPlugin, TEST_BOT, type TestClock, type TestContext } from 'trellis/sdk/testing';
import plugin from '../../plugins/welcome/index.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];
const SPACE = '!space:example.org';
const GENERAL = '!general:example.org';
const GAMES = '!games:example.org';
const DAVE = '@dave:example.org';
const ERIN = '@erin:example.org';
const CONFIRM = 'Welcome aboard — invites are on their way.';

const BASE: Config = {
  prefix: '!',
  space: SPACE,
  rooms: [GENERAL, GAMES],
  message: 'Hi {displayname}, welcome! React to this message with {reaction} and I will invite you to the community’s rooms.',
  html_message: '',
  reaction: '✅',
  confirm_text: CONFIRM,
  welcome_once: true,
};

describe('welcome plugin on the test kit', () => {
  let clock: TestClock;
  beforeEach(() => {
    // The record keeps when the welcome and the confirmation happened (Date.now(), following the clock).
    clock = createTestClock({ start: Date.UTC(2025, 8, 1, 9), patchDate: true });
  });
  afterEach(() => clock.restore());

  function started(config: Partial<Config> = {}): Promise<TestContext<Config>> {
    return startPlugin(plugin, { clock, config: { ...BASE, ...config } });
  }

  /** Dispatches a join to the Space and returns the welcome the bot sent for it. */
  async function join(ctx: TestContext<Config>, userId: string) {
    const { sent } = await ctx.membership(userId, 'join', { roomId: SPACE, previous: 'invite' });
    assert.equal(sent.length, 1, `one welcome for ${userId}`);
    return sent[0];
  }

  const snapshot = (ctx: TestContext<Config>) => [...ctx.storage.data];
  const invitesTo = (ctx: TestContext<Config>, userId: string) => ctx.invites.filter((i) => i.userId === userId && !ctx.matrix.isDirectRoom(i.roomId)).map((i) => i.roomId);

  test('a join to the Space gets a welcome in a DM; the configured reaction invites to every room and confirms', async () => {
    const ctx = await started();
    const welcome = await join(ctx, DAVE);
    assert.equal(ctx.matrix.isDirectRoom(welcome.roomId), true);
    assert.deepEqual(ctx.invites, [{ roomId: welcome.roomId, userId: DAVE }], 'only the DM so far');
    assert.equal(welcome.text, 'Hi dave, welcome! React to this message with ✅ and I will invite you to the community’s rooms.');
    assert.equal(welcome.content.msgtype, 'm.notice');
    assert.deepEqual(await ctx.storage.get(`welcome:${DAVE}`), { user: DAVE, room: welcome.roomId, event: welcome.eventId, state: 'welcomed', welcomed_at: clock.now() });
    assert.equal(ctx.metrics.value('welcomes_total'), 1);

    await clock.advance(3_600_000);
    // A variation selector on the key is the same reaction to a person.
    const { sent } = await ctx.react(welcome.eventId, '✅\uFE0F', { sender: DAVE, roomId: welcome.roomId });
    assert.deepEqual(invitesTo(ctx, DAVE), [GENERAL, GAMES]);
    assert.deepEqual(
      sent.map((s) => [s.roomId, s.text]),
      [[welcome.roomId, CONFIRM]],
    );
    assert.deepEqual(await ctx.storage.get(`welcome:${DAVE}`), {
      user: DAVE,
      room: welcome.roomId,
      event: welcome.eventId,
      state: 'done',
      welcomed_at: clock.now() - 3_600_000,
      done_at: clock.now(),
      failed_rooms: [],
    });
    assert.equal(ctx.metrics.value('completions_total'), 1);

    // Reacting again invites nobody twice.
    const before = snapshot(ctx);
    const { sent: again } = await ctx.react(welcome.eventId, '✅', { sender: DAVE, roomId: welcome.roomId });
    assert.deepEqual(again, []);
    assert.deepEqual(invitesTo(ctx, DAVE), [GENERAL, GAMES]);
    assert.deepEqual(snapshot(ctx), before);
    assert.equal(ctx.metrics.value('ignored_reactions_total', { reason: 'already_done' }), 1);
  });

  test('the welcome uses the join’s display name, escaped in the HTML version', async () => {
    const ctx = await started({ html_message: 'Hi <b>{displayname}</b> ({user}), react with {reaction}' });
    const { sent } = await ctx.event('m.room.member', { membership: 'join', displayname: 'Dave <3' }, { roomId: SPACE, sender: DAVE }, { state_key: DAVE });
    assert.equal(sent[0].text, 'Hi Dave <3, welcome! React to this message with ✅ and I will invite you to the community’s rooms.');
    assert.equal(sent[0].html, `Hi <b>Dave &lt;3</b> (${DAVE}), react with ✅`);
  });

  test('joins elsewhere, profile changes, the bot itself and the wrong reactions are ignored and change nothing', async () => {
    const ctx = await started();
    const welcome = await join(ctx, DAVE);
    const before = snapshot(ctx);
    const sentBefore = ctx.sent.length;

    await ctx.membership(ERIN, 'join', { roomId: GENERAL });
    await ctx.membership(DAVE, 'join', { roomId: SPACE, previous: 'join' }); // a display name change
    await ctx.membership(TEST_BOT, 'join', { roomId: SPACE });
    await ctx.membership(ERIN, 'leave', { roomId: SPACE, previous: 'join' });
    await ctx.react(welcome.eventId, '👍', { sender: DAVE, roomId: welcome.roomId });
    await ctx.react(welcome.eventId, '✅', { sender: ERIN, roomId: welcome.roomId });
    await ctx.react('$some-other-message', '✅', { sender: DAVE, roomId: welcome.roomId });
    await ctx.react(welcome.eventId, '✅', { sender: DAVE, roomId: GENERAL });
    await ctx.react(welcome.eventId, '✅', { sender: TEST_BOT, roomId: welcome.roomId });

    assert.equal(ctx.sent.length, sentBefore, 'nothing was sent');
    assert.deepEqual(invitesTo(ctx, DAVE), []);
    assert.deepEqual(snapshot(ctx), before);
    assert.equal(ctx.metrics.value('ignored_reactions_total', { reason: 'wrong_key' }), 1);
    assert.equal(ctx.metrics.value('ignored_reactions_total', { reason: 'not_welcome' }), 3);
  });

  test('rooms the person is already in are skipped; a refused invite is explained with the room’s name', async () => {
    const ctx = await started({ rooms: [GENERAL, GAMES, '!quiet:example.org'] });
    const welcome = await join(ctx, DAVE);
    await ctx.membership(DAVE, 'join', { roomId: GENERAL });
    ctx.matrix.setRoomState(GAMES, 'm.room.name', '', { name: 'Games night' });
    // As the homeserver refuses: an error carrying the Matrix errcode.
    ctx.matrix.inviteErrors.set(GAMES, Object.assign(new Error('You do not have permission to invite'), { errcode: 'M_FORBIDDEN' }));

    const { sent } = await ctx.react(welcome.eventId, '✅', { sender: DAVE, roomId: welcome.roomId });
    assert.deepEqual(invitesTo(ctx, DAVE), ['!quiet:example.org']);
    assert.equal(sent[0].text, `${CONFIRM}\nI could not invite you to “Games night”: the bot is not allowed to invite people there. Please ask the space's admins.`);
    assert.deepEqual(((await ctx.storage.get(`welcome:${DAVE}`)) as { failed_rooms: string[] }).failed_rooms, [GAMES]);
    assert.equal(ctx.metrics.value('invite_failures_total'), 1);
    assert.ok(ctx.logs.some((l) => l.level === 'error' && l.message === `could not invite ${DAVE} to ${GAMES}: You do not have permission to invite`));
  });

  test('a rejoin is welcomed again only when welcome_once is off', async () => {
    const ctx = await started();
    const first = await join(ctx, DAVE);
    await ctx.membership(DAVE, 'leave', { roomId: SPACE, previous: 'join' });
    const { sent } = await ctx.membership(DAVE, 'join', { roomId: SPACE, previous: 'leave' });
    assert.deepEqual(sent, []);
    assert.equal(ctx.metrics.value('skipped_joins_total', { reason: 'already_welcomed' }), 1);

    await ctx.updateConfig({ ...ctx.config, welcome_once: false });
    await ctx.membership(DAVE, 'leave', { roomId: SPACE, previous: 'join' });
    const second = await join(ctx, DAVE);
    assert.equal(second.roomId, first.roomId, 'the same DM');
    assert.equal(((await ctx.storage.get(`welcome:${DAVE}`)) as { event: string }).event, second.eventId);
    // Only the newest welcome counts.
    await ctx.react(first.eventId, '✅', { sender: DAVE, roomId: first.roomId });
    assert.deepEqual(invitesTo(ctx, DAVE), []);
    await ctx.react(second.eventId, '✅', { sender: DAVE, roomId: second.roomId });
    assert.deepEqual(invitesTo(ctx, DAVE), [GENERAL, GAMES]);
  });

  test('without a space nobody is welcomed, and the log says why', async () => {
    const ctx = await started({ space: '' });
    assert.ok(ctx.logs.some((l) => l.level === 'warn' && /no space is configured/.test(l.message)));
    await ctx.membership(DAVE, 'join', { roomId: SPACE });
    assert.deepEqual(ctx.sent, []);
    assert.equal(ctx.storage.data.size, 0);
  });

  test('a restart between the welcome and the reaction changes nothing', async () => {
    const first = await started();
    const welcome = await join(first, DAVE);
    await clock.advance(86_400_000);
    const second = await first.restart(plugin);
    const { sent } = await second.react(welcome.eventId, '✅', { sender: DAVE, roomId: welcome.roomId });
    assert.deepEqual(
      sent.map((s) => [s.roomId, s.text]),
      [[welcome.roomId, CONFIRM]],
    );
    assert.deepEqual(invitesTo(second, DAVE), [GENERAL, GAMES]);
    // And after another restart the person is still known: no second welcome.
    const third = await second.restart(plugin);
    const { sent: rejoined } = await third.membership(DAVE, 'join', { roomId: SPACE, previous: 'leave' });
    assert.deepEqual(rejoined, []);
  });
});
