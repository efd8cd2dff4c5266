/**
 * POST /auth/login and /auth/logout on a bare Fastify app with the real
 * route code, a counting password check and a throttle on a test clock.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Fastify from 'fastify';
import { registerAuthRoutes, INITIAL_PASSWORD_FILE } from '../../src/api/routes/auth.ts';
import { LoginThrottle } from '../../src/api/login-throttle.ts';
import { SessionTokens } from '../../src/api/session-tokens.ts';
import type { ApiDeps } from '../../src/api/deps.ts';
import { useZodSchemas } from '../../src/api/typed-routes.ts';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const PASSWORD = 'the right password';
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function setup() {
  const dataDir = mkdtempSync(join(tmpdir(), 'trellis-login-'));
  dirs.push(dataDir);
  const clock = { now: 5_000_000 };
  const verified: Array<{ hash: string; password: string }> = [];
  const logged: string[] = [];
  const log = { info: (m: string) => logged.push(`info ${m}`), warn: (m: string) => logged.push(`warn ${m}`) };
  const tokens = new SessionTokens({ secret: 'x'.repeat(40), ttlSeconds: 3600, subject: 'admin' });
  const deps = { config: () => ({ admin: { username: 'admin', password_hash: HASH }, data_dir: dataDir }), log, tokens } as unknown as ApiDeps;
  const app = Fastify();
  // The routes' schemas are zod's, as in server.ts.
  useZodSchemas(app);
  // What server.ts's auth hook does, reduced to what these routes need.
  app.addHook('onRequest', async (req) => {
    const token = req.headers.authorization?.slice(7);
    const owner = token ? await tokens.authenticate(token) : null;
    if (token && owner) {
      req.username = owner.username;
      req.auth = { ...owner, token };
    }
  });
  registerAuthRoutes(app, deps, {
    throttle: new LoginThrottle({ maxFailuresPerAddress: 3, windowMs: 60_000, freeFailuresPerUsername: 100, now: () => clock.now }),
    verify: async (hash, password) => {
      verified.push({ hash, password });
      return password === PASSWORD;
    },
  });
  const login = (username: string, password: string) => app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } });
  return { app, dataDir, clock, verified, logged, tokens, login };
}

describe('POST /auth/login', () => {
  test('an unknown username costs the same password check as a wrong password', async () => {
    const { login, verified } = await setup();
    const unknown = await login('nobody', 'whatever');
    assert.equal(unknown.statusCode, 401);
    assert.deepEqual(verified, [{ hash: HASH, password: 'whatever' }], 'the hash was checked although the username is wrong');
    const wrongPassword = await login('admin', 'wrong');
    assert.equal(wrongPassword.statusCode, 401);
    assert.equal(wrongPassword.body, unknown.body, 'the same answer');
    assert.equal(verified.length, 2);
  });

  test('the right password under another username is refused', async () => {
    const { login } = await setup();
    assert.equal((await login('root', PASSWORD)).statusCode, 401);
    assert.equal((await login('admin', PASSWORD)).statusCode, 200);
  });

  test('failures from one address get a 429 with Retry-After, without checking the password', async () => {
    const { login, verified, clock } = await setup();
    for (let i = 0; i < 3; i++) assert.equal((await login('admin', `guess ${i}`)).statusCode, 401);
    const refused = await login('admin', PASSWORD);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['retry-after'], '60');
    assert.deepEqual(JSON.parse(refused.body), { errcode: 'rate_limited', error: 'too many failed logins from this address; try again in 60 s', problems: [] });
    assert.equal(verified.length, 3, 'a refused attempt is not checked');
    clock.now += 60_000;
    assert.equal((await login('admin', PASSWORD)).statusCode, 200);
  });

  test('successful logins never count towards the limit', async () => {
    const { login } = await setup();
    for (let i = 0; i < 10; i++) assert.equal((await login('admin', PASSWORD)).statusCode, 200);
  });

  test('a malformed body is a 400 and checks nothing', async () => {
    const { app, verified } = await setup();
    for (const payload of [{}, { username: 'admin' }, { username: 'admin', password: 'x'.repeat(2000) }]) {
      const res = await app.inject({ method: 'POST', url: '/auth/login', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
    }
    assert.equal(verified.length, 0);
  });

  test('the first successful login removes the first-run password file and says so', async () => {
    const { login, dataDir, logged } = await setup();
    const file = join(dataDir, INITIAL_PASSWORD_FILE);
    writeFileSync(file, 'generated\n', { mode: 0o600 });
    assert.equal((await login('admin', 'wrong')).statusCode, 401);
    assert.ok(existsSync(file), 'a failed login leaves it');
    assert.equal((await login('admin', PASSWORD)).statusCode, 200);
    assert.ok(!existsSync(file));
    assert.ok(
      logged.some((l) => l.startsWith('info ') && l.includes(file)),
      logged.join('\n'),
    );
    assert.equal((await login('admin', PASSWORD)).statusCode, 200, 'later logins do not mind that it is gone');
  });
});

describe('POST /auth/logout', () => {
  test('revokes the token of the request only', async () => {
    const { app, login, tokens } = await setup();
    const a = JSON.parse((await login('admin', PASSWORD)).body).token as string;
    const b = JSON.parse((await login('admin', PASSWORD)).body).token as string;
    const out = await app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: `Bearer ${a}` } });
    assert.equal(out.statusCode, 204);
    assert.equal(tokens.verify(a), null);
    assert.equal(tokens.verify(b), 'admin');
  });
});
