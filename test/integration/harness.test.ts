import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRegistrationToken, loginUser, registerUser, sharedOrOwnHomeserver, startSynapse } from '../harness/synapse.ts';
import type { HomeserverInfo } from '../harness/synapse.ts';
import { MatrixRequestError, TestUser, registerWithToken, uniqueLocalpart } from '../harness/matrix-user.ts';

describe('test harness against a real Synapse', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };

  before(async () => {
    hs = await sharedOrOwnHomeserver();
  });
  after(async () => {
    await hs?.release();
  });

  it('registers users by shared secret and by registration token, and they can talk', async () => {
    const alice = new TestUser(hs.url, await registerUser(hs, uniqueLocalpart('alice'), 'alice-password'));
    assert.match(alice.userId, /^@alice-.*:localhost$/);

    const token = await createRegistrationToken(hs, 1);
    const bobLocalpart = uniqueLocalpart('bob');
    const bob = new TestUser(hs.url, await registerWithToken(hs.url, bobLocalpart, 'bob-password', token));
    assert.equal(bob.userId, `@${bobLocalpart}:${hs.serverName}`);

    // uses_allowed: 1 — the token must now be spent.
    await assert.rejects(registerWithToken(hs.url, uniqueLocalpart('carol'), 'carol-password', token), (err: MatrixRequestError) => {
      assert.equal(err.errcode, 'M_UNAUTHORIZED');
      assert.match(err.message, /m\.login\.registration_token/);
      assert.doesNotMatch(err.message, new RegExp(token));
      return true;
    });

    const roomId = await alice.createRoom({ name: 'harness' });
    await alice.invite(roomId, bob.userId);
    assert.equal(await bob.waitForInvite(alice.userId), roomId);
    await bob.join(roomId);
    await alice.waitForMembership(roomId, bob.userId, 'join');

    const eventId = await alice.sendText(roomId, 'hello bob');
    const received = await bob.waitForEvent(roomId, (ev) => ev.type === 'm.room.message');
    assert.equal(received.event_id, eventId);
    assert.equal(received.sender, alice.userId);
    assert.equal(received.content.body, 'hello bob');

    const history = await bob.messages(roomId);
    assert.equal(history.at(-1)?.event_id, eventId);
  });

  it('waitForEvent returns each event once and reports what it saw on timeout', async () => {
    const alice = await TestUser.create(hs, 'alice');
    const roomId = await alice.createRoom();
    await alice.sendText(roomId, 'first');
    await alice.sendText(roomId, 'second');
    const isText = (ev: { type: string }): boolean => ev.type === 'm.room.message';
    assert.equal((await alice.waitForEvent(roomId, isText)).content.body, 'first');
    assert.equal((await alice.waitForEvent(roomId, isText)).content.body, 'second');
    await assert.rejects(alice.waitForEvent(roomId, isText, 300, 'a third message'), (err: Error) => {
      assert.match(err.message, /a third message/);
      assert.match(err.message, /"second"/);
      return true;
    });
  });

  it('rejects a wrong shared-secret MAC without leaking the secret', async () => {
    const err = await registerUser({ url: hs.url, sharedSecret: 'wrong' }, uniqueLocalpart('mallory'), 'pw').then(
      () => null,
      (e: unknown) => e as Error,
    );
    assert.ok(err, 'registration with a wrong secret must fail');
    assert.doesNotMatch(err.message, new RegExp(hs.sharedSecret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.doesNotMatch(err.message, /wrong/);
  });
});

describe('a private homeserver survives restart()', () => {
  it('keeps users, tokens and rooms across a restart on the same port', async () => {
    const hs = await startSynapse();
    try {
      const alice = await TestUser.create(hs, 'alice');
      const roomId = await alice.createRoom({ name: 'persistent' });
      const eventId = await alice.sendText(roomId, 'before restart');
      const { port, url } = hs;

      await hs.restart();
      assert.equal(hs.port, port);
      assert.equal(hs.url, url);

      // The old access token still works, so the data really persisted.
      const history = await alice.messages(roomId);
      assert.ok(history.some((ev) => ev.event_id === eventId));
      const localpart = alice.userId.slice(1).split(':')[0];
      const again = await loginUser(hs.url, localpart, `password-${localpart}`);
      assert.equal(again.userId, alice.userId);
      await createRegistrationToken(hs); // admin token survived too
    } finally {
      await hs.stop();
    }
    await assert.rejects(fetch(`${hs.url}/_matrix/client/versions`), 'Synapse must be gone after stop()');
  });

  it('surfaces Matrix errors with status and errcode', async () => {
    const hs = await sharedOrOwnHomeserver();
    try {
      const alice = await TestUser.create(hs, 'alice');
      const err = await alice.join('!doesnotexist:localhost').then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof MatrixRequestError);
      assert.ok(err.status >= 400);
      assert.ok(err.errcode?.startsWith('M_'));
    } finally {
      await hs.release();
    }
  });
});
