/** The caption and profile messages: plain text for every client, HTML that Element and Cinny render. */
import { escapeHtml } from 'trellis/sdk';

export interface PostMeta {
  url: string;
  /** Where the link leads, as the room reads it ("Instagram", or an extra source's name); absent in previews cached before it existed. */
  site?: string;
  author?: string;
  handle?: string;
  caption?: string;
  likes?: number;
  comments?: number;
  /** Unix seconds. */
  timestamp?: number;
  /** Number of media items (for "1/5" labels). */
  count: number;
}

export interface ProfileMeta {
  url: string;
  handle: string;
  name?: string;
  bio?: string;
  followers?: number;
  following?: number;
  posts?: number;
  isPrivate?: boolean;
}

const number = new Intl.NumberFormat('en-US');

function count(n: number | undefined, one: string, many: string): string | null {
  return typeof n === 'number' ? `${number.format(n)} ${n === 1 ? one : many}` : null;
}

function date(seconds: number | undefined): string | null {
  if (typeof seconds !== 'number') return null;
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

/** Shortens at a word boundary, keeping whole lines where it can. */
export function trimText(text: string, max: number): string {
  const clean = text
    .replace(/\r\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max);
  const space = cut.search(/\s\S*$/);
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

function htmlLines(text: string): string {
  return escapeHtml(text).replace(/\n/g, '<br>');
}

export function captionMessage(meta: PostMeta, maxCaption: number): { text: string; html: string } {
  const site = meta.site ?? 'Instagram';
  const who = meta.author && meta.handle ? `${meta.author} (@${meta.handle})` : meta.handle ? `@${meta.handle}` : (meta.author ?? site);
  const stats = [count(meta.likes, 'like', 'likes'), count(meta.comments, 'comment', 'comments'), date(meta.timestamp)].filter((s): s is string => s !== null);
  const caption = meta.caption ? trimText(meta.caption, maxCaption) : '';
  const text = [who + (stats.length ? ` · ${stats.join(' · ')}` : ''), caption, meta.url].filter(Boolean).join('\n');
  const whoHtml = meta.handle
    ? `${meta.author ? `<b>${escapeHtml(meta.author)}</b> ` : ''}<a href="https://www.instagram.com/${encodeURIComponent(meta.handle)}/">@${escapeHtml(meta.handle)}</a>`
    : `<b>${escapeHtml(who)}</b>`;
  const html = [
    whoHtml + (stats.length ? ` · ${escapeHtml(stats.join(' · '))}` : ''),
    caption ? `<blockquote>${htmlLines(caption)}</blockquote>` : '',
    `<a href="${escapeHtml(meta.url)}">Open on ${escapeHtml(site)}</a>`,
  ]
    .filter(Boolean)
    .join(caption ? '' : '<br>');
  return { text, html };
}

export function profileMessage(meta: ProfileMeta, maxBio: number): { text: string; html: string } {
  const title = meta.name ? `${meta.name} (@${meta.handle})` : `@${meta.handle}`;
  const stats = [count(meta.posts, 'post', 'posts'), count(meta.followers, 'follower', 'followers'), typeof meta.following === 'number' ? `${number.format(meta.following)} following` : null].filter(
    (s): s is string => s !== null,
  );
  if (meta.isPrivate) stats.push('private account');
  const bio = meta.bio ? trimText(meta.bio, maxBio) : '';
  const text = [title, stats.join(' · '), bio, meta.url].filter(Boolean).join('\n');
  const html = [
    `<b>${escapeHtml(meta.name ?? `@${meta.handle}`)}</b>${meta.name ? ` <a href="${escapeHtml(meta.url)}">@${escapeHtml(meta.handle)}</a>` : ''}`,
    stats.length ? escapeHtml(stats.join(' · ')) : '',
    bio ? `<blockquote>${htmlLines(bio)}</blockquote>` : '',
    `<a href="${escapeHtml(meta.url)}">Open on Instagram</a>`,
  ]
    .filter(Boolean)
    .join('<br>')
    .replace(/<br><blockquote>/g, '<blockquote>')
    .replace(/<\/blockquote><br>/g, '</blockquote>');
  return { text, html };
}

/** "1/5" for carousel items, nothing for a single one. */
export function itemLabel(index: number, total: number): string {
  return total > 1 ? `${index + 1}/${total}` : '';
}

export function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}
