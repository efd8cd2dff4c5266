/** Bearer tokens of the management API: signed, expiring, revocable session tokens, and the named API tokens (api-tokens.ts). */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiTokens } from './api-tokens.ts';

/** What tokens are checked against; read on every call, so a SIGHUP reload applies at once. */
export interface TokenSettings {
  /** The config's server.token_secret: changing it invalidates every token. */
  secret: string;
  ttlSeconds: number;
  /** The configured admin username: a token for any other subject is refused. */
  subject: string;
}

/** Where logouts are persisted, so a revoked token stays revoked after a restart. */
export interface RevocationStore {
  add(jti: string, expiresAt: number): Promise<void>;
  active(nowSeconds: number): Promise<Array<{ jti: string; expiresAt: number }>>;
}

export interface TokenClaims {
  sub: string;
  exp: number;
  jti: string;
}

/** Who a valid token speaks for: the admin, through a login session or through a named API token. */
export type TokenOwner = { username: string; kind: 'session' } | { username: string; kind: 'api'; name: string };

/**
 * Management API session tokens: a signed, expiring claim with a random id
 * (`jti`). Signing with the config's token_secret means tokens survive a
 * daemon restart without a session table, and rotating the secret revokes
 * them all; logout revokes one by its id (kept in memory for the synchronous
 * check, persisted through the store).
 */
export class SessionTokens {
  readonly #settings: () => TokenSettings;
  readonly #store: RevocationStore | null;
  /** jti → expiry (epoch seconds) of logged-out tokens that have not expired yet. */
  readonly #revoked = new Map<string, number>();

  /** The named, never-expiring tokens (null: none accepted). */
  readonly named: ApiTokens | null;

  constructor(settings: TokenSettings | (() => TokenSettings), store: RevocationStore | null = null, named: ApiTokens | null = null) {
    this.#settings = typeof settings === 'function' ? settings : () => settings;
    this.#store = store;
    this.named = named;
  }

  /** Loads the persisted revocations and the named tokens (call once before serving requests). */
  async load(now = Date.now()): Promise<void> {
    await this.named?.load();
    if (!this.#store) return;
    for (const { jti, expiresAt } of await this.#store.active(Math.floor(now / 1000))) this.#revoked.set(jti, expiresAt);
  }

  #sign(payload: string, secret: string): string {
    return createHmac('sha256', secret).update(payload).digest('base64url');
  }

  issue(username: string, now = Date.now()): { token: string; expiresAt: number } {
    const { secret, ttlSeconds } = this.#settings();
    const expiresAt = Math.floor(now / 1000) + ttlSeconds;
    const claims: TokenClaims = { sub: username, exp: expiresAt, jti: randomBytes(16).toString('base64url') };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${payload}.${this.#sign(payload, secret)}`, expiresAt };
  }

  /** The claims of a valid token: well formed, signed with the current secret, not expired, not revoked, for the admin. */
  claims(token: string, now = Date.now()): TokenClaims | null {
    const { secret, subject } = this.#settings();
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) return null;
    const expected = Buffer.from(this.#sign(payload, secret));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    let claims: { sub?: unknown; exp?: unknown; jti?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || typeof claims.jti !== 'string' || claims.jti === '') return null;
    if (claims.exp * 1000 <= now || claims.sub !== subject || this.#revoked.has(claims.jti)) return null;
    return { sub: claims.sub, exp: claims.exp, jti: claims.jti };
  }

  /**
   * The username, or null if the token is malformed, forged, expired, revoked or not the admin's.
   * Synchronous (websocket sessions): a named token is checked against the in-memory copy (re-read when older than a second).
   */
  verify(token: string, now = Date.now()): string | null {
    const session = this.claims(token, now)?.sub;
    if (session !== undefined) return session;
    return this.named?.verifyCached(token) ? this.#settings().subject : null;
  }

  /** Who the token speaks for, or null: a session token, or a named token checked with the database (one revoked a moment ago by the CLI is refused). */
  async authenticate(token: string, now = Date.now()): Promise<TokenOwner | null> {
    const claims = this.claims(token, now);
    if (claims) return { username: claims.sub, kind: 'session' };
    const name = (await this.named?.verify(token, now)) ?? null;
    return name === null ? null : { username: this.#settings().subject, kind: 'api', name };
  }

  /** Logout: the token is refused from now on, also after a restart (a named token is revoked by its name). False if it was not valid anyway. */
  async revoke(token: string, now = Date.now()): Promise<boolean> {
    const owner = await this.authenticate(token, now);
    if (owner?.kind === 'api') return (await this.named?.revoke(owner.name)) ?? false;
    const claims = this.claims(token, now);
    if (!claims) return false;
    await this.#store?.add(claims.jti, claims.exp);
    this.#revoked.set(claims.jti, claims.exp);
    // Expired revocations are dead weight: the signature check refuses those tokens anyway.
    const nowSeconds = Math.floor(now / 1000);
    for (const [jti, exp] of this.#revoked) if (exp <= nowSeconds) this.#revoked.delete(jti);
    return true;
  }
}
