/**
 * Named API tokens (src/api/api-tokens.ts) on the real storage: stored as a
 * hash, checked, revoked; a second process on the same database (what
 * `trellis token create|revoke` is while the daemon runs) is seen at once;
 * and SessionTokens accepting them next to session tokens.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import { API_TOKEN_PREFIX, ApiTokens, TokenNameError, hashApiToken } from '../../src/api/api-tokens.ts';
import { SessionTokens } from '../../src/api/session-tokens.ts';
import { redactText } from '../../src/core/redact.ts';

const dirs: string[] = [];
const open: Storage[] = [];
after(async () => {
  for (const s of open) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function storage(path = ':memory:'): Promise<Storage> {
  const s = await openStorage({ type: 'sqlite', path });
  open.push(s);
  return s;
}

describe('named API tokens', () => {
  test('a new token is shown once and stored only as its hash', async () => {
    const s = await storage();
    const tokens = new ApiTokens(s.apiTokens);
    const created = await tokens.create('ci', 1_000);
    assert.ok(created.token.startsWith(API_TOKEN_PREFIX));
    assert.match(created.token.slice(API_TOKEN_PREFIX.length), /^[A-Za-z0-9_-]{43}$/);
    const rows = (await s.db.selectFrom('api_tokens').selectAll().execute()).map((row) => ({ ...row }));
    assert.deepEqual(rows, [{ name: 'ci', hash: hashApiToken(created.token), created_at: 1_000, last_used_at: null }]);
    assert.ok(!JSON.stringify(rows).includes(created.token.slice(API_TOKEN_PREFIX.length)), 'the secret is not stored');
    assert.deepEqual(await tokens.list(), [{ name: 'ci', createdAt: 1_000, lastUsedAt: null }]);
    assert.equal(redactText(`got ${created.token} here`), 'got [REDACTED] here', 'logs never show one');
    assert.equal(redactText(`GET /plugins?access_token=${created.token}&x=1`), 'GET /plugins?access_token=[REDACTED]&x=1');
    assert.equal(redactText('GET /plugins?access_token=eyJzdWIi.c2lnbmF0dXJl'), 'GET /plugins?access_token=[REDACTED]', 'a session token in a query too');
  });

  test('verification: the right token gives its name and records its use (at most once a minute)', async () => {
    const s = await storage();
    const tokens = new ApiTokens(s.apiTokens);
    const { token } = await tokens.create('script');
    assert.equal(await tokens.verify(token, 10_000), 'script');
    assert.equal((await tokens.list())[0].lastUsedAt, 10_000);
    assert.equal(await tokens.verify(token, 20_000), 'script');
    assert.equal((await tokens.list())[0].lastUsedAt, 10_000, 'not rewritten within a minute');
    assert.equal(await tokens.verify(token, 80_000), 'script');
    assert.equal((await tokens.list())[0].lastUsedAt, 80_000);
    assert.equal(tokens.verifyCached(token), 'script');
    for (const wrong of [`${token}x`, token.slice(0, -1), `${API_TOKEN_PREFIX}${'A'.repeat(43)}`, 'not-a-token', '']) {
      assert.equal(await tokens.verify(wrong), null, wrong);
      assert.equal(tokens.verifyCached(wrong), null, wrong);
    }
  });

  test('revoked by name: refused at once', async () => {
    const s = await storage();
    const tokens = new ApiTokens(s.apiTokens);
    const a = await tokens.create('a');
    const b = await tokens.create('b');
    assert.equal(await tokens.revoke('a'), true);
    assert.equal(await tokens.revoke('a'), false, 'twice: nothing to revoke');
    assert.equal(await tokens.verify(a.token), null);
    assert.equal(tokens.verifyCached(a.token), null);
    assert.equal(await tokens.verify(b.token), 'b');
    assert.deepEqual(
      (await tokens.list()).map((t) => t.name),
      ['b'],
    );
  });

  test('names: checked, and unique', async () => {
    const tokens = new ApiTokens((await storage()).apiTokens);
    await tokens.create('ci');
    await assert.rejects(tokens.create('ci'), (err: unknown) => err instanceof TokenNameError && err.reason === 'exists');
    for (const bad of ['', ' ci', 'a/b', '-x', 'x'.repeat(65), 'é']) {
      await assert.rejects(tokens.create(bad), (err: unknown) => err instanceof TokenNameError && err.reason === 'invalid', bad);
    }
    await tokens.create('deploy.prod_2-b');
  });

  test('another process on the same database (the CLI while the daemon runs): its tokens count at once, its revocations too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-tokens-'));
    dirs.push(dir);
    const path = join(dir, 'trellis.db');
    const daemon = new ApiTokens((await storage(path)).apiTokens);
    await daemon.load();
    const cli = new ApiTokens((await storage(path)).apiTokens);
    const { token } = await cli.create('ci');
    assert.equal(daemon.verifyCached(token), null, 'not yet in the daemon’s copy');
    assert.equal(await daemon.verify(token), 'ci', 'the database is asked');
    assert.equal(daemon.verifyCached(token), 'ci', 'and the copy learns it');
    await cli.revoke('ci');
    assert.equal(await daemon.verify(token), null);
    assert.equal(daemon.verifyCached(token), null);
    const later = await cli.create('later');
    await daemon.load();
    assert.equal(daemon.verifyCached(later.token), 'later', 'a reload picks up new tokens for the synchronous check');
    // No timer re-reads them: a synchronous check on a copy older than a second starts the re-read.
    await cli.revoke('later');
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal(daemon.verifyCached(later.token), 'later', 'the stale copy answers this check');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(daemon.verifyCached(later.token), null, 'the re-read it started has seen the revocation');
  });
});

describe('SessionTokens with named tokens', () => {
  test('both kinds authenticate as the admin; logout with a named token revokes it', async () => {
    const named = new ApiTokens((await storage()).apiTokens);
    const sessions = new SessionTokens({ secret: 's'.repeat(40), ttlSeconds: 60, subject: 'admin' }, null, named);
    await sessions.load();
    const { token: api } = await named.create('mbc');
    const { token: session } = sessions.issue('admin');
    assert.deepEqual(await sessions.authenticate(api), { username: 'admin', kind: 'api', name: 'mbc' });
    assert.deepEqual(await sessions.authenticate(session), { username: 'admin', kind: 'session' });
    assert.equal(sessions.verify(api), 'admin');
    assert.equal(await sessions.authenticate('trellis_at_nonsense-nonsense-nonsense'), null);
    // Named tokens never expire: a year later it still works, the session token does not.
    const year = Date.now() + 365 * 24 * 3600_000;
    assert.equal((await sessions.authenticate(api, year))?.kind, 'api');
    assert.equal(await sessions.authenticate(session, year), null);
    assert.equal(await sessions.revoke(api), true);
    assert.equal(await sessions.authenticate(api), null);
    assert.equal(sessions.verify(api), null);
  });
});
