/** Several instances of one bot in one room: one `!help` answer for all of them. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';

describe('instances sharing a bot and a room', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    user = await TestUser.create(hs, 'sharer');
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('answers !help once, listing the commands of every instance in the room', async () => {
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('sharedbot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    const bot = res.body.id;
    const room = await user.createRoom({ name: 'shared', invite: [bot] });
    for (const id of ['ping-one', 'ping-two']) await daemon.createInstance(id, { type: 'org.trellis.ping', primary_user: bot, rooms: [room] });
    await user.waitForMembership(room, bot, 'join', 20_000);
    const ask = await user.sendText(room, '!help');
    const isReply = (ev: TestMatrixEvent) => ev.sender === bot && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === ask;
    const help = await user.waitForEvent(room, isReply, 20_000, 'the help answer');
    assert.equal(String(help.content.body).match(/!ping/g)?.length, 2, 'both instances listed');
    // A later command is answered; by then a second help answer would have arrived too.
    const ping = await user.sendText(room, '!echo marker');
    await user.waitForEvent(room, (ev) => ev.sender === bot && String(ev.content.body) === 'marker', 20_000, 'the echo');
    const replies = (await user.messages(room, 50)).filter(isReply);
    assert.equal(replies.length, 1, 'one help answer, not one per instance');
    assert.ok(ping);
  });
});
