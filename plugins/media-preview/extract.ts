/**
 * Turns one Instagram link into local files and metadata with yt-dlp (and the
 * page API for profiles), within size and time limits.
 */
import { errorMessage } from 'trellis/sdk';
/**
 * From a link to local media files plus metadata. Posts (and /share/ links,
 * which yt-dlp follows to their post) go through yt-dlp: `-J` for the
 * metadata, then `--load-info-json` to download exactly what that metadata
 * names (no second request to Instagram's API). Profiles are read from
 * Instagram's web endpoint directly: yt-dlp's profile extractor is marked
 * broken and gives no counts or bio.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetch, ProxyAgent, type Dispatcher } from 'undici';
import { classifyYtDlpError, ExtractionFailure } from './failures.ts';
import type { Link } from './links.ts';
import type { PostMeta, ProfileMeta } from './render.ts';
import { runYtDlp, type YtDlpResult, type YtDlpSettings } from './yt-dlp.ts';

export interface LocalMedia {
  kind: 'image' | 'video';
  path: string;
  mimetype: string;
  size: number;
  width?: number;
  height?: number;
  durationMs?: number;
  thumbnail?: LocalImage;
  /** A video over the size limit (yt-dlp said so): only its thumbnail is here. */
  tooLarge?: { size: number | null };
  /** A video yt-dlp saved no file for, for another reason than its size: yt-dlp's words. */
  failed?: { reason: string };
}

export interface LocalImage {
  path: string;
  mimetype: string;
  size: number;
  width?: number;
  height?: number;
}

export type Extracted = { kind: 'post'; meta: PostMeta; items: LocalMedia[] } | { kind: 'profile'; meta: ProfileMeta; recent: LocalImage[] };

export interface ExtractSettings {
  ytDlp: YtDlpSettings;
  /** Largest file to download and upload, in bytes. */
  maxBytes: number;
  profilePosts: number;
}

interface YtThumbnail {
  url?: string;
  width?: number;
  height?: number;
}

interface YtInfo {
  _type?: string;
  id?: string;
  title?: string;
  description?: string;
  channel?: string;
  uploader?: string;
  uploader_id?: string;
  timestamp?: number;
  like_count?: number;
  comment_count?: number;
  duration?: number;
  width?: number;
  height?: number;
  formats?: Array<{ url?: string; width?: number; height?: number; ext?: string; vcodec?: string }>;
  /** A single-format result (a page's og:video read by the generic extractor) has its url here and no formats. */
  url?: string;
  ext?: string;
  video_ext?: string;
  thumbnails?: YtThumbnail[];
  thumbnail?: string;
  webpage_url?: string;
  entries?: YtInfo[];
}

const MIME_BY_EXT: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
};

/** Whether yt-dlp found a video for the entry: formats with URLs, or one video URL of its own. */
function isVideoEntry(entry: YtInfo): boolean {
  if ((entry.formats ?? []).some((f) => f.url)) return true;
  return typeof entry.url === 'string' && entry.video_ext !== undefined && entry.video_ext !== 'none';
}

function mimeOf(path: string): string {
  return MIME_BY_EXT[path.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

/** The largest thumbnail yt-dlp knows (Instagram's display image). */
function bestThumbnail(info: YtInfo): YtThumbnail | undefined {
  const withSize = (info.thumbnails ?? []).filter((t) => t.url);
  return withSize.sort((a, b) => (a.width ?? 0) * (a.height ?? 0) - (b.width ?? 0) * (b.height ?? 0)).at(-1);
}

function parseJson(stdout: string, url: string): YtInfo {
  try {
    return JSON.parse(stdout) as YtInfo;
  } catch {
    throw new ExtractionFailure('unknown', `yt-dlp printed no JSON for ${url}`);
  }
}

/** Runs yt-dlp and turns a timeout or a failed exit into an ExtractionFailure; `what` names the step for the log. */
async function ytDlpOrFail(settings: YtDlpSettings, args: string[], cwd: string, what: string): Promise<YtDlpResult> {
  const result = await runYtDlp(settings, args, cwd);
  if (result.timedOut) throw new ExtractionFailure('timeout', `yt-dlp did not finish ${what} within ${settings.timeoutMs / 1000} s`);
  if (result.code !== 0) throw classifyYtDlpError(result.stderr);
  return result;
}

/** Why yt-dlp saved no file for a video, from what it printed: over the size limit, or another reason. */
export function missingVideo(output: string): Pick<LocalMedia, 'tooLarge' | 'failed'> {
  const reported = /(\d+) bytes > \d+ bytes/.exec(output);
  if (reported || /larger than max-filesize/i.test(output)) return { tooLarge: { size: reported ? Number(reported[1]) : null } };
  const error = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('ERROR:'))
    .at(-1);
  return { failed: { reason: error ? error.replace(/^ERROR:\s*/, '') : 'yt-dlp saved no file' } };
}

/**
 * `site` names where the link leads (Instagram, or the operator's name of an extra source) for the
 * caption and the notes; Instagram's own fields (handle, likes, comments) are read for Instagram only.
 */
export async function extractPost(url: string, settings: ExtractSettings, dir: string, site = 'Instagram'): Promise<Extracted> {
  const info = parseJson((await ytDlpOrFail(settings.ytDlp, ['-J', '--ignore-no-formats-error', url], dir, `reading ${url}`)).stdout, url);
  const entries = info._type === 'playlist' ? (info.entries ?? []) : [info];
  if (entries.length === 0) throw new ExtractionFailure('unavailable', `yt-dlp found no media in ${url}`);
  const infoPath = join(dir, 'info.json');
  await writeFile(infoPath, JSON.stringify(info));
  // Downloads reuse the metadata (--no-clean-info-json keeps a carousel's entries, else yt-dlp
  // asks Instagram again). Images exist only as thumbnails; an image-only item makes a normal
  // download exit 1 ("No video formats found!"), so images and videos are two runs.
  const output = ['-o', join(dir, 'media', '%(playlist_index|0)s.%(ext)s')];
  const fromInfo = ['--load-info-json', infoPath, '--no-clean-info-json'];
  await ytDlpOrFail(settings.ytDlp, [...fromInfo, '--ignore-no-formats-error', '--skip-download', '--write-thumbnail', ...output], dir, `downloading the images of ${url}`);
  const hasVideo = entries.some(isVideoEntry);
  // An Instagram carousel's images have formats too, but no duration: the filter leaves them to the thumbnail run.
  // Other sites' direct video links have no duration either (nothing probes them), so there every entry is a video.
  const videosOnly = site === 'Instagram' ? ['--match-filters', 'duration'] : [];
  const download = hasVideo
    ? await ytDlpOrFail(
        settings.ytDlp,
        [...fromInfo, '--ignore-no-formats-error', ...videosOnly, '-f', 'best[ext=mp4]/best', '--max-filesize', String(settings.maxBytes), ...output],
        dir,
        `downloading the videos of ${url}`,
      )
    : { code: 0, stdout: '', stderr: '', timedOut: false };
  const files = await readdir(join(dir, 'media')).catch(() => [] as string[]);
  const items: LocalMedia[] = [];
  for (const [i, entry] of entries.entries()) {
    const index = info._type === 'playlist' ? String(i + 1) : '0';
    const own = files.filter((f) => f.split('.')[0] === index && !f.endsWith('.part') && !f.endsWith('.ytdl'));
    const imageFile = own.find((f) => mimeOf(f).startsWith('image/'));
    const videoFile = own.find((f) => mimeOf(f).startsWith('video/'));
    const thumb = bestThumbnail(entry);
    const image: LocalImage | undefined = imageFile
      ? { path: join(dir, 'media', imageFile), mimetype: mimeOf(imageFile), size: (await stat(join(dir, 'media', imageFile))).size, width: thumb?.width, height: thumb?.height }
      : undefined;
    const isVideo = isVideoEntry(entry);
    if (isVideo) {
      const format = (entry.formats ?? []).filter((f) => f.url).at(-1);
      const base = {
        kind: 'video' as const,
        mimetype: 'video/mp4',
        width: format?.width ?? entry.width,
        height: format?.height ?? entry.height,
        durationMs: typeof entry.duration === 'number' ? Math.round(entry.duration * 1000) : undefined,
        thumbnail: image,
      };
      if (videoFile) {
        const path = join(dir, 'media', videoFile);
        const size = (await stat(path)).size;
        items.push({ ...base, path, mimetype: mimeOf(videoFile), size });
      } else {
        items.push({ ...base, path: '', size: 0, ...missingVideo(download.stdout + download.stderr) });
      }
    } else if (image) {
      items.push({ kind: 'image', ...image });
    }
  }
  if (items.length === 0) throw new ExtractionFailure('unavailable', `yt-dlp downloaded no media for ${url}`);
  const instagram = site === 'Instagram';
  return {
    kind: 'post',
    meta: {
      url: info.webpage_url ?? url,
      site,
      author: info.uploader ?? entries[0]?.uploader ?? (instagram ? undefined : info.channel),
      handle: instagram ? (info.channel ?? entries[0]?.channel) : undefined,
      caption: info.description ?? entries[0]?.description ?? (instagram ? undefined : info.title),
      likes: info.like_count ?? entries[0]?.like_count,
      comments: info.comment_count ?? entries[0]?.comment_count,
      timestamp: info.timestamp ?? entries[0]?.timestamp,
      count: items.length,
    },
    items,
  };
}

// Instagram's web app id: its web endpoints answer only requests that carry one.
const IG_HEADERS = { 'X-IG-App-ID': '936619743392459', Accept: '*/*', 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36' };

function dispatcherFor(proxy: string): Dispatcher | undefined {
  return proxy ? new ProxyAgent(proxy) : undefined;
}

async function igFetch(url: string, settings: ExtractSettings) {
  const timeout = AbortSignal.timeout(settings.ytDlp.timeoutMs);
  let res;
  try {
    res = await fetch(url, { headers: IG_HEADERS, dispatcher: dispatcherFor(settings.ytDlp.proxy), signal: timeout });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    if (timeout.aborted) throw new ExtractionFailure('timeout', `${url} did not answer within ${settings.ytDlp.timeoutMs / 1000} s`);
    throw new ExtractionFailure('unknown', `${url}: ${cause?.message ?? errorMessage(err)}`);
  }
  if (res.status === 429) {
    const retry = Number(res.headers.get('retry-after'));
    throw new ExtractionFailure('rate_limited', `${url}: HTTP 429 Too Many Requests`, Number.isFinite(retry) && retry > 0 ? retry * 1000 : null);
  }
  if (res.status === 404) throw new ExtractionFailure('deleted', `${url}: HTTP 404`);
  if (res.status === 401 || res.status === 403) throw new ExtractionFailure('login_required', `${url}: HTTP ${res.status}`);
  return res;
}

interface WebProfile {
  username?: string;
  full_name?: string;
  biography?: string;
  is_private?: boolean;
  edge_followed_by?: { count?: number };
  edge_follow?: { count?: number };
  edge_owner_to_timeline_media?: { count?: number; edges?: Array<{ node?: { display_url?: string; thumbnail_src?: string; shortcode?: string } }> };
}

async function downloadImage(url: string, path: string, settings: ExtractSettings): Promise<LocalImage | null> {
  const res = await igFetch(url, settings).catch(() => null);
  if (!res?.ok) return null;
  const data = Buffer.from(await res.arrayBuffer());
  if (data.length > settings.maxBytes) return null;
  await writeFile(path, data);
  const mimetype = res.headers.get('content-type')?.split(';')[0] ?? mimeOf(url);
  return { path, mimetype, size: data.length };
}

/**
 * A link of an extra source that answers with an image itself (yt-dlp treats only video and audio as
 * media): the image as a post of one item, within the size limit. Null when the link is something else
 * (yt-dlp then reads it) or does not answer (yt-dlp then says why).
 */
export async function extractDirectImage(url: string, settings: ExtractSettings, dir: string, site: string): Promise<Extracted | null> {
  let res;
  try {
    res = await fetch(url, {
      headers: { Accept: 'image/*,*/*;q=0.5', 'User-Agent': IG_HEADERS['User-Agent'] },
      dispatcher: dispatcherFor(settings.ytDlp.proxy),
      signal: AbortSignal.timeout(settings.ytDlp.timeoutMs),
    });
  } catch {
    return null;
  }
  const mimetype = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!res.ok || !mimetype.startsWith('image/')) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  const tooLarge = () => new ExtractionFailure('too_large', `${url}: the image is larger than ${settings.maxBytes} bytes`);
  if (Number(res.headers.get('content-length')) > settings.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  // Counted while reading: a server may send more than its Content-Length said, or none.
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > settings.maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const path = join(dir, `image.${mimetype.split('/')[1]?.replace(/[^a-z0-9]/g, '') || 'img'}`);
  await writeFile(path, Buffer.concat(chunks));
  return { kind: 'post', meta: { url, site, count: 1 }, items: [{ kind: 'image', path, mimetype, size }] };
}

export async function extractProfile(link: Link, settings: ExtractSettings, dir: string): Promise<Extracted> {
  const api = `https://i.instagram.com/api/v1/users/web_profile_info/?username=${encodeURIComponent(link.id)}`;
  const res = await igFetch(api, settings);
  if (!res.ok) throw new ExtractionFailure('unknown', `${api}: HTTP ${res.status}`);
  const body = (await res.json().catch(() => null)) as { data?: { user?: WebProfile | null } } | null;
  const user = body?.data?.user;
  if (!user) throw new ExtractionFailure('deleted', `${api}: no such user`);
  const recent: LocalImage[] = [];
  const nodes = (user.edge_owner_to_timeline_media?.edges ?? []).slice(0, settings.profilePosts);
  for (const [i, edge] of nodes.entries()) {
    const src = edge.node?.thumbnail_src ?? edge.node?.display_url;
    if (!src) continue;
    const image = await downloadImage(src, join(dir, `recent-${i}`), settings);
    if (image) recent.push(image);
  }
  return {
    kind: 'profile',
    meta: {
      url: link.url,
      handle: user.username ?? link.id,
      name: user.full_name || undefined,
      bio: user.biography || undefined,
      followers: user.edge_followed_by?.count,
      following: user.edge_follow?.count,
      posts: user.edge_owner_to_timeline_media?.count,
      isPrivate: user.is_private,
    },
    recent,
  };
}
