/**
 * Webhook transformation functions (plugins/webhooks/transform.ts): hookshot's
 * script API run in real QuickJS inside real worker threads, with its limits.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type TransformOutcome, type TransformResult, TransformRunner } from '../../plugins/webhooks/transform.ts';

/** The result of a run that must succeed, or the failure's message in the assertion error. */
function ok(outcome: TransformOutcome): TransformResult {
  if (!outcome.ok) assert.fail(`expected the transform to succeed, got: ${outcome.error}`);
  return outcome.result;
}

/** The error of a run that must fail. */
function failed(outcome: TransformOutcome): string {
  if (outcome.ok) assert.fail(`expected the transform to fail, got: ${JSON.stringify(outcome.result)}`);
  return outcome.error;
}

const QUESTION = { question: 'What is the meaning of life?', answer: 42 };

describe('webhook transforms: hookshot script API', () => {
  const runner = new TransformRunner();
  after(() => runner.close());

  test('v1: a string result is posted as "Received webhook: …" (no html, so the caller renders it as Markdown)', async () => {
    const result = ok(await runner.run("result = `The answer to '${data.question}' is ${data.answer}`;", QUESTION));
    assert.deepEqual(result, { plain: "Received webhook: The answer to 'What is the meaning of life?' is 42", empty: false });
  });

  test('v1: a result that is neither a string nor an object (or not set at all) is "No content", as in hookshot', async () => {
    assert.deepEqual(ok(await runner.run('result = 42', {})), { plain: 'No content', empty: false });
    assert.deepEqual(ok(await runner.run('const x = 1;', {})), { plain: 'No content', empty: false });
  });

  test('an object without version: "v2" fails, naming the version (hookshot has no v1 object form)', async () => {
    const error = failed(await runner.run("result = { plain: 'hello' }", {}));
    assert.match(error, /version: 'v2'/);
    assert.match(failed(await runner.run("result = { version: 'v1', plain: 'hello' }", {})), /got version "v1"/);
  });

  test('v2: plain, html, msgtype, mentions (unknown keys dropped) and hints', async () => {
    const code = `result = {
      version: 'v2',
      plain: 'Deploy of ' + data.service + ' failed',
      html: '<b>Deploy of ' + data.service + ' failed</b>',
      msgtype: 'm.text',
      mentions: { room: true, user_ids: ['@oncall:example.org'], ignored_data: true },
      hints: { showUrlPreviews: false },
    };`;
    assert.deepEqual(ok(await runner.run(code, { service: 'api' })), {
      plain: 'Deploy of api failed',
      html: '<b>Deploy of api failed</b>',
      msgtype: 'm.text',
      empty: false,
      mentions: { room: true, user_ids: ['@oncall:example.org'] },
      hints: { showUrlPreviews: false },
    });
  });

  test('v2: the optional fields stay absent when the script leaves them out', async () => {
    assert.deepEqual(ok(await runner.run("result = { version: 'v2', plain: 'hi' }", {})), { plain: 'hi', empty: false });
  });

  test('v2: empty: true posts nothing and needs no plain; its webhookResponse is kept', async () => {
    assert.deepEqual(ok(await runner.run("result = { version: 'v2', empty: true }", {})), { plain: '', empty: true });
    const code = "result = { version: 'v2', empty: true, webhookResponse: { body: '{\"accepted\":true}', contentType: 'application/json', statusCode: 202 } }";
    assert.deepEqual(ok(await runner.run(code, {})), {
      plain: '',
      empty: true,
      webhookResponse: { body: '{"accepted":true}', contentType: 'application/json', statusCode: 202 },
    });
  });

  test('v2: webhookResponse alongside a message', async () => {
    const result = ok(await runner.run("result = { version: 'v2', plain: 'ok', webhookResponse: { body: 'thanks' } }", {}));
    assert.deepEqual(result, { plain: 'ok', empty: false, webhookResponse: { body: 'thanks' } });
  });

  test('a top-level return works: `result = …; return;` (hookshot) and `return {…}` without result', async () => {
    const withResult = "result = {plain: `The answer to '${data.question}' is ${data.answer}`, version: 'v2'}; return;";
    assert.equal(ok(await runner.run(withResult, QUESTION)).plain, "The answer to 'What is the meaning of life?' is 42");
    const early = "if (!data.alert) return { version: 'v2', empty: true };\nreturn { version: 'v2', plain: 'alert: ' + data.alert };";
    assert.deepEqual(ok(await runner.run(early, {})), { plain: '', empty: true });
    assert.equal(ok(await runner.run(early, { alert: 'disk full' })).plain, 'alert: disk full');
    assert.equal(ok(await runner.run("return 'returned string'", {})).plain, 'Received webhook: returned string', 'a returned string is a v1 result');
  });

  test('a set result wins over a returned value (hookshot reads only result)', async () => {
    const result = ok(await runner.run("result = { version: 'v2', plain: 'from result' }; return { version: 'v2', plain: 'from return' };", {}));
    assert.equal(result.plain, 'from result');
  });

  test('data is the parsed payload: nested objects, arrays, floats, unicode; HookshotApiVersion is v2', async () => {
    const payload = { alerts: [{ labels: { severity: 'critical', instance: 'db-1' }, values: [1.5, 2.25] }, { labels: { severity: 'info' } }], note: 'héllo ✓ \u2028' };
    const code = `
      const critical = data.alerts.filter((a) => a.labels.severity === 'critical');
      result = {
        version: HookshotApiVersion,
        plain: critical.map((a) => a.labels.instance + ' ' + a.values.reduce((s, v) => s + v, 0)).join(', ') + ' / ' + data.alerts.length + ' / ' + data.note,
      };`;
    assert.equal(ok(await runner.run(code, payload)).plain, 'db-1 3.75 / 2 / héllo ✓ \u2028');
    assert.equal(ok(await runner.run('result = typeof data + ":" + data', 'plain text body')).plain, 'Received webhook: string:plain text body');
    assert.equal(ok(await runner.run('result = String(data)', null)).plain, 'Received webhook: null');
  });

  test('each run starts from a fresh context: globals set by one run are gone in the next', async () => {
    await runner.run("globalThis.leak = 'x'; result = 'first'", {});
    assert.equal(ok(await runner.run('result = typeof leak', {})).plain, 'Received webhook: undefined');
  });

  test('a payload that is not JSON fails the run, without throwing', async () => {
    assert.match(failed(await runner.run("result = 'x'", { n: 10n })), /payload cannot be given to the transform/);
  });
});

describe('webhook transforms: errors a room can act on', () => {
  // A generous time limit: on a loaded machine the allocation loop below must still reach the memory limit first.
  const runner = new TransformRunner({ timeoutMs: 10_000 });
  after(() => runner.close());

  test('check() compiles without running: null for a good script, the SyntaxError with its line otherwise', async () => {
    assert.equal(await runner.check("result = { version: 'v2', plain: data.text }; return;"), null);
    assert.equal(await runner.check('while (true) {}'), null, 'compiling does not run the script');
    assert.equal(await runner.check('bibble bobble'), "SyntaxError: expecting ';' at line 1, column 8");
    assert.equal(await runner.check('const a = 1;\nconst b = ;\n'), "SyntaxError: unexpected token in expression: ';' at line 2, column 11");
    assert.match((await runner.check('if (data.x) {\n  result = "x";\n')) ?? '', /^SyntaxError: the script ends too early/);
  });

  test('run() gives the same SyntaxError for a script that does not compile', async () => {
    assert.equal(failed(await runner.run('bibble bobble', {})), "SyntaxError: expecting ';' at line 1, column 8");
  });

  test('a runtime error names the error and its line', async () => {
    assert.equal(failed(await runner.run('const a = data.missing;\nresult = a.field;', {})), "TypeError: cannot read property 'field' of undefined at line 2, column 11");
    assert.match(failed(await runner.run("const x = 1;\nthrow new Error('bad payload')", {})), /^Error: bad payload at line 2, column \d+$/);
    assert.equal(failed(await runner.run("throw 'just a string'", {})), 'the transform threw: just a string');
  });

  test('an invalid result fails with a message naming the field', async () => {
    const cases: [string, RegExp][] = [
      ["result = { version: 'v2', plain: 'x', msgtype: 'm.bogus' }", /msgtype must be one of m\.notice, m\.text, m\.emote \(got "m\.bogus"\)/],
      ["result = { version: 'v2', plain: 42 }", /plain must be a string .*got number 42/],
      ["result = { version: 'v2' }", /plain must be a string/],
      ["result = { version: 'v2', plain: 'x', html: 5 }", /html must be a string/],
      ["result = { version: 'v2', plain: 'x', mentions: { user_ids: ['@a:b', 7] } }", /mentions\.user_ids must be an array of strings/],
      ["result = { version: 'v2', plain: 'x', mentions: { room: 'yes' } }", /mentions\.room must be true or false/],
      ["result = { version: 'v2', plain: 'x', webhookResponse: { status: 200 } }", /webhookResponse\.body must be a string/],
      ["result = { version: 'v2', plain: 'x', webhookResponse: { body: '', statusCode: 99 } }", /webhookResponse\.statusCode must be an integer from 200 to 599/],
      ["result = { version: 'v2', plain: 'x', webhookResponse: { body: '', statusCode: 200.5 } }", /webhookResponse\.statusCode/],
      ["result = { version: 'v2', plain: 'x', webhookResponse: { body: '', contentType: 1 } }", /webhookResponse\.contentType must be a string/],
      ["result = { version: 'v2', plain: 'x', hints: { showUrlPreviews: 'no' } }", /hints\.showUrlPreviews must be true or false/],
      ['result = null', /result is null/],
      ["result = ['a']", /result is an array/],
    ];
    for (const [code, expected] of cases) assert.match(failed(await runner.run(code, {})), expected, code);
  });

  test('allocating without end fails with "out of memory" and the limit; the runner still works afterwards', async () => {
    assert.equal(failed(await runner.run('const a = [];\nfor (;;) a.push({ n: a.length });', {})), 'out of memory (limit 16 MiB)');
    assert.equal(failed(await runner.run('result = new ArrayBuffer(64 * 1024 * 1024);', {})), 'out of memory (limit 16 MiB)');
    assert.equal(ok(await runner.run("result = 'after'", {})).plain, 'Received webhook: after');
  });

  test('deep recursion fails with a clean stack overflow; the runner still works afterwards', async () => {
    assert.match(failed(await runner.run('function f(n) { return f(n + 1) + 1; }\nf(0);', {})), /^stack overflow \(recursion too deep\) at line 1/);
    // Through native frames (Array.prototype.map, getters, JSON.parse revivers) as well.
    assert.match(failed(await runner.run('function f() { return [1].map(f); }\nf();', {})), /^stack overflow/);
    assert.match(failed(await runner.run('const o = { get x() { return o.x; } };\no.x;', {})), /^stack overflow/);
    assert.match(failed(await runner.run('function f() { return JSON.parse("[1]", f); }\nf();', {})), /^stack overflow/);
    assert.equal(ok(await runner.run('function depth(n) { return n === 0 ? 0 : depth(n - 1) + 1; }\nresult = String(depth(500));', {})).plain, 'Received webhook: 500');
  });
});

describe('webhook transforms: time limits and the worker pool', () => {
  test('a script that loops forever is interrupted, while another run on the pool completes and the event loop keeps ticking', async () => {
    // A time limit long enough that, even on a loaded machine, the quick run finishes first.
    const runner = new TransformRunner({ timeoutMs: 1000 }, { workers: 2 });
    try {
      // Both workers started, so the quick run below does not wait for one to boot.
      await Promise.all([runner.run("result = 'warm'", {}), runner.run("result = 'warm'", {})]);
      let ticks = 0;
      const interval = setInterval(() => ticks++, 5);
      const order: string[] = [];
      const looping = runner.run('while (true) {}', {}).then((outcome) => (order.push('loop'), outcome));
      const quick = runner.run("result = { version: 'v2', plain: 'meanwhile' }", {}).then((outcome) => (order.push('quick'), outcome));
      const [loopOutcome, quickOutcome] = await Promise.all([looping, quick]);
      clearInterval(interval);
      assert.equal(failed(loopOutcome), 'interrupted: ran longer than 1000 ms');
      assert.equal(ok(quickOutcome).plain, 'meanwhile');
      assert.deepEqual(order, ['quick', 'loop'], 'the quick run did not wait for the looping one');
      assert.ok(ticks > 0, 'timers on the main thread ran while the script looped');
    } finally {
      await runner.close();
    }
  });

  test('a script that evades QuickJS’s interrupt is stopped by terminating its worker; the queued run goes to a new worker', async () => {
    // One iteration builds a 1 MB string: QuickJS polls its interrupt only every ~10,000 operations, which here is tens of seconds.
    const runner = new TransformRunner({ timeoutMs: 200 }, { workers: 1 });
    try {
      let ticks = 0;
      const interval = setInterval(() => ticks++, 5);
      const evading = runner.run("for (;;) 'x'.repeat(1000000).length;", {});
      const queued = runner.run("result = 'after the stop'", {});
      assert.equal(failed(await evading), 'the transform ran longer than 200 ms and was stopped');
      assert.equal(ok(await queued).plain, 'Received webhook: after the stop');
      clearInterval(interval);
      assert.ok(ticks > 0, 'timers on the main thread ran while the worker was stuck');
      assert.equal(ok(await runner.run("result = 'still working'", {})).plain, 'Received webhook: still working');
    } finally {
      await runner.close();
    }
  });

  test('close(): the run in hand and a queued run fail, a queued check rejects, later run() and check() reject', async () => {
    const runner = new TransformRunner({ timeoutMs: 5000 }, { workers: 1 });
    await runner.run("result = 'warm'", {});
    const inHand = runner.run('while (true) {}', {});
    const queuedRun = runner.run("result = 'x'", {});
    // Awaited below, after the runs: asserting now keeps the rejection handled when it happens.
    const queuedCheck = assert.rejects(runner.check("result = 'x'"), /closed/);
    await runner.close();
    assert.deepEqual(await inHand, { ok: false, error: 'the webhook transform runner is closed' });
    assert.deepEqual(await queuedRun, { ok: false, error: 'the webhook transform runner is closed' });
    await queuedCheck;
    await assert.rejects(runner.run("result = 'x'", {}), /closed/);
    await assert.rejects(runner.check("result = 'x'"), /closed/);
    await runner.close();
  });

  test('runs beyond maxQueue fail at once instead of waiting', async () => {
    const runner = new TransformRunner({}, { workers: 1, maxQueue: 2 });
    try {
      const runs = Array.from({ length: 4 }, (_, i) => runner.run(`result = 'run ${i}'`, {}));
      const outcomes = await Promise.all(runs);
      assert.deepEqual(
        outcomes.map((o) => o.ok),
        [true, true, false, false],
      );
      assert.match(failed(outcomes[3]), /too many webhook transforms are waiting/);
    } finally {
      await runner.close();
    }
  });
});
