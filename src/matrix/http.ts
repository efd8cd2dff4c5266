/**
 * The one place that talks HTTP to a homeserver: URL building, auth header,
 * timeouts, rate-limit waits and retries. Everything above it speaks in
 * Matrix terms and never sees a raw fetch failure.
 */
import { HomeserverUnreachableError, MatrixApiError } from './errors.ts';

/** Arrays repeat the key (`via=a&via=b`). */
export type QueryValue = string | number | boolean | undefined | readonly string[];

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as-is (media uploads); takes precedence over `body`. */
  rawBody?: Uint8Array;
  contentType?: string;
  signal?: AbortSignal;
  /** Per attempt, covering headers and body. */
  timeoutMs?: number;
  /** Also retry network errors and 5xx (only for idempotent requests). 429s are always retried. */
  retry?: boolean;
  /** Leave out the Authorization header even when the client has a token. */
  noAuth?: boolean;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Stop retrying once this much time has passed since the first attempt. */
  totalMs: number;
}

export interface MatrixHttpOptions {
  baseUrl: string;
  accessToken?: string;
  fetch?: typeof fetch;
  userAgent?: string;
  backoff?: Partial<BackoffPolicy>;
  /** Default per-attempt timeout. */
  timeoutMs?: number;
  /** How many 429s in a row one request waits out before giving up. */
  maxRateLimitRetries?: number;
  /** A 429 asking to wait longer than this is thrown to the caller instead. */
  maxRateLimitWaitMs?: number;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 4000, totalMs: 60_000 };
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Tagged template that percent-encodes every interpolated value as one path
 * segment: room ids contain `!` and `:`, aliases `#`, event types dots and
 * slashes are possible in state keys.
 *
 *   encodePath`/_matrix/client/v3/rooms/${roomId}/send/${type}/${txnId}`
 */
export function encodePath(strings: TemplateStringsArray, ...values: string[]): string {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) {
    out += encodeURIComponent(values[i] ?? '') + (strings[i + 1] ?? '');
  }
  return out;
}

export class MatrixHttp {
  readonly baseUrl: string;
  readonly #accessToken: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;
  readonly #backoff: BackoffPolicy;
  readonly #timeoutMs: number;
  readonly #maxRateLimitRetries: number;
  readonly #maxRateLimitWaitMs: number;

  constructor(opts: MatrixHttpOptions) {
    this.baseUrl = normalizeBaseUrl(opts.baseUrl);
    this.#accessToken = opts.accessToken;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#userAgent = opts.userAgent ?? 'Trellis';
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxRateLimitRetries = opts.maxRateLimitRetries ?? 8;
    this.#maxRateLimitWaitMs = opts.maxRateLimitWaitMs ?? 60_000;
  }

  /** A JSON request; resolves with the parsed body of a 2xx response. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.requestRaw(method, path, opts);
    const parsed = parseJson(res.body);
    if (parsed === undefined || parsed === null || typeof parsed !== 'object') {
      throw HomeserverUnreachableError.notMatrix(this.baseUrl, method, path, res.status, res.headers.get('content-type'));
    }
    return parsed as T;
  }

  /** A request whose successful body is returned as bytes (media downloads). */
  async requestRaw(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    const url = this.#url(path, opts.query);
    const headers = this.#headers(opts);
    const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    const started = Date.now();
    let delay = this.#backoff.initialMs;
    let rateLimited = 0;

    for (;;) {
      opts.signal?.throwIfAborted();
      const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
      let res: RawResponse;
      try {
        res = await this.#attempt(url, method, headers, body, opts.signal, timeoutMs);
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        const unreachable = HomeserverUnreachableError.fromNetworkError(this.baseUrl, err, timeoutMs);
        if (opts.retry && this.#withinBudget(started, delay)) {
          await sleep(jitter(delay), opts.signal);
          delay = Math.min(delay * 2, this.#backoff.maxMs);
          continue;
        }
        throw unreachable;
      }
      if (res.status >= 200 && res.status < 300) return res;

      const error = toApiError(method, path, res);
      if (res.status === 429 && rateLimited < this.#maxRateLimitRetries) {
        const wait = error.retryAfterMs ?? Math.min(1000 * 2 ** rateLimited, this.#maxRateLimitWaitMs);
        if (wait <= this.#maxRateLimitWaitMs) {
          rateLimited++;
          await sleep(wait, opts.signal);
          continue;
        }
      }
      if (res.status >= 500 && opts.retry && this.#withinBudget(started, delay)) {
        await sleep(jitter(delay), opts.signal);
        delay = Math.min(delay * 2, this.#backoff.maxMs);
        continue;
      }
      throw error;
    }
  }

  async #attempt(url: string, method: string, headers: Record<string, string>, body: string | Uint8Array | undefined, outer: AbortSignal | undefined, timeoutMs: number): Promise<RawResponse> {
    // A per-attempt controller instead of AbortSignal.any: the sync loop's
    // signal lives for days and must not accumulate dependants.
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    try {
      const res = await this.#fetch(url, { method, headers, body, signal: controller.signal });
      const bytes = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, body: bytes };
    } catch (err) {
      // undici reports our own timeout as an AbortError carrying the reason; surface the reason.
      if (controller.signal.aborted && !outer?.aborted) throw controller.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
  }

  #withinBudget(started: number, delay: number): boolean {
    return Date.now() - started + delay <= this.#backoff.totalMs;
  }

  #url(path: string, query: Record<string, QueryValue> | undefined): string {
    let url = this.baseUrl + (path.startsWith('/') ? path : `/${path}`);
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value === undefined) continue;
        if (typeof value === 'object') for (const item of value) params.append(key, item);
        else params.set(key, String(value));
      }
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    return url;
  }

  #headers(opts: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { 'User-Agent': this.#userAgent, Accept: 'application/json' };
    if (this.#accessToken && !opts.noAuth) headers.Authorization = `Bearer ${this.#accessToken}`;
    if (opts.rawBody) headers['Content-Type'] = opts.contentType ?? 'application/octet-stream';
    else if (opts.body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    return headers;
  }
}

/** Trailing slashes dropped, and user info removed so it can never be echoed. */
export function normalizeBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new TypeError(`homeserver URL "${raw}" is not a URL; expected something like https://matrix.example.org`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`homeserver URL must start with http:// or https://, got ${url.protocol}`);
  }
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}

function toApiError(method: string, path: string, res: RawResponse): MatrixApiError {
  const parsed = parseJson(res.body);
  const data = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  const retryAfterMs = typeof data?.retry_after_ms === 'number' ? data.retry_after_ms : parseRetryAfter(res.headers.get('retry-after'));
  const errcode = typeof data?.errcode === 'string' ? data.errcode : undefined;
  const error = typeof data?.error === 'string' ? data.error : data === undefined ? `non-Matrix response (${res.headers.get('content-type') ?? 'no content type'})` : undefined;
  return new MatrixApiError({
    method,
    path,
    status: res.status,
    data,
    notMatrix: data === undefined,
    ...(errcode !== undefined ? { errcode } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

function parseJson(body: Uint8Array): unknown {
  if (body.byteLength === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Spread retries of many clients (e.g. after a homeserver restart) without exceeding the cap. */
export function jitter(ms: number): number {
  return Math.round(ms * (0.5 + Math.random() * 0.5));
}

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
