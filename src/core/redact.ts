/**
 * Last line of defence against secrets in logs and API responses: every
 * known secret value (config secrets, client access tokens) is registered
 * here and scrubbed from any text that leaves the process.
 */
const known = new Set<string>();
// Longest first, so a secret that contains another is scrubbed whole rather than leaving its tail.
let scrubOrder: string[] = [];

function refreshScrubOrder(): void {
  const forms = new Set<string>();
  for (const secret of known) {
    forms.add(secret);
    // Log lines are JSON: a secret with quotes, backslashes or control characters appears escaped.
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  scrubOrder = [...forms].sort((a, b) => b.length - a.length);
}

// Shapes that are secrets even when we never saw the value (e.g. a token in a homeserver's error text).
const PATTERNS: RegExp[] = [
  /\b(syt_[A-Za-z0-9_]+|mct_[A-Za-z0-9_]+|trellis_at_[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)/g,
  /((?:access_token|password|shared_secret|registration_token|token_secret|pickle_key)["']?\s*[:=]\s*["']?)([^"'&\s,}]+)/gi,
  /(Bearer\s+)([A-Za-z0-9._~+/=-]+)/g,
];

export const REDACTED = '[REDACTED]';

export function registerSecret(value: string | null | undefined): void {
  // Very short values would redact ordinary words; they are not real secrets anyway.
  if (value && value.length >= 6 && !known.has(value)) {
    known.add(value);
    refreshScrubOrder();
  }
}

export function forgetSecret(value: string | null | undefined): void {
  if (value && known.delete(value)) refreshScrubOrder();
}

export function redactText(text: string): string {
  let out = text;
  for (const secret of scrubOrder) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const pattern of PATTERNS) {
    // For a one-group pattern the third argument is the match offset (a number), not a group.
    out = out.replace(pattern, (_m, a: string, b: unknown) => (typeof b === 'string' ? `${a}${REDACTED}` : REDACTED));
  }
  return out;
}
