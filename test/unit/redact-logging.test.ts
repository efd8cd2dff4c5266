import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { LogHub, wrapLogger, type LogEntry } from '../../src/core/logging.ts';
import { REDACTED, forgetSecret, redactText, registerSecret } from '../../src/core/redact.ts';

// The secret registry is process-wide: every test forgets what it registered.
const registered: string[] = [];
function secret(value: string): string {
  registerSecret(value);
  registered.push(value);
  return value;
}
afterEach(() => {
  for (const value of registered.splice(0)) forgetSecret(value);
});

function capture(level?: string) {
  const lines: string[] = [];
  const hub = new LogHub({ write: (line) => lines.push(line), ...(level ? { level } : {}) });
  const entries: LogEntry[] = [];
  hub.subscribe((e) => entries.push(e));
  return { hub, lines, entries, log: wrapLogger(hub.root), parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('redactText', () => {
  test('registered secrets are replaced wherever they occur', () => {
    const s = secret('hunter2-very-secret');
    assert.equal(redactText(`a ${s} b ${s}`), `a ${REDACTED} b ${REDACTED}`);
    assert.equal(redactText(`prefix${s}suffix`), `prefix${REDACTED}suffix`);
  });

  test('values shorter than 6 characters are not registered', () => {
    registerSecret('abc12');
    registered.push('abc12');
    assert.equal(redactText('abc12 is an ordinary word'), 'abc12 is an ordinary word');
    registerSecret('');
    registerSecret(null);
    registerSecret(undefined);
    assert.equal(redactText('nothing to hide'), 'nothing to hide');
  });

  test('a forgotten secret is no longer scrubbed', () => {
    const s = secret('rotated-away-secret');
    assert.equal(redactText(s), REDACTED);
    forgetSecret(s);
    assert.equal(redactText(s), s);
  });

  test('a secret that contains another registered secret is scrubbed whole', () => {
    // Registered short-first on purpose: scrubbing the short one first would leave the long one's tail.
    secret('abcdef');
    secret('abcdefghijkl-tail');
    assert.equal(redactText('x abcdefghijkl-tail y abcdef z'), `x ${REDACTED} y ${REDACTED} z`);
  });

  test('Synapse and MAS access tokens are scrubbed even when never registered', () => {
    assert.equal(redactText('token syt_Ym90_AbCdEfGhIjKlMnOpQrSt_0a1B2c rejected'), `token ${REDACTED} rejected`);
    assert.equal(redactText('mct_abcDEF123_xyz9'), REDACTED);
    assert.equal(redactText('slack xoxb-123-456-abc and xapp-1-A0-9f'), `slack ${REDACTED} and ${REDACTED}`);
  });

  test('Bearer credentials and access_token parameters are scrubbed', () => {
    assert.equal(redactText('Authorization: Bearer abc.DEF-123_~+/='), `Authorization: Bearer ${REDACTED}`);
    assert.equal(redactText('GET /_matrix/client/v3/sync?access_token=s3cr3tvalue&timeout=30000'), `GET /_matrix/client/v3/sync?access_token=${REDACTED}&timeout=30000`);
    assert.equal(redactText('{"access_token":"tok12345","user_id":"@a:b"}'), `{"access_token":"${REDACTED}","user_id":"@a:b"}`);
    assert.equal(redactText(`password = 'pw-in-text'`), `password = '${REDACTED}'`);
    assert.equal(redactText('shared_secret: shh-its-secret'), `shared_secret: ${REDACTED}`);
  });

  test('ordinary text is left alone', () => {
    const text = 'user @alice:example.org sent !ping in !room (took 42 ms)';
    assert.equal(redactText(text), text);
  });
});

describe('LogHub', () => {
  test('emits one JSON line per log call with the level label, time and message', () => {
    const { lines, parsed, log } = capture();
    log.info('hello', { answer: 42 });
    log.warn('careful');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.ok(line.endsWith('\n'));
      assert.equal(line.indexOf('\n'), line.length - 1, 'exactly one line per call');
    }
    const [info, warn] = parsed();
    assert.equal(info.level, 'info');
    assert.equal(info.msg, 'hello');
    assert.equal(info.answer, 42);
    assert.equal(typeof info.time, 'number');
    assert.equal(warn.level, 'warn');
  });

  test('levels below the configured level are not emitted', () => {
    const quiet = capture();
    quiet.log.debug('hidden');
    assert.equal(quiet.lines.length, 0);
    assert.equal(quiet.entries.length, 0);

    const verbose = capture('debug');
    verbose.log.debug('shown');
    assert.equal(verbose.parsed()[0].level, 'debug');
  });

  test('the critical level works and reaches listeners as critical', () => {
    const { parsed, entries, log, hub } = capture();
    log.critical('disk full');
    hub.root.critical('direct');
    assert.deepEqual(
      parsed().map((p) => p.level),
      ['critical', 'critical'],
    );
    assert.deepEqual(
      entries.map((e) => [e.level, e.message]),
      [
        ['critical', 'disk full'],
        ['critical', 'direct'],
      ],
    );
  });

  test('instance and client bindings map to instanceId/clientId; other fields become context', () => {
    const { entries, log } = capture();
    log.child({ instance: 'ping-1', client: '@bot:example.org' }).error('handler threw', { roomId: '!r', err: new Error('boom') });
    log.info('plain');
    const [bound, plain] = entries;
    assert.equal(bound.instanceId, 'ping-1');
    assert.equal(bound.clientId, '@bot:example.org');
    assert.equal(bound.level, 'error');
    assert.equal(bound.message, 'handler threw');
    assert.equal(bound.context?.roomId, '!r');
    assert.equal((bound.context?.err as { message?: string } | undefined)?.message, 'boom');
    for (const reserved of ['instance', 'client', 'level', 'time', 'msg']) assert.equal(bound.context && reserved in bound.context, false, reserved);
    assert.equal(typeof bound.time, 'number');
    assert.equal(plain.instanceId, null);
    assert.equal(plain.clientId, null);
    assert.equal(plain.context, null);
  });

  test('registered secrets are scrubbed from the message and nested context, in the line and for listeners', () => {
    const token = secret('syt-not-a-pattern-but-registered-0001');
    const password = secret('pa"ss\\word-with-json-escapes');
    const { lines, entries, log } = capture();
    log.child({ instance: 'i1' }).error(`login with ${token} failed`, {
      request: { headers: { 'x-custom': `token ${token}` }, list: [1, { deep: token }] },
      err: new Error(`bad password ${password}`),
    });
    const line = lines.join('');
    assert.ok(!line.includes(token), line);
    assert.ok(!line.includes('pa\\"ss'), line);
    assert.ok(!line.includes('word-with-json-escapes'), line);
    const parsed = JSON.parse(line) as { msg: string; request: { headers: Record<string, string>; list: [number, { deep: string }] }; err: { message: string } };
    assert.equal(parsed.msg, `login with ${REDACTED} failed`);
    assert.equal(parsed.request.headers['x-custom'], `token ${REDACTED}`);
    assert.equal(parsed.request.list[1].deep, REDACTED);
    assert.equal(parsed.err.message, `bad password ${REDACTED}`);
    assert.equal(entries[0].message, `login with ${REDACTED} failed`);
    assert.ok(!JSON.stringify(entries[0]).includes(token));
  });

  test('token patterns and secret-named keys are scrubbed without registration', () => {
    const { lines, log } = capture();
    log.warn('sync failed for syt_Ym90_AbCdEfGhIjKlMnOpQrSt_0a1B2c', {
      url: 'https://hs.example/_matrix/client/v3/sync?access_token=querytoken123&since=s1',
      headers: { authorization: 'Bearer header-token-value' },
      access_token: 'top-level-token',
      nested: { deeper: { access_token: 'deep-token-value', password: 'deep-password' } },
    });
    const line = lines.join('');
    for (const leaked of ['AbCdEfGhIjKlMnOpQrSt', 'querytoken123', 'header-token-value', 'top-level-token', 'deep-token-value', 'deep-password']) {
      assert.ok(!line.includes(leaked), `${leaked} leaked: ${line}`);
    }
    assert.ok(line.includes('since=s1'), 'non-secret parts of the URL stay');
  });

  test('a throwing listener does not break logging or other listeners', () => {
    const lines: string[] = [];
    const hub = new LogHub({ write: (l) => lines.push(l) });
    const seen: string[] = [];
    hub.subscribe(() => {
      throw new Error('listener bug');
    });
    hub.subscribe((e) => seen.push(e.message));
    const log = wrapLogger(hub.root);
    assert.doesNotThrow(() => log.error('first'));
    log.info('second');
    assert.equal(lines.length, 2);
    assert.deepEqual(seen, ['first', 'second']);
  });

  test('unsubscribe stops delivery', () => {
    const hub = new LogHub({ write: () => {} });
    const seen: string[] = [];
    const off = hub.subscribe((e) => seen.push(e.message));
    hub.root.info('one');
    off();
    hub.root.info('two');
    assert.deepEqual(seen, ['one']);
  });
});
