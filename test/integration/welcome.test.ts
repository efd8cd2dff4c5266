/**
 * The welcome plugin end to end on a real Synapse: people join a Space, get a
 * welcome DM from the bot, react to it and are invited to the Space's rooms.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';

interface ApiInstance {
  state: string;
}

const CONFIRM = 'Welcome aboard — invites are on their way.';

describe('welcome plugin through a real homeserver', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let admin: TestUser;
  let bot: string;
  let space: string;
  let general: string;
  let offTopic: string;
  let staff: string;
  let ann: TestUser;
  let annDm: string;

  const fromBot = (ev: TestMatrixEvent) => ev.sender === bot && ev.type === 'm.room.message';
  const isWelcome = (ev: TestMatrixEvent) => fromBot(ev) && String(ev.content.body).startsWith('Hi ');
  const isConfirmation = (ev: TestMatrixEvent) => fromBot(ev) && !isWelcome(ev);

  async function createRoom(body: Record<string, unknown>): Promise<string> {
    return (await admin.request<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', body)).room_id;
  }

  /** The membership of a user in a room, as the admin (a member) sees it. */
  async function membershipOf(roomId: string, userId: string): Promise<string | null> {
    const res = await admin.request<{ membership?: string }>('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`).catch(() => null);
    return res?.membership ?? null;
  }

  /** A counter of this plugin from /metrics (0 while it has not been counted). */
  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = (await daemon.api('GET', '/metrics')).text;
    const full = `trellis_plugin_org_trellis_welcome_${name}`;
    for (const line of text.split('\n')) {
      const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m || m[1] !== full) continue;
      const found = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      if (found.instance === 'welcome' && Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
    }
    return 0;
  }

  const waitForMetric = (name: string, labels: Record<string, string>, atLeast: number) =>
    daemon.waitFor(`${name} ${JSON.stringify(labels)} to reach ${atLeast}`, async () => (await metric(name, labels)) >= atLeast || undefined);

  function react(user: TestUser, roomId: string, eventId: string, key: string): Promise<string> {
    return user.sendEvent(roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: eventId, key } });
  }

  /** A new person joins the Space, accepts the bot's DM and reads the welcome. */
  async function newcomer(prefix: string): Promise<{ user: TestUser; dm: string; welcome: TestMatrixEvent }> {
    const user = await TestUser.create(hs, prefix);
    await user.join(space);
    const dm = await user.waitForInvite(bot, 30_000);
    await user.join(dm);
    const welcome = await user.waitForEvent(dm, isWelcome, 20_000, 'the welcome message');
    return { user, dm, welcome };
  }

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    admin = await TestUser.create(hs, 'spaceadmin');
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('welcomebot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body.id;
    space = await createRoom({ preset: 'public_chat', name: 'Community', creation_content: { type: 'm.space' }, invite: [bot] });
    general = await createRoom({ preset: 'private_chat', name: 'General', invite: [bot], power_level_content_override: { invite: 0 } });
    offTopic = await createRoom({ preset: 'private_chat', name: 'Off-topic', invite: [bot], power_level_content_override: { invite: 0 } });
    // Only moderators may invite here: the bot's invite fails and the user is told.
    staff = await createRoom({ preset: 'private_chat', name: 'Staff', invite: [bot], power_level_content_override: { invite: 100 } });
    const put = await daemon.api('PUT', '/instance/welcome', {
      type: 'org.trellis.welcome',
      primary_user: bot,
      rooms: [space],
      config: {
        space,
        rooms: [general, offTopic, staff],
        html_message: '<p>Hi <b>{displayname}</b>, react with {reaction}.</p>',
      },
    });
    assert.equal(put.status, 201, put.text);
    await daemon.waitFor('instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/welcome')).body.state === 'running' || undefined);
    for (const room of [space, general, offTopic, staff]) await admin.waitForMembership(room, bot, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('welcomes a new member in a DM, and invites them to the rooms once they react', async () => {
    ann = await TestUser.create(hs, 'ann');
    // Ann is already in General: she is not invited there again (an invite would fail and be reported).
    await admin.invite(general, ann.userId);
    await ann.join(general);
    await ann.join(space);
    annDm = await ann.waitForInvite(bot, 30_000);
    await ann.join(annDm);
    const welcome = await ann.waitForEvent(annDm, isWelcome, 20_000, 'the welcome message');
    const localpart = ann.userId.slice(1).split(':')[0]!;
    assert.equal(welcome.content.msgtype, 'm.notice');
    assert.equal(welcome.content.body, `Hi ${localpart}, welcome! React to this message with ✅ and I will invite you to the community's rooms.`);
    assert.equal(welcome.content.formatted_body, `<p>Hi <b>${localpart}</b>, react with ✅.</p>`);
    assert.equal(await membershipOf(offTopic, ann.userId), null, 'not invited before reacting');

    await react(ann, annDm, welcome.event_id, '✅');
    await ann.waitForMembership(offTopic, ann.userId, 'invite', 20_000);
    const confirmation = await ann.waitForEvent(annDm, isConfirmation, 20_000, 'the confirmation');
    assert.equal(confirmation.content.body, `${CONFIRM}\nI could not invite you to “Staff”: the bot is not allowed to invite people there. Please ask the space's admins.`);
    assert.equal(await membershipOf(general, ann.userId), 'join');
    assert.equal(await membershipOf(staff, ann.userId), null);
    assert.ok(
      daemon.output.some((l) => l.includes('"level":"error"') && l.includes(`could not invite ${ann.userId} to ${staff}`)),
      'the failure is an ERROR for the admins',
    );
  });

  it('does nothing on a second confirming reaction', async () => {
    const welcome = (await ann.messages(annDm)).find(isWelcome)!;
    const first = (await ann.messages(annDm)).find((ev) => ev.type === 'm.reaction' && ev.sender === ann.userId)!;
    await ann.request('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(annDm)}/redact/${encodeURIComponent(first.event_id)}/r${Date.now()}`, {});
    await react(ann, annDm, welcome.event_id, '✅');
    await waitForMetric('ignored_reactions_total', { reason: 'already_done' }, 1);
    assert.equal((await ann.messages(annDm)).filter(isConfirmation).length, 1, 'one confirmation');
    assert.equal(await metric('completions_total'), 1);
  });

  it('does not welcome someone again who leaves and rejoins the Space', async () => {
    await ann.leave(space);
    await admin.waitForMembership(space, ann.userId, 'leave');
    await ann.join(space);
    await waitForMetric('skipped_joins_total', { reason: 'already_welcomed' }, 1);
    assert.equal((await ann.messages(annDm)).filter(isWelcome).length, 1, 'one welcome');
    assert.equal(await metric('welcomes_total'), 1);
  });

  it('ignores a wrong emoji, and finishes the flow after a daemon restart between welcome and reaction', async () => {
    const { user: bob, dm, welcome } = await newcomer('bob');
    await react(bob, dm, welcome.event_id, '👍');
    // Counted once the bot has handled the reaction: its sync is past the welcome and the DM's creation.
    await waitForMetric('ignored_reactions_total', { reason: 'wrong_key' }, 1);
    assert.equal(await membershipOf(general, bob.userId), null, 'not invited after a wrong emoji');
    assert.equal((await bob.messages(dm)).filter(isConfirmation).length, 0, 'no confirmation after a wrong emoji');

    await daemon.restart();
    await daemon.waitFor('instance running after the restart', async () => (await daemon.api<ApiInstance>('GET', '/instance/welcome')).body.state === 'running' || undefined);
    await react(bob, dm, welcome.event_id, '✅');
    await bob.waitForMembership(general, bob.userId, 'invite', 20_000);
    await bob.waitForMembership(offTopic, bob.userId, 'invite', 20_000);
    const confirmation = await bob.waitForEvent(dm, isConfirmation, 20_000, 'the confirmation');
    assert.match(String(confirmation.content.body), new RegExp(`^${CONFIRM}\n`));
    assert.equal(await metric('completions_total'), 1, 'counted since the restart');
  });
});
