/** Reaction polls (trellis/sdk): number-emoji keys, the poll message, and reactions read as votes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addReactionPollKeys,
  applyPollVote,
  NUMBER_EMOJIS,
  onReactionVote,
  REACTION_POLL_MAX_OPTIONS,
  reactionAnswer,
  reactionIndex,
  reactionPollAnswers,
  reactionPollMessage,
  tallyPoll,
  type PollVote,
  type PollVoteEvent,
} from 'trellis/sdk';
import { createTestContext } from 'trellis/sdk/testing';

describe('sdk reaction polls', () => {
  test('options get the ids 1, 2, 3 … and one number emoji each, ten at most', () => {
    assert.deepEqual(reactionPollAnswers(['Pizza', 'Sushi']), [
      { id: '1', text: 'Pizza' },
      { id: '2', text: 'Sushi' },
    ]);
    assert.equal(REACTION_POLL_MAX_OPTIONS, 10);
    assert.equal(NUMBER_EMOJIS.length, 10);
    assert.equal(reactionPollAnswers(Array.from({ length: 10 }, (_, i) => `o${i}`)).at(-1)?.id, '10');
    assert.throws(() => reactionPollAnswers(Array.from({ length: 11 }, (_, i) => `o${i}`)), /at most 10 options/);
  });

  test('reaction keys map to options, with or without the variation selector', () => {
    assert.equal(reactionIndex('1️⃣', 3), 0);
    assert.equal(reactionIndex('3\u20E3', 3), 2);
    assert.equal(reactionIndex('🔟', 10), 9);
    assert.equal(reactionIndex('4️⃣', 3), null);
    assert.equal(reactionIndex('👍', 3), null);
    const answers = reactionPollAnswers(['a', 'b']);
    assert.deepEqual(reactionAnswer(answers, '2️⃣'), { id: '2', text: 'b' });
    assert.equal(reactionAnswer(answers, '3️⃣'), null);
  });

  test('the poll message lists the options by number: text, and HTML with everything escaped', () => {
    const { text, html } = reactionPollMessage('📊 Lunch <today>?', reactionPollAnswers(['Fish & chips', 'Soup']), 'React with a number.');
    assert.equal(text, '📊 Lunch <today>?\n1️⃣ Fish & chips\n2️⃣ Soup\nReact with a number.');
    assert.equal(html, '<b>📊 Lunch &lt;today&gt;?</b><br>1️⃣ Fish &amp; chips<br>2️⃣ Soup<br><i>React with a number.</i>');
  });

  test('addReactionPollKeys reacts with each option’s number, in order', async () => {
    const ctx = createTestContext({ config: {} });
    await addReactionPollKeys(ctx.matrix, '!room:example.org', '$poll', 3);
    assert.deepEqual(
      ctx.reactions.map((r) => [r.roomId, r.targetEventId, r.key]),
      [
        ['!room:example.org', '$poll', '1️⃣'],
        ['!room:example.org', '$poll', '2️⃣'],
        ['!room:example.org', '$poll', '3️⃣'],
      ],
    );
  });

  test('onReactionVote turns a number reaction on an open poll into a vote; other reactions are ignored', async () => {
    const ctx = createTestContext({ config: {}, clock: 5_000 });
    const answers = reactionPollAnswers(['Pizza', 'Sushi', 'Tacos']);
    const votes: PollVoteEvent[] = [];
    onReactionVote(
      ctx,
      (reaction) => (reaction.targetEventId === '$poll' ? answers : null),
      (vote) => void votes.push(vote),
    );
    await ctx.react('$poll', '2️⃣', { sender: '@bob:example.org', ts: 6_000 });
    await ctx.react('$poll', '👍');
    await ctx.react('$poll', '4️⃣', { sender: '@bob:example.org' });
    await ctx.react('$other', '1️⃣');
    assert.deepEqual(votes, [{ roomId: '!room:example.org', sender: '@bob:example.org', ts: 6_000, pollEventId: '$poll', answers: ['2'] }]);

    // The vote counts like a native one.
    const kept: Record<string, PollVote> = {};
    for (const v of votes) applyPollVote(kept, { answers }, v.sender, v.answers, v.ts);
    assert.deepEqual(tallyPoll({ answers }, kept).counts, { 1: 0, 2: 1, 3: 0 });
  });
});
