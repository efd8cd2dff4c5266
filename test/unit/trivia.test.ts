import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyPollVote, type PollVote } from '../../src/sdk/index.ts';
import { categoriesOf, categorySlug, decodeEntities, fetchOtdb, filterQuestions, loadBank, parseOtdb, parseTriviaCommand, type OtdbQuestion } from '../../plugins/trivia/otdb.ts';
import { addRound, judge, POINTS, revealText, scoreboardText, showQuestion } from '../../plugins/trivia/game.ts';
import { FakeOpenTdb } from '../fakes/opentdb.ts';

const BANK = join(import.meta.dirname, '../../plugins/trivia/questions.json');

describe('trivia bank', () => {
  const { questions, skipped } = loadBank(BANK);

  test('the shipped bank: at least 60 usable questions, 5+ categories, every difficulty, both types', () => {
    assert.equal(skipped, 0, 'every question in the bank is usable');
    assert.ok(questions.length >= 60, `${questions.length} questions`);
    const categories = categoriesOf(questions);
    assert.ok(categories.length >= 5);
    assert.equal(new Set(categories.map((c) => c.slug)).size, categories.length, 'slugs are unique');
    for (const c of categories) {
      for (const d of ['easy', 'medium', 'hard'] as const) assert.ok(filterQuestions(questions, { category: c, difficulty: d }).length > 0, `${c.slug}/${d}`);
    }
    assert.ok(questions.some((q) => q.type === 'boolean') && questions.some((q) => q.type === 'multiple'));
    assert.ok(
      questions.some((q) => /&(quot|#039|amp|eacute);/.test(q.question + q.correct_answer + q.incorrect_answers.join(''))),
      'texts are entity-encoded like OTDB',
    );
    assert.equal(new Set(questions.map((q) => q.question)).size, questions.length, 'no question twice');
  });

  test('categories get short slugs; OTDB names decode', () => {
    assert.equal(categorySlug('Science &amp; Nature'), 'science');
    assert.equal(categorySlug('Science: Computers'), 'computers');
    assert.equal(categorySlug('General Knowledge'), 'general');
    assert.equal(categorySlug('Entertainment: Japanese Anime &amp; Manga'), 'japanese');
    const names = categoriesOf(questions).map((c) => c.name);
    assert.ok(names.includes('Science & Nature'));
  });

  test('invalid entries are skipped; a file without results is refused', async () => {
    const good = { category: 'History', type: 'boolean', difficulty: 'easy', question: 'Q?', correct_answer: 'True', incorrect_answers: ['False'] };
    const parsed = parseOtdb({
      results: [
        good,
        { ...good, difficulty: 'extreme' },
        { ...good, type: 'open' },
        { ...good, incorrect_answers: [] },
        { ...good, correct_answer: 'Maybe' },
        { ...good, type: 'multiple', correct_answer: 'A', incorrect_answers: ['B', 'a'] },
        null,
      ],
    });
    assert.equal(parsed.questions.length, 1);
    assert.equal(parsed.skipped, 6);
    assert.throws(() => parseOtdb({ response_code: 0 }), /no "results" list/);
    const dir = await mkdtemp(join(tmpdir(), 'trivia-bank-'));
    try {
      await writeFile(join(dir, 'empty.json'), JSON.stringify({ results: [{ ...good, type: 'open' }] }));
      assert.throws(() => loadBank(join(dir, 'empty.json')), /no usable question/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('filtering by category and difficulty', () => {
    const categories = categoriesOf(questions);
    const geography = categories.find((c) => c.slug === 'geography')!;
    const hardGeo = filterQuestions(questions, { category: geography, difficulty: 'hard' });
    assert.ok(hardGeo.length > 0 && hardGeo.every((q) => q.category === 'Geography' && q.difficulty === 'hard'));
    assert.equal(filterQuestions(questions, {}).length, questions.length);
    assert.ok(filterQuestions(questions, { difficulty: 'easy' }).every((q) => q.difficulty === 'easy'));
  });

  test('the command: category (slug or full name) and difficulty in any order, scores, and clear errors', () => {
    const categories = categoriesOf(questions);
    const science = categories.find((c) => c.slug === 'science');
    assert.deepEqual(parseTriviaCommand('', categories), { kind: 'ask', difficulty: undefined });
    assert.deepEqual(parseTriviaCommand('hard', categories), { kind: 'ask', difficulty: 'hard' });
    assert.deepEqual(parseTriviaCommand('Science medium', categories), { kind: 'ask', category: science, difficulty: 'medium' });
    assert.deepEqual(parseTriviaCommand('medium science & nature', categories), { kind: 'ask', category: science, difficulty: 'medium' });
    assert.deepEqual(parseTriviaCommand('scores', categories), { kind: 'scores' });
    const unknown = parseTriviaCommand('cooking easy', categories);
    assert.equal(unknown.kind, 'error');
    assert.match((unknown as { message: string }).message, /^Unknown category "cooking"\. Categories: .*computers.*geography.*\. Difficulties: easy, medium, hard\.$/);
    const badDifficulty = parseTriviaCommand('history impossible', categories);
    assert.equal((badDifficulty as { message: string }).message, 'Unknown difficulty "impossible". Difficulties: easy, medium, hard.');
  });
});

describe('trivia entity decoding', () => {
  test('decodes OTDB entities: named, decimal, hex; in one pass; unknown ones stay', () => {
    assert.equal(decodeEntities('Who &quot;sat on a wall&quot;?'), 'Who "sat on a wall"?');
    assert.equal(decodeEntities('Thirty Years&#039; War'), "Thirty Years' War");
    assert.equal(decodeEntities('Montr&eacute;al &amp; Qu&eacute;bec'), 'Montréal & Québec');
    assert.equal(decodeEntities('&lt;blink&gt; &#x27;x&#X27; &ldquo;y&rdquo; &hellip;'), "<blink> 'x' “y” …");
    assert.equal(decodeEntities('&amp;quot;'), '&quot;', 'decoded once, not twice');
    assert.equal(decodeEntities('&notanentity; & &#0; &#xD800;'), '&notanentity; & &#0; &#xD800;');
    assert.equal(decodeEntities('Pok&eacute;mon &Uuml;ber 100&deg;'), 'Pokémon Über 100°');
  });

  test('showQuestion decodes everything shown and keeps track of the right answer through the shuffle', () => {
    const q: OtdbQuestion = {
      category: 'Science &amp; Nature',
      type: 'multiple',
      difficulty: 'hard',
      question: 'Which is &quot;right&quot;?',
      correct_answer: 'Caf&eacute;',
      incorrect_answers: ['A', 'B', 'C'],
    };
    for (const seed of [0, 0.3, 0.6, 0.99]) {
      const shown = showQuestion(q, () => seed);
      assert.equal(shown.question, 'Which is "right"?');
      assert.equal(shown.category, 'Science & Nature');
      assert.equal(shown.answers[shown.correctIndex], 'Café');
      assert.deepEqual([...shown.answers].sort(), ['A', 'B', 'C', 'Café']);
    }
    const tf = showQuestion({ ...q, type: 'boolean', correct_answer: 'False', incorrect_answers: ['True'] });
    assert.deepEqual(tf.answers, ['True', 'False']);
    assert.equal(tf.correctIndex, 1);
  });
});

describe('trivia scoring', () => {
  const poll = {
    answers: [
      { id: 'r', text: 'Right' },
      { id: 'w', text: 'Wrong' },
    ],
  };

  test("only a player's first answer counts", () => {
    const votes: Record<string, PollVote> = {};
    applyPollVote(votes, poll, '@alice:x', ['r'], 100, { rule: 'first', endedAt: 1000 });
    applyPollVote(votes, poll, '@alice:x', ['w'], 200, { rule: 'first', endedAt: 1000 }); // second answer: ignored
    applyPollVote(votes, poll, '@bob:x', ['w'], 150, { rule: 'first', endedAt: 1000 });
    applyPollVote(votes, poll, '@bob:x', ['r'], 300, { rule: 'first', endedAt: 1000 }); // bob's fix comes too late
    applyPollVote(votes, poll, '@carol:x', ['r'], 1001, { rule: 'first', endedAt: 1000 }); // after the reveal
    assert.deepEqual(judge(votes, 'r'), { right: ['@alice:x'], wrong: ['@bob:x'] });
  });

  test('points by difficulty, rounds counted, scoreboard ranked', () => {
    let board = addRound({}, { right: ['@alice:x'], wrong: ['@bob:x'] }, 'hard');
    board = addRound(board, { right: ['@bob:x', '@carol:x'], wrong: [] }, 'easy');
    board = addRound(board, { right: [], wrong: ['@carol:x'] }, 'medium');
    assert.deepEqual(board, {
      '@alice:x': { points: POINTS.hard, correct: 1, answered: 1 },
      '@bob:x': { points: POINTS.easy, correct: 1, answered: 2 },
      '@carol:x': { points: POINTS.easy, correct: 1, answered: 2 },
    });
    assert.equal(scoreboardText(board, 10), 'Trivia scores:\n1. @alice:x: 3 points (1 of 1 right)\n2. @bob:x: 1 point (1 of 2 right)\n3. @carol:x: 1 point (1 of 2 right)');
    assert.equal(scoreboardText(board, 1).split('\n').length, 2);
    assert.equal(scoreboardText({}, 10), 'No trivia scores in this room yet.');
  });

  test('the reveal names the answer and who was right or wrong', () => {
    const shown = { answers: ['Paris', 'Lyon'], correctIndex: 0, difficulty: 'medium' as const };
    assert.equal(revealText(shown, { right: ['@a:x'], wrong: ['@b:x', '@c:x'] }), 'The answer was: Paris.\nRight (+2 points): @a:x\nWrong: @b:x, @c:x');
    assert.equal(revealText(shown, { right: [], wrong: ['@b:x'] }), 'The answer was: Paris.\nRight: nobody\nWrong: @b:x');
    assert.equal(revealText(shown, { right: [], wrong: [] }), 'The answer was: Paris.\nNobody answered.');
  });
});

describe('trivia HTTP source (OTDB format, loopback server)', () => {
  let otdb: FakeOpenTdb;
  const remote: OtdbQuestion = {
    category: 'Geography',
    type: 'multiple',
    difficulty: 'easy',
    question: 'Which city is called &quot;the Big Apple&quot;?',
    correct_answer: 'New York',
    incorrect_answers: ['Boston', 'Chicago', 'Seattle'],
  };
  before(async () => {
    otdb = await FakeOpenTdb.start([remote, { ...remote, difficulty: 'hard', question: 'Hard one?' }]);
  });
  after(async () => {
    await otdb.stop();
  });

  test('asks with OTDB parameters and returns the matching questions', async () => {
    const { questions } = loadBank(BANK);
    const geography = categoriesOf(questions).find((c) => c.slug === 'geography')!;
    const got = await fetchOtdb(`${otdb.url}/api.php?amount=1`, { category: geography, difficulty: 'easy' }, 2000);
    assert.deepEqual(got, [remote]);
    const asked = otdb.requests.at(-1)!;
    assert.equal(asked.searchParams.get('category'), '22');
    assert.equal(asked.searchParams.get('difficulty'), 'easy');
    assert.equal(asked.searchParams.get('amount'), '1');
  });

  test('fails with a reason: response codes, HTTP errors, unreachable', async () => {
    await assert.rejects(fetchOtdb(`${otdb.url}/api.php?amount=5`, {}, 2000), /response_code 1 \(no results for the query\)/);
    otdb.failWith = 503;
    await assert.rejects(fetchOtdb(`${otdb.url}/api.php?amount=1`, {}, 2000), /answered HTTP 503/);
    otdb.failWith = null;
    await assert.rejects(fetchOtdb('http://127.0.0.1:1/api.php', {}, 2000), /did not answer/);
  });
});
