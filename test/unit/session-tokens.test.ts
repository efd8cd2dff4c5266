import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { SessionTokens } from '../../src/api/session-tokens.ts';

const SECRET = 'token-secret-0123456789abcdefghijklmnop';
const NOW = Date.UTC(2025, 5, 1, 8, 30, 15, 500);

function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

function encodePayload(claims: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(claims)).toString('base64url');
}

describe('SessionTokens', () => {
  test('an issued token verifies to its username', () => {
    const tokens = new SessionTokens(SECRET, 3600);
    const { token, expiresAt } = tokens.issue('admin', NOW);
    assert.equal(expiresAt, Math.floor(NOW / 1000) + 3600);
    assert.equal(tokens.verify(token, NOW), 'admin');
    assert.equal(tokens.verify(token, NOW + 3599_000), 'admin');
    assert.deepEqual(decodePayload(token), { sub: 'admin', exp: expiresAt });
  });

  test('usernames with dots and non-ASCII characters round-trip', () => {
    const tokens = new SessionTokens(SECRET, 60);
    const { token } = tokens.issue('ad.min.é', NOW);
    assert.equal(token.split('.').length, 2);
    assert.equal(tokens.verify(token, NOW), 'ad.min.é');
  });

  test('a token is rejected from its expiry second on', () => {
    const tokens = new SessionTokens(SECRET, 60);
    const { token, expiresAt } = tokens.issue('admin', NOW);
    assert.equal(tokens.verify(token, expiresAt * 1000 - 1), 'admin');
    assert.equal(tokens.verify(token, expiresAt * 1000), null);
    assert.equal(tokens.verify(token, NOW + 24 * 3600_000), null);
  });

  test('a tampered payload is rejected', () => {
    const tokens = new SessionTokens(SECRET, 3600);
    const { token, expiresAt } = tokens.issue('admin', NOW);
    const [, signature] = token.split('.');
    // Another user, and a longer expiry, with the original signature.
    assert.equal(tokens.verify(`${encodePayload({ sub: 'root', exp: expiresAt })}.${signature}`, NOW), null);
    assert.equal(tokens.verify(`${encodePayload({ sub: 'admin', exp: expiresAt + 10_000 })}.${signature}`, NOW + 3600_000), null);
  });

  test('a tampered signature is rejected', () => {
    const tokens = new SessionTokens(SECRET, 3600);
    const { token } = tokens.issue('admin', NOW);
    const [payload, signature] = token.split('.');
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    assert.equal(tokens.verify(`${payload}.${flipped}`, NOW), null);
    assert.equal(tokens.verify(`${payload}.${signature.slice(0, -1)}`, NOW), null);
    assert.equal(tokens.verify(`${payload}.${signature}A`, NOW), null);
  });

  test('a token signed with another secret is rejected, so rotating the secret revokes tokens', () => {
    const old = new SessionTokens(SECRET, 3600);
    const rotated = new SessionTokens(SECRET + '-rotated', 3600);
    const { token } = old.issue('admin', NOW);
    assert.equal(rotated.verify(token, NOW), null);
    assert.equal(rotated.verify(rotated.issue('admin', NOW).token, NOW), 'admin');
  });

  test('a correctly signed payload with bad claims is rejected', () => {
    // Forging needs the secret; this checks the claim validation behind the signature.
    const tokens = new SessionTokens(SECRET, 3600);
    const sign = (payload: string) => `${payload}.${createHmac('sha256', SECRET).update(payload).digest('base64url')}`;
    const exp = Math.floor(NOW / 1000) + 100;
    assert.equal(tokens.verify(sign(encodePayload({ sub: 'admin', exp })), NOW), 'admin');
    assert.equal(tokens.verify(sign(encodePayload({ exp })), NOW), null);
    assert.equal(tokens.verify(sign(encodePayload({ sub: 42, exp })), NOW), null);
    assert.equal(tokens.verify(sign(encodePayload({ sub: 'admin', exp: String(exp) })), NOW), null);
    assert.equal(tokens.verify(sign(Buffer.from('not json').toString('base64url')), NOW), null);
  });

  test('malformed strings are rejected', () => {
    const tokens = new SessionTokens(SECRET, 3600);
    const { token } = tokens.issue('admin', NOW);
    for (const bad of ['', '.', 'abc', 'abc.', '.abc', `${token}.extra`, `${token}.`, 'a.b.c', token.replace('.', ''), ' ' + token, 'Bearer ' + token]) {
      assert.equal(tokens.verify(bad, NOW), null, `accepted ${JSON.stringify(bad)}`);
    }
  });
});
