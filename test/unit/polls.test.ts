import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyPollVote, buildPollEnd, buildPollResponse, buildPollStart, parsePollEnd, parsePollResponse, parsePollStart, pollFallbackText, tallyPoll, type PollVote } from '../../src/sdk/index.ts';
import { describeDuration, parsePollCommand, resultLines } from '../../plugins/polls/parse.ts';

describe('sdk polls: MSC3381 wire format', () => {
  test('buildPollStart makes the content Element sends, with a plain-text fallback', () => {
    const built = buildPollStart({
      question: 'Lunch?',
      answers: [
        { id: 'p', text: 'Pizza' },
        { id: 's', text: 'Sushi' },
      ],
      kind: 'disclosed',
    });
    assert.equal(built.type, 'org.matrix.msc3381.poll.start');
    assert.deepEqual(built.content, {
      'org.matrix.msc3381.poll.start': {
        question: { 'org.matrix.msc1767.text': 'Lunch?' },
        kind: 'org.matrix.msc3381.poll.disclosed',
        max_selections: 1,
        answers: [
          { id: 'p', 'org.matrix.msc1767.text': 'Pizza' },
          { id: 's', 'org.matrix.msc1767.text': 'Sushi' },
        ],
      },
      'org.matrix.msc1767.text': 'Lunch?\n1. Pizza\n2. Sushi',
      body: 'Lunch?\n1. Pizza\n2. Sushi',
    });
    assert.deepEqual(built.answers, [
      { id: 'p', text: 'Pizza' },
      { id: 's', text: 'Sushi' },
    ]);
  });

  test('buildPollStart generates unique ids for plain texts and marks undisclosed polls', () => {
    const built = buildPollStart({ question: 'Q', answers: ['a', 'b', 'c'], kind: 'undisclosed', fallbackText: 'custom' });
    const ids = built.answers.map((a) => a.id);
    assert.equal(new Set(ids).size, 3);
    assert.ok(ids.every((id) => /^[0-9a-f]{12}$/.test(id)));
    const poll = built.content['org.matrix.msc3381.poll.start'] as { kind: string };
    assert.equal(poll.kind, 'org.matrix.msc3381.poll.undisclosed');
    assert.equal(built.content.body, 'custom');
    assert.throws(() => buildPollStart({ question: ' ', answers: ['a'] }), /question/);
    assert.throws(() => buildPollStart({ question: 'Q', answers: [] }), /1 to 20/);
    assert.throws(() => buildPollStart({ question: 'Q', answers: Array.from({ length: 21 }, (_, i) => `o${i}`) }), /1 to 20/);
    assert.throws(
      () =>
        buildPollStart({
          question: 'Q',
          answers: [
            { id: 'x', text: 'a' },
            { id: 'x', text: 'b' },
          ],
        }),
      /unique/,
    );
  });

  test('parsePollStart reads what buildPollStart writes, and the stable and m.message forms', () => {
    const built = buildPollStart({ question: 'Lunch?', answers: ['Pizza', 'Sushi'], kind: 'undisclosed' });
    assert.deepEqual(parsePollStart(built.content), { question: 'Lunch?', kind: 'undisclosed', maxSelections: 1, answers: built.answers });
    const stable = {
      'm.poll.start': {
        question: {
          'm.message': [
            { mimetype: 'text/html', body: '<b>Q</b>' },
            { mimetype: 'text/plain', body: 'Q' },
          ],
        },
        kind: 'm.poll.disclosed',
        max_selections: 2,
        answers: [{ id: 'a', 'm.text': 'A' }, { id: 'b', 'm.text': 'B' }, { id: 'a', 'm.text': 'dup' }, { 'm.text': 'no id' }],
      },
    };
    assert.deepEqual(parsePollStart(stable), {
      question: 'Q',
      kind: 'disclosed',
      maxSelections: 2,
      answers: [
        { id: 'a', text: 'A' },
        { id: 'b', text: 'B' },
      ],
    });
    // An unknown kind counts as undisclosed; a missing max_selections is 1.
    const odd = parsePollStart({
      'org.matrix.msc3381.poll.start': { question: { 'org.matrix.msc1767.text': 'Q' }, kind: 'org.example.weird', answers: [{ id: 'a', 'org.matrix.msc1767.text': 'A' }] },
    });
    assert.equal(odd?.kind, 'undisclosed');
    assert.equal(odd?.maxSelections, 1);
    assert.equal(parsePollStart({ body: 'not a poll' }), null);
    assert.equal(parsePollStart({ 'org.matrix.msc3381.poll.start': { question: {}, answers: [] } }), null);
    assert.equal(parsePollStart({ 'org.matrix.msc3381.poll.start': { question: { 'org.matrix.msc1767.text': 'Q' }, answers: 'x' } }), null);
  });

  test('responses: built as a reference, parsed back; malformed ones are null', () => {
    const built = buildPollResponse('$poll', ['a']);
    assert.equal(built.type, 'org.matrix.msc3381.poll.response');
    assert.deepEqual(built.content, { 'm.relates_to': { rel_type: 'm.reference', event_id: '$poll' }, 'org.matrix.msc3381.poll.response': { answers: ['a'] } });
    assert.deepEqual(parsePollResponse(built.content), { pollEventId: '$poll', answers: ['a'] });
    assert.deepEqual(parsePollResponse({ 'm.relates_to': { rel_type: 'm.reference', event_id: '$p' }, 'm.poll.response': { answers: ['x', 3, 'y'] } }), { pollEventId: '$p', answers: ['x', 'y'] });
    assert.equal(parsePollResponse({ 'm.relates_to': { rel_type: 'm.annotation', event_id: '$p' }, 'org.matrix.msc3381.poll.response': { answers: ['a'] } }), null);
    assert.equal(parsePollResponse({ 'm.relates_to': { rel_type: 'm.reference', event_id: '$p' } }), null);
    assert.equal(parsePollResponse({ 'org.matrix.msc3381.poll.response': { answers: ['a'] } }), null);
  });

  test('end: a reference with the results text and counts, parsed back', () => {
    const built = buildPollEnd('$poll', 'Winner: Pizza', { p: 2, s: 0 });
    assert.equal(built.type, 'org.matrix.msc3381.poll.end');
    assert.deepEqual(built.content, {
      'm.relates_to': { rel_type: 'm.reference', event_id: '$poll' },
      'org.matrix.msc3381.poll.end': {},
      'org.matrix.msc1767.text': 'Winner: Pizza',
      body: 'Winner: Pizza',
      'm.poll.results': { p: 2, s: 0 },
    });
    assert.deepEqual(parsePollEnd(built.content), { pollEventId: '$poll', text: 'Winner: Pizza', results: { p: 2, s: 0 } });
    assert.deepEqual(parsePollEnd(buildPollEnd('$x', 'done').content), { pollEventId: '$x', text: 'done' });
    assert.equal(parsePollEnd({ 'm.relates_to': { rel_type: 'm.reference', event_id: '$x' }, body: 'no end key' }), null);
  });

  test('pollFallbackText numbers the options', () => {
    assert.equal(pollFallbackText('Q?', ['a', { id: 'x', text: 'b' }]), 'Q?\n1. a\n2. b');
  });
});

describe('sdk polls: tally', () => {
  const poll = {
    answers: [
      { id: 'p', text: 'Pizza' },
      { id: 's', text: 'Sushi' },
      { id: 't', text: 'Tacos' },
    ],
    maxSelections: 1,
  };

  test('each user counts once, with their latest vote by origin_server_ts', () => {
    const votes: Record<string, PollVote> = {};
    assert.equal(applyPollVote(votes, poll, '@a:x', ['p'], 100), true);
    assert.equal(applyPollVote(votes, poll, '@b:x', ['s'], 110), true);
    assert.equal(applyPollVote(votes, poll, '@b:x', ['p'], 120), true, 'b changes to pizza');
    // An older vote arriving late (out of order) does not undo the newer one.
    assert.equal(applyPollVote(votes, poll, '@b:x', ['t'], 115), false);
    const tally = tallyPoll(poll, votes);
    assert.deepEqual(tally.counts, { p: 2, s: 0, t: 0 });
    assert.equal(tally.voters, 2);
    assert.deepEqual(tally.winners, [{ id: 'p', text: 'Pizza' }]);
  });

  test('votes after the end are ignored; invalid answer ids are dropped; an all-invalid vote changes nothing', () => {
    const votes: Record<string, PollVote> = {};
    applyPollVote(votes, poll, '@a:x', ['s'], 100, { endedAt: 200 });
    assert.equal(applyPollVote(votes, poll, '@a:x', ['p'], 201, { endedAt: 200 }), false, 'late change');
    assert.equal(applyPollVote(votes, poll, '@c:x', ['t'], 250, { endedAt: 200 }), false, 'late newcomer');
    assert.equal(applyPollVote(votes, poll, '@a:x', ['nope'], 150), false, 'unknown id');
    assert.equal(applyPollVote(votes, poll, '@a:x', [], 160), false, 'empty answer list');
    assert.equal(applyPollVote(votes, poll, '@d:x', ['nope', 't', 'p'], 170), true);
    assert.deepEqual(votes['@d:x'], { answers: ['t'], ts: 170 }, 'invalid dropped, cut to max_selections');
    assert.deepEqual(tallyPoll(poll, votes).counts, { p: 0, s: 1, t: 1 });
  });

  test("rule 'first' keeps a player's first answer (quizzes)", () => {
    const votes: Record<string, PollVote> = {};
    assert.equal(applyPollVote(votes, poll, '@a:x', ['p'], 100, { rule: 'first' }), true);
    assert.equal(applyPollVote(votes, poll, '@a:x', ['s'], 120, { rule: 'first' }), false);
    assert.equal(applyPollVote(votes, poll, '@a:x', ['t'], 90, { rule: 'first' }), true, 'an earlier answer that arrived late wins');
    assert.deepEqual(votes['@a:x'], { answers: ['t'], ts: 90 });
  });

  test('ties and no votes', () => {
    const votes: Record<string, PollVote> = {};
    assert.deepEqual(tallyPoll(poll, votes), { counts: { p: 0, s: 0, t: 0 }, voters: 0, winners: [] });
    applyPollVote(votes, poll, '@a:x', ['p'], 1);
    applyPollVote(votes, poll, '@b:x', ['t'], 2);
    assert.deepEqual(
      tallyPoll(poll, votes).winners.map((w) => w.id),
      ['p', 't'],
    );
    const multi = { answers: poll.answers, maxSelections: 2 };
    const mv: Record<string, PollVote> = {};
    applyPollVote(mv, multi, '@a:x', ['p', 's', 't'], 1);
    assert.deepEqual(tallyPoll(multi, mv).counts, { p: 1, s: 1, t: 0 });
  });
});

describe('polls plugin: command text and results', () => {
  test('parses a poll, close and results', () => {
    assert.deepEqual(parsePollCommand('Lunch?  |  Pizza | Sushi  |', '!'), { kind: 'create', question: 'Lunch?', options: ['Pizza', 'Sushi'] });
    assert.deepEqual(parsePollCommand('close', '!'), { kind: 'close' });
    assert.deepEqual(parsePollCommand('Results', '!'), { kind: 'results' });
  });

  test('bad input gets a clear sentence', () => {
    const error = (text: string, max?: number) => {
      const r = parsePollCommand(text, '!', max);
      assert.equal(r.kind, 'error', text);
      return (r as { message: string }).message;
    };
    assert.match(error(''), /question and options separated by \|/);
    assert.match(error('Lunch? Pizza or sushi'), /Separate the question and the options with \|/);
    assert.match(error(' | a | b'), /needs a question/);
    assert.match(error('Q | only one'), /needs 2 to 20 options; you gave 1/);
    assert.match(error(`Q | ${Array.from({ length: 21 }, (_, i) => `o${i}`).join(' | ')}`), /you gave 21/);
    assert.match(error('Q | a | b | c', 2), /needs 2 to 2 options; you gave 3/);
    assert.match(error('Q | Pizza | pizza'), /listed twice/);
    assert.match(error(`Q | ${'x'.repeat(201)} | b`), /too long/);
  });

  test('result lines: counts per option and the winner or tie', () => {
    const answers = [
      { id: 'p', text: 'Pizza' },
      { id: 's', text: 'Sushi' },
    ];
    assert.deepEqual(resultLines(answers, { counts: { p: 2, s: 1 }, voters: 3, winners: [answers[0]!] }), ['Pizza: 2 votes', 'Sushi: 1 vote', 'Winner: Pizza (2 votes of 3 voters).']);
    assert.equal(resultLines(answers, { counts: { p: 1, s: 1 }, voters: 2, winners: answers }).at(-1), 'Tie: Pizza and Sushi (1 vote each, 2 voters).');
    assert.equal(resultLines(answers, { counts: { p: 0, s: 0 }, voters: 0, winners: [] }).at(-1), 'Nobody voted.');
    assert.equal(describeDuration(1440 * 60_000), '24 h');
    assert.equal(describeDuration(3000), '3 s');
  });
});
