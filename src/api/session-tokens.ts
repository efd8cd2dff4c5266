import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Management API session tokens: a signed, expiring claim. Signing with the
 * config's token_secret means tokens survive a daemon restart without a
 * session table, and rotating the secret revokes them all.
 */
export class SessionTokens {
  readonly #secret: string;
  readonly #ttlSeconds: number;
  constructor(secret: string, ttlSeconds: number) {
    this.#secret = secret;
    this.#ttlSeconds = ttlSeconds;
  }

  #sign(payload: string): string {
    return createHmac('sha256', this.#secret).update(payload).digest('base64url');
  }

  issue(username: string, now = Date.now()): { token: string; expiresAt: number } {
    const expiresAt = Math.floor(now / 1000) + this.#ttlSeconds;
    const payload = Buffer.from(JSON.stringify({ sub: username, exp: expiresAt })).toString('base64url');
    return { token: `${payload}.${this.#sign(payload)}`, expiresAt };
  }

  /** The username, or null if the token is malformed, forged or expired. */
  verify(token: string, now = Date.now()): string | null {
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) return null;
    const expected = Buffer.from(this.#sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown; exp?: unknown };
      if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || claims.exp * 1000 <= now) return null;
      return claims.sub;
    } catch {
      return null;
    }
  }
}
