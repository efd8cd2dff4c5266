import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { SessionTokens, type RevocationStore, type TokenSettings } from '../../src/api/session-tokens.ts';

const SECRET = 'token-secret-0123456789abcdefghijklmnop';
const NOW = Date.UTC(2025, 5, 1, 8, 30, 15, 500);

const settings = (overrides: Partial<TokenSettings> = {}): TokenSettings => ({ secret: SECRET, ttlSeconds: 3600, subject: 'admin', ...overrides });

function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

function encodePayload(claims: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(claims)).toString('base64url');
}

/** What the database repository does, in memory. */
class MemoryStore implements RevocationStore {
  readonly rows = new Map<string, number>();
  async add(jti: string, expiresAt: number): Promise<void> {
    this.rows.set(jti, expiresAt);
  }
  async active(nowSeconds: number): Promise<Array<{ jti: string; expiresAt: number }>> {
    for (const [jti, exp] of this.rows) if (exp <= nowSeconds) this.rows.delete(jti);
    return [...this.rows].map(([jti, expiresAt]) => ({ jti, expiresAt }));
  }
}

describe('SessionTokens', () => {
  test('an issued token verifies to its username and carries a random id', () => {
    const tokens = new SessionTokens(settings());
    const { token, expiresAt } = tokens.issue('admin', NOW);
    assert.equal(expiresAt, Math.floor(NOW / 1000) + 3600);
    assert.equal(tokens.verify(token, NOW), 'admin');
    assert.equal(tokens.verify(token, NOW + 3599_000), 'admin');
    const claims = decodePayload(token);
    assert.deepEqual({ ...claims, jti: undefined }, { sub: 'admin', exp: expiresAt, jti: undefined });
    assert.match(String(claims.jti), /^[A-Za-z0-9_-]{20,}$/);
    assert.notEqual(decodePayload(tokens.issue('admin', NOW).token).jti, claims.jti);
  });

  test('usernames with dots and non-ASCII characters round-trip', () => {
    const tokens = new SessionTokens(settings({ ttlSeconds: 60, subject: 'ad.min.é' }));
    const { token } = tokens.issue('ad.min.é', NOW);
    assert.equal(token.split('.').length, 2);
    assert.equal(tokens.verify(token, NOW), 'ad.min.é');
  });

  test('a token is rejected from its expiry second on', () => {
    const tokens = new SessionTokens(settings({ ttlSeconds: 60 }));
    const { token, expiresAt } = tokens.issue('admin', NOW);
    assert.equal(tokens.verify(token, expiresAt * 1000 - 1), 'admin');
    assert.equal(tokens.verify(token, expiresAt * 1000), null);
    assert.equal(tokens.verify(token, NOW + 24 * 3600_000), null);
  });

  test('a tampered payload is rejected', () => {
    const tokens = new SessionTokens(settings());
    const { token, expiresAt } = tokens.issue('admin', NOW);
    const [, signature] = token.split('.');
    const { jti } = decodePayload(token);
    // Another user, and a longer expiry, with the original signature.
    assert.equal(tokens.verify(`${encodePayload({ sub: 'root', exp: expiresAt, jti })}.${signature}`, NOW), null);
    assert.equal(tokens.verify(`${encodePayload({ sub: 'admin', exp: expiresAt + 10_000, jti })}.${signature}`, NOW + 3600_000), null);
  });

  test('a tampered signature is rejected', () => {
    const tokens = new SessionTokens(settings());
    const { token } = tokens.issue('admin', NOW);
    const [payload, signature] = token.split('.');
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    assert.equal(tokens.verify(`${payload}.${flipped}`, NOW), null);
    assert.equal(tokens.verify(`${payload}.${signature.slice(0, -1)}`, NOW), null);
    assert.equal(tokens.verify(`${payload}.${signature}A`, NOW), null);
  });

  test('a token signed with another secret is rejected, so rotating the secret revokes tokens', () => {
    const old = new SessionTokens(settings());
    const rotated = new SessionTokens(settings({ secret: SECRET + '-rotated' }));
    const { token } = old.issue('admin', NOW);
    assert.equal(rotated.verify(token, NOW), null);
    assert.equal(rotated.verify(rotated.issue('admin', NOW).token, NOW), 'admin');
  });

  test('settings are read on every check: a new secret (SIGHUP) invalidates tokens already issued', () => {
    let current = settings();
    const tokens = new SessionTokens(() => current);
    const { token } = tokens.issue('admin', NOW);
    assert.equal(tokens.verify(token, NOW), 'admin');
    current = settings({ secret: SECRET + '-new' });
    assert.equal(tokens.verify(token, NOW), null);
    assert.equal(tokens.verify(tokens.issue('admin', NOW).token, NOW), 'admin');
  });

  test('only the configured admin is accepted as subject: renaming the admin invalidates old tokens', () => {
    let current = settings();
    const tokens = new SessionTokens(() => current);
    const { token } = tokens.issue('admin', NOW);
    const forOther = tokens.issue('someone-else', NOW).token;
    assert.equal(tokens.verify(forOther, NOW), null, 'a validly signed token for another subject');
    current = settings({ subject: 'root' });
    assert.equal(tokens.verify(token, NOW), null);
  });

  test('a correctly signed payload with bad claims is rejected', () => {
    // Forging needs the secret; this checks the claim validation behind the signature.
    const tokens = new SessionTokens(settings());
    const sign = (payload: string) => `${payload}.${createHmac('sha256', SECRET).update(payload).digest('base64url')}`;
    const exp = Math.floor(NOW / 1000) + 100;
    assert.equal(tokens.verify(sign(encodePayload({ sub: 'admin', exp, jti: 'abc' })), NOW), 'admin');
    assert.equal(tokens.verify(sign(encodePayload({ sub: 'admin', exp })), NOW), null, 'no jti: cannot be revoked, so not accepted');
    assert.equal(tokens.verify(sign(encodePayload({ sub: 'admin', exp, jti: '' })), NOW), null);
    assert.equal(tokens.verify(sign(encodePayload({ exp, jti: 'abc' })), NOW), null);
    assert.equal(tokens.verify(sign(encodePayload({ sub: 42, exp, jti: 'abc' })), NOW), null);
    assert.equal(tokens.verify(sign(encodePayload({ sub: 'admin', exp: String(exp), jti: 'abc' })), NOW), null);
    assert.equal(tokens.verify(sign(Buffer.from('not json').toString('base64url')), NOW), null);
  });

  test('malformed strings are rejected', () => {
    const tokens = new SessionTokens(settings());
    const { token } = tokens.issue('admin', NOW);
    for (const bad of ['', '.', 'abc', 'abc.', '.abc', `${token}.extra`, `${token}.`, 'a.b.c', token.replace('.', ''), ' ' + token, 'Bearer ' + token]) {
      assert.equal(tokens.verify(bad, NOW), null, `accepted ${JSON.stringify(bad)}`);
    }
  });

  test('revoke refuses that token only, and the revocation survives a restart through the store', async () => {
    const store = new MemoryStore();
    const tokens = new SessionTokens(settings(), store);
    await tokens.load(NOW);
    const a = tokens.issue('admin', NOW).token;
    const b = tokens.issue('admin', NOW).token;
    assert.equal(await tokens.revoke(a, NOW), true);
    assert.equal(tokens.verify(a, NOW), null);
    assert.equal(tokens.verify(b, NOW), 'admin', 'another session is unaffected');
    assert.equal(await tokens.revoke(a, NOW), false, 'already revoked');
    assert.equal(await tokens.revoke('garbage', NOW), false);

    const restarted = new SessionTokens(settings(), store);
    await restarted.load(NOW + 1000);
    assert.equal(restarted.verify(a, NOW + 1000), null);
    assert.equal(restarted.verify(b, NOW + 1000), 'admin');
  });

  test('revocations of expired tokens are pruned from the store', async () => {
    const store = new MemoryStore();
    const tokens = new SessionTokens(settings({ ttlSeconds: 60 }), store);
    await tokens.revoke(tokens.issue('admin', NOW).token, NOW);
    assert.equal(store.rows.size, 1);
    await new SessionTokens(settings(), store).load(NOW + 61_000);
    assert.equal(store.rows.size, 0);
  });
});
