/**
 * Why an extraction failed, in the words a room member understands. The
 * technical detail (yt-dlp's message) goes to the log, never to the room.
 */

export type FailureKind = 'private' | 'deleted' | 'login_required' | 'rate_limited' | 'too_large' | 'timeout' | 'unsupported' | 'unavailable' | 'tool_missing' | 'unknown';

export class ExtractionFailure extends Error {
  readonly kind: FailureKind;
  /** For rate_limited: how long the source asked us to wait. */
  readonly retryAfterMs: number | null;
  constructor(kind: FailureKind, detail: string, retryAfterMs: number | null = null) {
    super(detail);
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Worth another attempt later (the same request may work then). */
export function retryable(kind: FailureKind): boolean {
  return kind === 'rate_limited' || kind === 'timeout' || kind === 'unknown';
}

// yt-dlp's Instagram messages (2026.10): order matters, several mention --cookies.
const PATTERNS: Array<[FailureKind, RegExp]> = [
  ['rate_limited', /HTTP Error 429|Too Many Requests|Please wait a few minutes/i],
  ['private', /only available for registered users who follow|empty media response|private (account|post)|This account is private/i],
  // Instagram sends anonymous visitors to the login page when it wants an account (or rations them).
  ['login_required', /redirected to the login page|login required|requires? (a )?log ?in/i],
  ['deleted', /HTTP Error 404|HTTP Error 400|not found|has been removed|no longer available|isn't available|is unavailable/i],
  ['too_large', /larger than max-filesize/i],
  ['unsupported', /Unsupported URL|no suitable extractor/i],
];

/** Classifies yt-dlp's stderr (its last ERROR line is the useful part). */
export function classifyYtDlpError(stderr: string): ExtractionFailure {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const detail = lines.filter((l) => l.startsWith('ERROR:')).at(-1) ?? lines.at(-1) ?? 'yt-dlp failed without a message';
  for (const [kind, re] of PATTERNS) if (re.test(detail)) return new ExtractionFailure(kind, detail);
  return new ExtractionFailure('unknown', detail);
}

function minutes(ms: number): string {
  const m = Math.ceil(ms / 60_000);
  return m <= 1 ? 'a minute' : `${m} minutes`;
}

/** The sentence the room sees. */
export function userMessage(failure: ExtractionFailure, url: string, retryInMs: number | null, limitMb: number): string {
  switch (failure.kind) {
    case 'private':
      return `Can't preview ${url}: the account is private.`;
    case 'deleted':
      return `Can't preview ${url}: the post was deleted or does not exist.`;
    case 'login_required':
      return `Can't preview ${url}: Instagram wants a logged-in account for it (or is limiting anonymous access for now).`;
    case 'rate_limited':
      return `Can't preview ${url} right now: Instagram is rate-limiting this bot. Try again in ${minutes(retryInMs ?? failure.retryAfterMs ?? 60_000)}.`;
    case 'too_large':
      return `Can't preview ${url}: the media is larger than ${limitMb} MB.`;
    case 'timeout':
      return `Can't preview ${url}: it took too long. Try again later.`;
    case 'unsupported':
      return `Can't preview ${url}: this kind of link is not supported.`;
    case 'tool_missing':
    case 'unavailable':
    case 'unknown':
      return `Can't preview ${url} right now (the bot's admin can see why in the log).`;
  }
}
