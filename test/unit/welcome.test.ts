/** The welcome plugin's pure parts: join detection, templates, reactions, what the user reads. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyReaction, confirmationText, displayNameOf, inviteFailureReason, isNewJoin, renderTemplate, sameReaction, type WelcomeRecord } from '../../plugins/welcome/welcome.ts';

const SPACE = '!space:localhost';
const BOT = '@bot:localhost';

describe('isNewJoin', () => {
  const change = (extra: Partial<Parameters<typeof isNewJoin>[0]> = {}) => ({ roomId: SPACE, userId: '@ann:localhost', membership: 'join', ...extra });

  it('counts a first join, a join after an invite, a leave or a knock', () => {
    assert.equal(isNewJoin(change(), SPACE, BOT), true);
    for (const previousMembership of ['invite', 'leave', 'knock']) assert.equal(isNewJoin(change({ previousMembership }), SPACE, BOT), true, previousMembership);
  });

  it('ignores display-name and avatar changes (join after join)', () => {
    assert.equal(isNewJoin(change({ previousMembership: 'join' }), SPACE, BOT), false);
  });

  it('ignores other memberships, other rooms, the bot, and an unset space', () => {
    for (const membership of ['leave', 'invite', 'ban', 'knock']) assert.equal(isNewJoin(change({ membership }), SPACE, BOT), false, membership);
    assert.equal(isNewJoin(change({ roomId: '!other:localhost' }), SPACE, BOT), false);
    assert.equal(isNewJoin(change({ userId: BOT }), SPACE, BOT), false);
    assert.equal(isNewJoin(change(), '', BOT), false);
  });
});

describe('displayNameOf', () => {
  it('uses the display name of the join event, else the localpart', () => {
    assert.equal(displayNameOf('@ann:localhost', { membership: 'join', displayname: ' Ann Example ' }), 'Ann Example');
    assert.equal(displayNameOf('@ann:localhost', { membership: 'join' }), 'ann');
    assert.equal(displayNameOf('@ann:localhost', { displayname: '   ' }), 'ann');
    assert.equal(displayNameOf('@ann:localhost', { displayname: 42 }), 'ann');
  });
});

describe('renderTemplate', () => {
  const values = { user: '@ann:localhost', displayname: 'Ann <3 & co', reaction: '✅' };

  it('fills every placeholder, as often as it appears', () => {
    assert.equal(renderTemplate('Hi {displayname} ({user})! React {reaction}. Bye {displayname}.', values), 'Hi Ann <3 & co (@ann:localhost)! React ✅. Bye Ann <3 & co.');
  });

  it('escapes the values (not the template) for HTML', () => {
    assert.equal(renderTemplate('<b>Hi {displayname}</b>', values, true), '<b>Hi Ann &lt;3 &amp; co</b>');
  });

  it('leaves unknown placeholders alone and does not expand placeholders inside values', () => {
    assert.equal(renderTemplate('{name} {displayname}', { ...values, displayname: '{user}' }), '{name} {user}');
  });
});

describe('reactions', () => {
  const record: WelcomeRecord = { user: '@ann:localhost', room: '!dm:localhost', event: '$welcome', state: 'welcomed', welcomed_at: 1 };
  const reaction = (extra: Partial<Parameters<typeof classifyReaction>[1]> = {}) => ({ roomId: '!dm:localhost', sender: '@ann:localhost', targetEventId: '$welcome', key: '✅', ...extra });

  it('compares keys without variation selectors', () => {
    assert.equal(sameReaction('✅', '✅'), true);
    assert.equal(sameReaction('✔️', '✔'), true);
    assert.equal(sameReaction('👍', '✅'), false);
  });

  it("confirms only the user's own reaction with the configured key to their welcome", () => {
    assert.equal(classifyReaction(record, reaction(), '✅'), 'confirm');
    assert.equal(classifyReaction(record, reaction({ key: '👍' }), '✅'), 'wrong_key');
    assert.equal(classifyReaction(record, reaction({ targetEventId: '$other' }), '✅'), 'not_welcome');
    assert.equal(classifyReaction(record, reaction({ roomId: '!elsewhere:localhost' }), '✅'), 'not_welcome');
    assert.equal(classifyReaction(record, reaction({ sender: '@bob:localhost' }), '✅'), 'not_welcome');
    assert.equal(classifyReaction(undefined, reaction(), '✅'), 'not_welcome');
  });

  it('does nothing the second time', () => {
    assert.equal(classifyReaction({ ...record, state: 'done' }, reaction(), '✅'), 'already_done');
  });
});

describe('what the user reads after confirming', () => {
  it('says why an invite failed in plain words', () => {
    assert.equal(inviteFailureReason({ errcode: 'M_FORBIDDEN', error: "You don't have permission to invite users" }), 'the bot is not allowed to invite people there');
    assert.equal(inviteFailureReason({ errcode: 'M_LIMIT_EXCEEDED' }), 'the homeserver is rate-limiting the bot');
    assert.equal(inviteFailureReason({ errcode: 'M_UNKNOWN', error: 'Something odd' }), 'the homeserver refused (Something odd)');
    assert.equal(inviteFailureReason(new Error('connection reset')), 'the homeserver refused (connection reset)');
  });

  it('sends the confirmation, plus a sentence per failed room', () => {
    assert.equal(confirmationText('Welcome!', 2, []), 'Welcome!');
    assert.equal(confirmationText('Welcome!', 0, []), 'Welcome!');
    assert.equal(
      confirmationText('Welcome!', 2, [{ room: '!b:x', label: '“Staff”', reason: 'the bot is not allowed to invite people there' }]),
      "Welcome!\nI could not invite you to “Staff”: the bot is not allowed to invite people there. Please ask the space's admins.",
    );
  });

  it('leaves the confirmation out when every invite failed', () => {
    const failures = [{ room: '!a:x', label: '!a:x', reason: 'the room no longer exists' }];
    assert.equal(confirmationText('Welcome!', 1, failures), "I could not invite you to !a:x: the room no longer exists. Please ask the space's admins.");
  });
});
