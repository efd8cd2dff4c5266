/** What a request must pass before it is stored: the hook's secret or signature, and its rate. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebRequest } from 'trellis/sdk';
import type { HookSecret } from './hooks.ts';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Null when the request proves the secret (or the hook has none); else why not, for a 401/403. */
export function checkSecret(request: WebRequest, secret: HookSecret): { status: 401 | 403; error: string } | null {
  if (secret.hmac) {
    const header = request.headers['x-hub-signature-256'];
    if (!header) return { status: 401, error: 'this hook requires an X-Hub-Signature-256 header (HMAC-SHA256 of the body)' };
    const expected = `sha256=${createHmac('sha256', secret.hmac).update(request.body).digest('hex')}`;
    if (!same(header.trim().toLowerCase(), expected)) return { status: 403, error: 'the X-Hub-Signature-256 signature does not match the body' };
  }
  if (secret.token) {
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const given = bearer ?? request.headers['x-gitlab-token'] ?? request.headers['x-webhook-token'];
    if (!given) return { status: 401, error: 'this hook requires a token: send Authorization: Bearer <token> (or X-Gitlab-Token)' };
    if (!same(given.trim(), secret.token)) return { status: 403, error: 'wrong token for this hook' };
  }
  return null;
}

/** One token bucket per hook: `perMinute` a minute, bursts of a tenth of it (at least 10). */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes one request's token; false when the hook is over its rate. */
  take(hookId: string, perMinute: number, now = Date.now()): boolean {
    if (perMinute <= 0) return true;
    const capacity = Math.max(10, perMinute / 10);
    const bucket = this.#buckets.get(hookId) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
    bucket.at = now;
    this.#buckets.set(hookId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until the next request would pass, for Retry-After. */
  retryAfter(hookId: string, perMinute: number): number {
    const bucket = this.#buckets.get(hookId);
    return bucket ? Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / perMinute)) : 1;
  }
}
