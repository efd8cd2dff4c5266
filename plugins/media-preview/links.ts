/**
 * Finds the links a message asks to preview. Instagram is built in; other
 * sites yt-dlp supports are opt-in through `extra_sources` patterns.
 */

export type Link =
  | { source: 'instagram'; kind: 'post'; id: string; url: string }
  | { source: 'instagram'; kind: 'profile'; id: string; url: string }
  | { source: 'instagram'; kind: 'share'; id: string; url: string }
  | { source: string; kind: 'generic'; id: string; url: string };

export interface ExtraSource {
  name: string;
  /** A regular expression matched against each URL in the message. */
  pattern: string;
}

// Not usernames: Instagram's own top-level paths.
const RESERVED = new Set([
  'p',
  'reel',
  'reels',
  'tv',
  'share',
  'stories',
  'explore',
  'accounts',
  'direct',
  'about',
  'developer',
  'legal',
  'web',
  'api',
  'static',
  'emails',
  'challenge',
  'privacy',
  'terms',
  'session',
  'graphql',
  'ar',
  'topics',
  'directory',
  'locations',
]);
const USERNAME = /^[A-Za-z0-9._]{1,30}$/;
const SHORTCODE = /^[A-Za-z0-9_-]{5,64}$/;
const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const HREF = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;
// Punctuation that ends a sentence or wraps a link in prose is not part of it.
const TRAILING_JUNK = /[.,;:!?)\]}>'"*_~]+$/;

/** Canonical form of one Instagram URL, or null if it is not one we preview. */
export function parseInstagram(raw: string): Link | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const host = url.hostname.toLowerCase();
  if (!['instagram.com', 'www.instagram.com', 'm.instagram.com', 'instagr.am', 'www.instagr.am'].includes(host)) return null;
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts.length === 0) return null;
  const [first, second, third] = parts as [string, string | undefined, string | undefined];
  const post = (code: string | undefined): Link | null => (code && SHORTCODE.test(code) ? { source: 'instagram', kind: 'post', id: code, url: `https://www.instagram.com/p/${code}/` } : null);
  const lower = first.toLowerCase();
  if (['p', 'reel', 'reels', 'tv'].includes(lower)) return post(second);
  if (lower === 'share') {
    // /share/<id>/, /share/p/<id>/, /share/reel/<id>/: only Instagram knows the post behind it.
    const id = second && ['p', 'reel', 'reels', 'tv'].includes(second.toLowerCase()) ? third : second;
    if (!id || !SHORTCODE.test(id)) return null;
    return { source: 'instagram', kind: 'share', id, url: `https://www.instagram.com/share/${second === id ? '' : `${second}/`}${id}/` };
  }
  if (RESERVED.has(lower) || !USERNAME.test(first)) return null;
  // /<user>/p/<code>/ and /<user>/reel/<code>/ are posts; /<user>/ alone is the profile.
  if (second && ['p', 'reel', 'reels', 'tv'].includes(second.toLowerCase())) return post(third);
  if (second) return null;
  return { source: 'instagram', kind: 'profile', id: lower, url: `https://www.instagram.com/${lower}/` };
}

function candidates(body: string, html: string | undefined): string[] {
  const found: string[] = [];
  for (const text of [body, html ?? '']) {
    for (const m of text.matchAll(URL_IN_TEXT)) found.push(m[0]);
  }
  if (html) for (const m of html.matchAll(HREF)) found.push((m[1] ?? m[2] ?? '').replace(/&amp;/g, '&'));
  return found.map((u) => u.replace(TRAILING_JUNK, '')).filter((u) => /^https?:\/\//i.test(u));
}

/** Every distinct link of the message that should be previewed, in order of appearance. */
export function findLinks(body: string, html: string | undefined, extra: ExtraSource[] = []): Link[] {
  const patterns = extra.map((s) => ({ name: s.name, re: new RegExp(s.pattern, 'i') }));
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const candidate of candidates(body, html)) {
    let link: Link | null = parseInstagram(candidate);
    if (!link) {
      const source = patterns.find((p) => p.re.test(candidate));
      if (source) link = { source: source.name, kind: 'generic', id: candidate, url: candidate };
    }
    if (!link) continue;
    const key = linkKey(link);
    if (seen.has(key)) continue;
    seen.add(key);
    links.push(link);
  }
  return links;
}

/** Identity of what a link shows: the same post through /p/ and /reel/ is one key. */
export function linkKey(link: Link): string {
  return `${link.source}:${link.kind}:${link.id}`;
}
