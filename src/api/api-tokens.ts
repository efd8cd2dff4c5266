/**
 * Named, long-lived management API tokens for scripts and `mbc` (maubot's
 * tokens never expire either): created by `trellis token create` or
 * `POST /tokens`, shown once, stored as a SHA-256 hash, revoked by name.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiTokenRow } from '../storage/api-tokens.ts';

/** Every named token starts with this (session tokens never do): easy to recognise, and scrubbed from logs (core/redact.ts). */
export const API_TOKEN_PREFIX = 'trellis_at_';
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const TOKEN_NAME_RULE = 'a token name is 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit';

/** How often the in-memory copy is re-read, for the synchronous checks (websocket sessions); HTTP requests always ask the database. */
const REFRESH_MS = 1000;
/** last_used_at is written at most this often per token. */
const TOUCH_EVERY_MS = 60_000;

/** The table (src/storage/api-tokens.ts), or an in-memory stand-in in tests. */
export interface ApiTokenStore {
  create(name: string, hash: string, createdAt: number): Promise<boolean>;
  byHash(hash: string): Promise<ApiTokenRow | null>;
  list(): Promise<ApiTokenRow[]>;
  remove(name: string): Promise<boolean>;
  touch(name: string, at: number): Promise<void>;
}

export interface ApiTokenInfo {
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Could this be a named token? (Only then is the database asked.) */
export function looksLikeApiToken(token: string): boolean {
  return token.startsWith(API_TOKEN_PREFIX) && token.length > API_TOKEN_PREFIX.length + 20 && token.length < 200;
}

export class ApiTokens {
  readonly #store: ApiTokenStore;
  /** hash → name, for the synchronous check; re-read when a synchronous check finds it older than REFRESH_MS, and on every database check. */
  #known = new Map<string, string>();
  #loadedAt = 0;
  #reloading: Promise<void> | null = null;
  readonly #touched = new Map<string, number>();

  constructor(store: ApiTokenStore) {
    this.#store = store;
  }

  /** Reads the tokens into memory (before serving requests). */
  async load(): Promise<void> {
    await this.#reload();
  }

  async #reload(): Promise<void> {
    const startedAt = Date.now();
    this.#known = new Map((await this.#store.list()).map((row) => [row.hash, row.name]));
    this.#loadedAt = startedAt;
  }

  /** A new token: its secret is returned here and never again. Throws with the reason when the name is bad or taken. */
  async create(name: string, now = Date.now()): Promise<{ name: string; token: string; createdAt: number }> {
    if (!TOKEN_NAME.test(name)) throw new TokenNameError('invalid', `${JSON.stringify(name.slice(0, 80))} is not a valid token name: ${TOKEN_NAME_RULE}`);
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const hash = hashApiToken(token);
    if (!(await this.#store.create(name, hash, now))) throw new TokenNameError('exists', `a token named ${name} exists already; revoke it first or choose another name`);
    this.#known.set(hash, name);
    return { name, token, createdAt: now };
  }

  async list(): Promise<ApiTokenInfo[]> {
    return (await this.#store.list()).map(({ name, createdAt, lastUsedAt }) => ({ name, createdAt, lastUsedAt }));
  }

  /** False if there is no token of that name. */
  async revoke(name: string): Promise<boolean> {
    const removed = await this.#store.remove(name);
    for (const [hash, known] of this.#known) if (known === name) this.#known.delete(hash);
    this.#touched.delete(name);
    return removed;
  }

  /** The token's name, asking the database (so a token created or revoked a moment ago by the CLI counts); null if unknown. */
  async verify(token: string, now = Date.now()): Promise<string | null> {
    if (!looksLikeApiToken(token)) return null;
    const hash = hashApiToken(token);
    let row: ApiTokenRow | null;
    try {
      row = await this.#store.byHash(hash);
    } catch {
      // Storage briefly unavailable (locked): the copy in memory decides.
      return this.verifyCached(token);
    }
    if (!row || !equalHex(row.hash, hash)) {
      this.#known.delete(hash);
      return null;
    }
    this.#known.set(hash, row.name);
    const last = this.#touched.get(row.name) ?? row.lastUsedAt;
    if (last === null || now - last >= TOUCH_EVERY_MS) {
      this.#touched.set(row.name, now);
      await this.#store.touch(row.name, now).catch(() => undefined);
    }
    return row.name;
  }

  /**
   * The synchronous check (websocket sessions, re-checked every half second): the copy in memory.
   * A copy older than REFRESH_MS is re-read in the background, so a token revoked by the CLI ends
   * its sessions within about a second. On demand, not on a timer: an idle daemon stays asleep.
   */
  verifyCached(token: string): string | null {
    if (!looksLikeApiToken(token)) return null;
    if (Date.now() - this.#loadedAt >= REFRESH_MS) {
      this.#reloading ??= this.#reload()
        .catch(() => undefined)
        .finally(() => {
          this.#reloading = null;
        });
    }
    return this.#known.get(hashApiToken(token)) ?? null;
  }
}

function equalHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** A token name that is invalid or taken. */
export class TokenNameError extends Error {
  readonly reason: 'invalid' | 'exists';
  constructor(reason: 'invalid' | 'exists', message: string) {
    super(message);
    this.reason = reason;
  }
}
