/**
 * Errors of the Matrix layer. Every message is meant to be read by a sysadmin
 * and never contains an access token, password or shared secret: messages name
 * the homeserver by its origin and requests by method and path only.
 */

/** The homeserver answered with an HTTP error (a Matrix error body, or not). */
export class MatrixApiError extends Error {
  readonly status: number;
  /** `M_*` code from the body; `M_UNKNOWN` when the body was not a Matrix error. */
  readonly errcode: string;
  /** The homeserver's human-readable `error` text (or a description of the non-Matrix body). */
  readonly error: string;
  /** From `retry_after_ms` or the Retry-After header, on 429s. */
  readonly retryAfterMs?: number;
  /** The parsed JSON body (user-interactive auth reads `flows`/`session`/`completed` from it). */
  readonly data: Record<string, unknown>;
  /** True when the body was not JSON: a proxy or web server answered, not the homeserver. */
  readonly notMatrix: boolean;

  constructor(init: {
    method: string;
    path: string;
    status: number;
    errcode?: string;
    error?: string;
    retryAfterMs?: number;
    data?: Record<string, unknown>;
    notMatrix?: boolean;
  }) {
    const errcode = init.errcode ?? 'M_UNKNOWN';
    const error = init.error ?? '';
    super(`${init.method} ${init.path} failed: HTTP ${init.status} ${errcode}${error ? `: ${error}` : ''}`);
    this.name = 'MatrixApiError';
    this.status = init.status;
    this.errcode = errcode;
    this.error = error;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    this.data = init.data ?? {};
    this.notMatrix = init.notMatrix ?? false;
  }
}

export type UnreachableReason = 'refused' | 'dns' | 'timeout' | 'tls' | 'reset' | 'unreachable' | 'not-matrix' | 'network';

/** The homeserver could not be talked to at all (or something that is not a homeserver answered). */
export class HomeserverUnreachableError extends Error {
  readonly reason: UnreachableReason;
  /** The low-level code (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED, …) when there was one. */
  readonly code: string | undefined;

  constructor(message: string, reason: UnreachableReason, code?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause: sanitizeCause(cause) });
    this.name = 'HomeserverUnreachableError';
    this.reason = reason;
    this.code = code;
  }

  /** Builds the actionable message from a failed fetch's error. */
  static fromNetworkError(baseUrl: string, err: unknown, timeoutMs?: number): HomeserverUnreachableError {
    const where = safeOrigin(baseUrl);
    const code = networkErrorCode(err);
    let host = '';
    let port = '';
    try {
      const u = new URL(baseUrl);
      host = u.hostname;
      port = u.port || (u.protocol === 'https:' ? '443' : '80');
    } catch {
      // an unparsable base URL is reported by the caller that validated it
    }

    if (code === 'TIMEOUT' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
      const within = timeoutMs !== undefined ? ` within ${Math.round(timeoutMs / 100) / 10} s` : '';
      // A TLS client talking to a plain-HTTP port usually hangs in the handshake rather than failing.
      const tlsHint = where.startsWith('https:') ? '; if that port speaks plain HTTP, use an http:// URL' : '';
      return new HomeserverUnreachableError(
        `homeserver at ${where} did not answer${within} (${code}); check that it is running and not overloaded, and that no firewall or reverse proxy drops the connection${tlsHint}`,
        'timeout',
        code,
        err,
      );
    }
    if (code === 'ECONNREFUSED') {
      if (host === 'localhost') {
        const suggestion = new URL(where);
        suggestion.hostname = '127.0.0.1';
        return new HomeserverUnreachableError(
          `homeserver at ${where} refused the connection; localhost may resolve to ::1 while the server listens on IPv4 only, try ${suggestion.origin}`,
          'refused',
          code,
          err,
        );
      }
      return new HomeserverUnreachableError(
        `homeserver at ${where} refused the connection (ECONNREFUSED): is the homeserver running, and listening on ${host} port ${port}? Check the port in the URL and the server's listener bind address`,
        'refused',
        code,
        err,
      );
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
      return new HomeserverUnreachableError(`homeserver host "${host}" could not be resolved (${code}): check the spelling of the URL and this machine's DNS settings`, 'dns', code, err);
    }
    if (code !== undefined && isTlsCertificateCode(code)) {
      return new HomeserverUnreachableError(
        `the TLS certificate of ${where} is not trusted (${code}): install a valid certificate on the homeserver or reverse proxy, or point NODE_EXTRA_CA_CERTS at your private CA's certificate`,
        'tls',
        code,
        err,
      );
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO' || (code?.startsWith('ERR_SSL_') ?? false)) {
      return new HomeserverUnreachableError(
        `TLS handshake with ${where} failed (${code}): does the https:// URL point at a plain-HTTP port? Use http:// for that port, or the TLS port`,
        'tls',
        code,
        err,
      );
    }
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
      return new HomeserverUnreachableError(
        `homeserver at ${where} closed the connection unexpectedly (${code}): it may be restarting, or a proxy in between drops the connection`,
        'reset',
        code,
        err,
      );
    }
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') {
      return new HomeserverUnreachableError(`no network route to ${where} (${code}): check this machine's network and the homeserver's address`, 'unreachable', code, err);
    }
    return new HomeserverUnreachableError(`could not reach homeserver at ${where}${code ? ` (${code})` : ''}: ${describe(err)}`, 'network', code, err);
  }

  /** Something answered, but not with Matrix JSON. */
  static notMatrix(baseUrl: string, method: string, path: string, status: number, contentType: string | null): HomeserverUnreachableError {
    const where = safeOrigin(baseUrl);
    return new HomeserverUnreachableError(
      `${where} answered ${method} ${path} with HTTP ${status} (${contentType ?? 'no content type'}), which is not a Matrix response: is this the homeserver's client API URL? Behind a reverse proxy, /_matrix must be forwarded to the homeserver`,
      'not-matrix',
      `HTTP_${status}`,
    );
  }
}

/** Errors from login/registration flows, with the cause mapped to advice. */
export class MatrixAuthError extends Error {
  readonly errcode: string;
  readonly status: number | undefined;

  constructor(message: string, errcode: string, status?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause: sanitizeCause(cause) });
    this.name = 'MatrixAuthError';
    this.errcode = errcode;
    this.status = status;
  }
}

const TLS_CERT_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
]);

function isTlsCertificateCode(code: string): boolean {
  return TLS_CERT_CODES.has(code);
}

/**
 * The most specific error code in a fetch failure. undici wraps the socket
 * error in `cause`, and with several resolved addresses (happy eyeballs) in an
 * AggregateError whose `errors` each carry a code.
 */
export function networkErrorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { name?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
    if (e.name === 'TimeoutError') return 'TIMEOUT';
    if (typeof e.code === 'string' && e.code !== 'ERR_INVALID_STATE') return e.code;
    if (Array.isArray(e.errors)) {
      for (const inner of e.errors) {
        const c = networkErrorCode(inner);
        if (c !== undefined) return c;
      }
    }
    current = e.cause;
  }
  return undefined;
}

/** scheme://host:port of a URL, dropping user info, path and query (which may hold tokens). */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const inner = cause instanceof Error ? `: ${cause.message}` : '';
    return redactSecrets(`${err.message}${inner}`);
  }
  return redactSecrets(String(err));
}

/** Belt and braces: a URL with `access_token=` in an underlying error must never be printed. */
export function redactSecrets(text: string): string {
  return text.replace(/(access_token=)[^&\s"']+/gi, '$1<redacted>').replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1<redacted>');
}

function sanitizeCause(cause: unknown): unknown {
  if (cause instanceof Error) {
    const copy = new Error(redactSecrets(cause.message));
    copy.name = cause.name;
    const code = networkErrorCode(cause);
    if (code !== undefined) (copy as Error & { code?: string }).code = code;
    return copy;
  }
  return undefined;
}
