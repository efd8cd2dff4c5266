/** What GitHub and GitLab messages share: commit lines and branch names. */
import { type Piece, clip, code, firstLine, link, list, safeUrl, seq } from './html.ts';
import { type Obj, str } from './read.ts';

export const MAX_COMMITS = 5;
/** A ref of all zeros: the push created (before) or deleted (after) the branch. */
export const ZERO_SHA = /^0+$/;

/** refs/heads/main → main, refs/tags/v1 → v1. */
export function refName(ref: string | undefined): string {
  return (ref ?? '').replace(/^refs\/(heads|tags)\//, '');
}

export function isTagRef(ref: string | undefined): boolean {
  return (ref ?? '').startsWith('refs/tags/');
}

/** "abc1234 Fix the thing — Ann": the short sha links to the commit. */
export function commitItem(commit: Obj, author: string | undefined): Piece {
  const sha = str(commit.id)?.slice(0, 7) ?? '';
  const message = str(commit.title) ?? firstLine(str(commit.message) ?? '');
  const shaPiece = safeUrl(commit.url) ? link(commit.url, code(sha)) : code(sha);
  return seq(sha ? shaPiece : undefined, sha ? ' ' : undefined, clip(message, 120), author ? ` — ${author}` : undefined);
}

/** Up to MAX_COMMITS commits, then "and N more" (GitLab reports a total beyond the commits it includes). */
export function commitList(commits: Obj[], authorOf: (commit: Obj) => string | undefined, total = commits.length): Piece | undefined {
  const shown = commits.slice(0, MAX_COMMITS);
  return list(
    shown.map((c) => commitItem(c, authorOf(c))),
    MAX_COMMITS,
    Math.max(0, total - shown.length),
  );
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
