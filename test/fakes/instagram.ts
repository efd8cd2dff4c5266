/**
 * A fake Instagram on loopback that the REAL yt-dlp (extractor/instagram.py, 2026.10.26) extracts
 * posts from exactly as from instagram.com, and that Node clients can query for profile info.
 *
 * How it works: one HTTP server on 127.0.0.1:<port> is both
 *  - an HTTP proxy: `CONNECT {www.,i.,}instagram.com:443` is answered 200 and the TLS is terminated
 *    here with a certificate for those names signed by a CA made at start (`caFile`); any other
 *    CONNECT gets 403. Plain-http proxy requests for the Instagram hosts get Instagram's 301 to https.
 *  - the media CDN: `http://127.0.0.1:<port>/media/<name>` (origin-form, or absolute-form through
 *    the proxy, which is what yt-dlp sends since --proxy applies to every URL).
 *
 * yt-dlp command lines (see test/unit/fake-instagram.test.ts):
 *   metadata: yt-dlp --proxy <proxyUrl> --no-check-certificates -J --ignore-no-formats-error
 *             --no-warnings [--cookies <cookiesFile>] https://www.instagram.com/p/<code>/
 *     (instead of --no-check-certificates, verifying works with `--compat-options no-certifi` and the
 *     environment variable SSL_CERT_FILE=<caFile>: without no-certifi yt-dlp only trusts certifi's bundle)
 *   download: yt-dlp --load-info-json <file> --ignore-no-formats-error --write-thumbnail
 *             -f 'best[ext=mp4]/best' -o '<dir>/%(playlist_index|0)s.%(ext)s' --no-warnings [--proxy <proxyUrl>]
 *     Videos land as `<n>.mp4` plus their poster as `<n>.jpg` (`mediaBytes(code, i, 'thumbnail')`). Image
 *     items have no formats, so only the thumbnail writer saves them: as `<n>.jpg` too (the largest
 *     `image_versions2` candidate = `mediaBytes(code, i, 'image')`). <n> is 0 for a single post, 1..k for
 *     carousel items in order. --no-clean-info-json is needed for carousels: without it yt-dlp drops
 *     `entries` from the loaded JSON ("There are no entries") and re-extracts the URL from the network.
 *     Exit code: 1 whenever an image item is in it ("ERROR: [Instagram] <id>: No video formats found!"
 *     from the download step, files are written anyway). Exit-0 alternative in two runs on the same
 *     JSON: `--skip-download --write-thumbnail` (all <n>.jpg) then `--match-filters duration` (<n>.mp4).
 *     The media URLs are plain http on loopback, so the download step works with or without --proxy.
 *     With --cookies, yt-dlp rewrites the cookies file on exit: copy it for concurrent runs.
 *
 * Extraction paths (no curl_cffi, so yt-dlp cannot impersonate and skips the /api/graphql POST):
 *   logged in  (cookies with `sessionid`): GET www.instagram.com/api/v1/media/<pk>/info/ → {items:[product]}
 *   logged out: GET www.instagram.com/ (csrftoken cookie, LSD token in #__eqmc) →
 *     GET /api/v1/web/get_ruling_for_content/?content_type=MEDIA&target_id=<pk> →
 *     GET /p/<code> (301 → /p/<code>/) → data-sjs RelayPrefetchedStreamCache → xig_polaris_media.
 * Post states, as Instagram answers them:
 *   private:   logged out → permalink renders without the media (login wall); a shortcode longer than
 *              28 chars (private share links) makes yt-dlp give up before the page. Logged in (not a
 *              follower) → media info 400 {"message":"Media not found or unavailable","status":"fail"}.
 *   deleted:   ruling 400, permalink 404, media info 400 "Media not found or unavailable".
 *   login_required: logged out → permalink 302 to /accounts/login/?next=...; logged in → served.
 * Shortcodes must use Instagram's alphabet and not start with 'A' (pk ↔ shortcode round trip).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { makeCerts } from './instagram/certs.ts';
import { childPk, half, homePage, loginPage, notFoundPage, numericId, pkToShortcode, postPage, product, shortcodeToPk, toJson, webProfileInfo } from './instagram/content.ts';
import type { MediaUrls } from './instagram/content.ts';
import { jpeg, mp4 } from './instagram/media.ts';

export { pkToShortcode, shortcodeToPk };

export interface FakeMediaItem {
  kind: 'image' | 'video';
  width: number;
  height: number;
  /** seconds, videos (default 1) */
  duration?: number;
  /** bytes of the served file (at least); default small */
  size?: number;
}
export interface FakePost {
  shortcode: string;
  owner: { username: string; full_name: string; pk: string };
  caption?: string;
  likes?: number;
  comments?: number;
  /** unix seconds */
  taken_at?: number;
  /** one item = single image/video post; several = carousel (sidecar) */
  items: FakeMediaItem[];
  /** how instagram answers instead of the post */
  state?: 'ok' | 'private' | 'deleted' | 'login_required';
}
export interface FakeProfile {
  username: string;
  full_name: string;
  biography: string;
  followers: number;
  following: number;
  posts: number;
  /** shortcodes shown as recent posts (thumbnails); ones never added become single 64x64 image posts */
  recent: string[];
  is_private?: boolean;
}
export type MediaKind = 'image' | 'video' | 'thumbnail' | 'small';
export interface SeenRequest {
  /** www.instagram.com, i.instagram.com, instagram.com, or 127.0.0.1:<port> for media */
  host: string;
  /** CONNECT tunnels are recorded too, with path '' */
  method: string;
  path: string;
  /** Date.now() when it arrived */
  at: number;
}

export const INSTAGRAM_HOSTS = ['www.instagram.com', 'i.instagram.com', 'instagram.com'] as const;
export const WEB_APP_ID = '936619743392459';
const IOS_APP_ID = '124024574287414';
const RATE_LIMIT_MESSAGE = 'Please wait a few minutes before you try again.';
const VIEWER = { pk: '58219000731', username: 'trellis_viewer' };

interface Served {
  body: Buffer;
  type: string;
}

export class FakeInstagram {
  readonly proxyUrl: string;
  readonly caFile: string;
  readonly cookiesFile: string;
  /** every request seen (CONNECTs, instagram.com requests inside the tunnels, media), in order */
  readonly requests: SeenRequest[] = [];
  /** the sessionid written to cookiesFile; requests carrying another one are logged out */
  readonly sessionId: string;

  private readonly dir: string;
  private readonly server: Server;
  private readonly tlsServer: Server;
  private readonly secureContext: SecureContext;
  private readonly sockets = new Set<Socket>();
  private readonly posts = new Map<string, FakePost>();
  private readonly urls = new Map<string, MediaUrls[]>();
  private readonly profiles = new Map<string, FakeProfile>();
  private readonly shares = new Map<string, string>();
  private readonly files = new Map<string, Served>();
  private rateLimited = 0;
  private downloads = 0;

  private constructor(dir: string, server: Server, tlsServer: Server, ctx: SecureContext, caFile: string, port: number) {
    this.dir = dir;
    this.server = server;
    this.tlsServer = tlsServer;
    this.secureContext = ctx;
    this.caFile = caFile;
    this.proxyUrl = `http://127.0.0.1:${port}`;
    this.cookiesFile = join(dir, 'cookies.txt');
    this.sessionId = `${VIEWER.pk}%3A${randomBytes(7).toString('base64url')}%3A12%3AAY${randomBytes(24).toString('base64url')}`;
  }

  static async start(): Promise<FakeInstagram> {
    const dir = await mkdtemp(join(tmpdir(), 'fake-instagram-'));
    const certs = await makeCerts(dir, INSTAGRAM_HOSTS);
    const ctx = createSecureContext({ cert: certs.cert, key: certs.key });
    const server = createServer();
    const tlsServer = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const fake = new FakeInstagram(dir, server, tlsServer, ctx, certs.caFile, port);
    server.on('connection', (s: Socket) => fake.track(s));
    // A malformed request must not crash the test process: answer 400 instead.
    const guard = (handle: (req: IncomingMessage, res: ServerResponse) => void) => (req: IncomingMessage, res: ServerResponse) => {
      try {
        handle(req, res);
      } catch {
        if (!res.headersSent) res.writeHead(400, { 'Content-Length': 0 });
        res.end();
      }
    };
    server.on(
      'request',
      guard((req, res) => fake.onPlain(req, res)),
    );
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => fake.onConnect(req, socket, head));
    tlsServer.on(
      'request',
      guard((req, res) => fake.onInstagram(req, res)),
    );
    const expiry = Math.floor(Date.now() / 1000) + 365 * 86400;
    const line = (name: string, value: string, httpOnly = false) => `${httpOnly ? '#HttpOnly_' : ''}.instagram.com\tTRUE\t/\tTRUE\t${expiry}\t${name}\t${value}`;
    await writeFile(
      fake.cookiesFile,
      [
        '# Netscape HTTP Cookie File',
        '# Written by the fake Instagram (test/fakes/instagram.ts)',
        '',
        line('csrftoken', randomBytes(16).toString('hex')),
        line('ds_user_id', VIEWER.pk),
        line('sessionid', fake.sessionId, true),
        '',
      ].join('\n'),
    );
    return fake;
  }

  addPost(post: FakePost): void {
    if (!post.items.length) throw new Error('a post needs at least one item');
    if (post.shortcode.startsWith('A')) throw new Error('shortcodes starting with A do not survive pk round trips');
    shortcodeToPk(post.shortcode); // validates the alphabet
    this.posts.set(post.shortcode, post);
    const urls = post.items.map((item, i): MediaUrls => {
      const label = `fake-instagram ${post.shortcode} ${i}`;
      const level = (i * 3 + post.shortcode.length) % 8;
      const u: MediaUrls = {
        image: this.serve(`${post.shortcode}_${i}_image.jpg`, 'image/jpeg', jpeg(item.width, item.height, `${label} image`, level, item.kind === 'image' ? item.size : undefined)),
        small: this.serve(`${post.shortcode}_${i}_small.jpg`, 'image/jpeg', jpeg(half(item.width), half(item.height), `${label} small`, level)),
      };
      if (item.kind === 'video') {
        u.video = this.serve(`${post.shortcode}_${i}_video.mp4`, 'video/mp4', mp4(item.width, item.height, item.duration ?? 1, `${label} video`, item.size));
        u.videoLow = this.serve(`${post.shortcode}_${i}_video_low.mp4`, 'video/mp4', mp4(half(item.width), half(item.height), item.duration ?? 1, `${label} video low`));
      }
      return u;
    });
    this.urls.set(post.shortcode, urls);
  }

  addProfile(profile: FakeProfile): void {
    this.profiles.set(profile.username, profile);
  }

  /** `https://www.instagram.com/share/<id>/` answers 302 to `/p/<shortcode>/`. */
  addShare(id: string, shortcode: string): void {
    this.shares.set(id, shortcode);
  }

  rateLimitNext(n: number): void {
    this.rateLimited = n;
  }

  mediaDownloads(): number {
    return this.downloads;
  }

  /**
   * The exact bytes served for a post item (index 0 for single posts, 0-based for carousels):
   *  - 'image': the full-size display image: the photo of an image item, the poster frame of a video;
   *  - 'thumbnail': the same file: the best `image_versions2` candidate, which is what yt-dlp's
   *    --write-thumbnail saves (so, for a video, its poster);
   *  - 'video': the best (full-size) mp4 of a video item;
   *  - 'small': the half-size candidate (the profile's `thumbnail_src`).
   */
  mediaBytes(shortcode: string, index: number, kind: MediaKind): Buffer {
    const name = kind === 'video' ? 'video.mp4' : kind === 'small' ? 'small.jpg' : 'image.jpg';
    const file = this.files.get(`${shortcode}_${index}_${name}`);
    if (!file) throw new Error(`no ${kind} for ${shortcode}[${index}]`);
    return file.body;
  }

  /** URL of a post item's media as it appears in the JSON (same kinds as mediaBytes). */
  mediaUrl(shortcode: string, index: number, kind: MediaKind): string {
    const u = this.urls.get(shortcode)?.[index]?.[kind === 'thumbnail' ? 'image' : kind];
    if (!u) throw new Error(`no ${kind} for ${shortcode}[${index}]`);
    return u;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.tlsServer.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ transport

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }

  private serve(name: string, type: string, body: Buffer): string {
    this.files.set(name, { body, type });
    const sig = randomBytes(16).toString('hex');
    return `${this.proxyUrl}/media/${name}?_nc_ht=127.0.0.1&_nc_cat=1&oh=00_${sig}&oe=${(Math.floor(Date.now() / 1000) + 86400 * 7).toString(16).toUpperCase()}`;
  }

  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const [host, port] = (req.url ?? '').split(':');
    this.requests.push({ host, method: 'CONNECT', path: '', at: Date.now() });
    socket.on('error', () => socket.destroy());
    if (!(INSTAGRAM_HOSTS as readonly string[]).includes(host) || port !== '443') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    const tls = new TLSSocket(socket, { isServer: true, secureContext: this.secureContext, ALPNProtocols: ['http/1.1'] });
    tls.on('error', () => socket.destroy());
    this.tlsServer.emit('connection', tls);
  }

  /** Requests to the proxy port itself: media, or absolute-form proxy requests. */
  private onPlain(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.url ?? '/';
    const url = raw.startsWith('/') ? new URL(raw, this.proxyUrl) : new URL(raw);
    this.requests.push({ host: url.host, method: req.method ?? 'GET', path: url.pathname, at: Date.now() });
    if ((INSTAGRAM_HOSTS as readonly string[]).includes(url.hostname)) {
      res.writeHead(301, { Location: `https://${url.host}${url.pathname}${url.search}`, 'Content-Length': 0 }).end();
      return;
    }
    if (url.origin !== new URL(this.proxyUrl).origin) {
      res.writeHead(403, { 'Content-Length': 0 }).end();
      return;
    }
    const file = url.pathname.startsWith('/media/') ? this.files.get(url.pathname.slice('/media/'.length)) : undefined;
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 9 }).end('Not Found');
      return;
    }
    if (req.method === 'GET') this.downloads++;
    const headers: Record<string, string | number> = {
      'Content-Type': file.type,
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'max-age=1209600, no-transform',
      'Last-Modified': 'Tue, 14 Nov 2023 22:13:20 GMT',
      'Access-Control-Allow-Origin': '*',
      'timing-allow-origin': '*',
    };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let body = file.body;
    let status = 200;
    if (range && (range[1] || range[2])) {
      const size = body.length;
      const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 }).end();
        return;
      }
      body = body.subarray(start, end + 1);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = body.length;
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  // ------------------------------------------------------------------ instagram.com

  private onInstagram(req: IncomingMessage, res: ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:443$/, '');
    const url = new URL(req.url ?? '/', `https://${host}`);
    const path = url.pathname;
    this.requests.push({ host, method: req.method ?? 'GET', path, at: Date.now() });
    const send = (status: number, body: string, type: string, extra: Record<string, string | string[]> = {}) => {
      res.writeHead(status, {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'private, no-cache, no-store, must-revalidate',
        Pragma: 'no-cache',
        Vary: 'Accept-Encoding',
        'X-Frame-Options': 'SAMEORIGIN',
        'X-Content-Type-Options': 'nosniff',
        'Strict-Transport-Security': 'max-age=31536000; preload; includeSubDomains',
        'X-FB-Debug': randomBytes(32).toString('base64'),
        ...extra,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const json = (status: number, value: unknown, extra: Record<string, string | string[]> = {}) => send(status, toJson(value), 'application/json; charset=utf-8', extra);
    const html = (status: number, body: string, extra: Record<string, string | string[]> = {}) => send(status, body, 'text/html; charset="utf-8"', extra);
    const redirect = (status: number, location: string) => send(status, '', 'text/html; charset="utf-8"', { Location: location });
    const isApi = path.startsWith('/api/');

    if (this.rateLimited > 0) {
      this.rateLimited--;
      if (isApi) json(429, { message: RATE_LIMIT_MESSAGE, require_login: true, status: 'fail' });
      else html(429, RATE_LIMIT_MESSAGE);
      return;
    }
    if (host === 'instagram.com') return redirect(301, `https://www.instagram.com${path}${url.search}`);
    if (host === 'i.instagram.com' && !isApi) return html(404, notFoundPage());

    const loggedIn = this.cookie(req, 'sessionid') === this.sessionId;
    const appId = req.headers['x-ig-app-id'];
    if (isApi && appId !== WEB_APP_ID && appId !== IOS_APP_ID) return json(400, { message: 'useragent mismatch', status: 'fail' });
    const unavailable = () => json(400, { message: 'Media not found or unavailable', status: 'fail' });
    let m: RegExpExecArray | null;

    if (path === '/' && req.method !== 'POST') {
      const cookie = (name: string, value: string, days: number, httpOnly = false) =>
        `${name}=${value}; Domain=.instagram.com; expires=${new Date(Date.now() + days * 86400_000).toUTCString()}; Max-Age=${days * 86400}; Path=/; Secure${httpOnly ? '; HttpOnly' : ''}`;
      return html(200, homePage(randomBytes(16).toString('base64url').slice(0, 22)), {
        'Set-Cookie': [
          cookie('csrftoken', randomBytes(16).toString('base64url'), 365),
          cookie('mid', randomBytes(21).toString('base64url'), 400),
          cookie('ig_did', randomBytes(16).toString('hex').toUpperCase(), 400, true),
        ],
      });
    }
    if (path === '/api/v1/web/get_ruling_for_content/') {
      const post = this.postByPk(url.searchParams.get('target_id'));
      if (!post || post.state === 'deleted') return unavailable();
      return json(200, { status: 'ok' });
    }
    if ((m = /^\/api\/v1\/media\/(\d+)\/info\/$/.exec(path))) {
      if (!loggedIn) return redirect(302, `https://www.instagram.com/accounts/login/?next=${encodeURIComponent(path)}`);
      const post = this.postByPk(m[1]);
      if (!post || post.state === 'deleted' || post.state === 'private') return unavailable();
      return json(200, { items: [this.product(post)], num_results: 1, more_available: false, auto_load_more_enabled: false, status: 'ok' });
    }
    if (path === '/api/graphql' && req.method === 'POST') {
      // Only reached by a yt-dlp that can impersonate a browser (curl_cffi); same data as the permalink.
      return void this.readBody(req)
        .then((body) => {
          const vars = JSON.parse(new URLSearchParams(body).get('variables') ?? '{}') as { media_id?: string };
          const post = this.postByPk(vars.media_id ?? null);
          const visible = post && (post.state ?? 'ok') === 'ok';
          json(200, { data: { xig_polaris_media: visible ? { if_not_gated_logged_out: this.product(post) } : null }, extensions: { is_final: true } });
        })
        .catch(() => json(400, { message: 'Invalid request', status: 'fail' }));
    }
    if (path === '/api/v1/users/web_profile_info/') {
      const profile = this.profiles.get(url.searchParams.get('username') ?? '');
      if (!profile) return json(404, { message: 'User not found', status: 'fail' });
      return json(200, this.profileInfo(profile));
    }
    if (isApi) return json(404, { message: 'Page not found', status: 'fail' });
    if ((m = /^\/share\/(?:(?:p|reel|reels)\/)?([^/]+)\/?$/.exec(path))) {
      const code = this.shares.get(m[1]);
      return code ? redirect(302, `https://www.instagram.com/p/${code}/`) : html(404, notFoundPage());
    }
    if ((m = /^(?:\/[^/]+)?\/(p|reels?|tv)\/([^/]+)(\/?)$/.exec(path))) {
      if (!m[3]) return redirect(301, `https://www.instagram.com${path}/${url.search}`);
      const post = this.posts.get(m[2]);
      if (!post || post.state === 'deleted') return html(404, notFoundPage());
      if (post.state === 'login_required' && !loggedIn) {
        return redirect(302, `https://www.instagram.com/accounts/login/?next=${encodeURIComponent(path)}`);
      }
      const visible = post.state !== 'private';
      return html(200, postPage(post, visible ? { if_not_gated_logged_out: this.product(post) } : null, visible ? this.urls.get(post.shortcode)![0].image : null));
    }
    if (path === '/accounts/login/') return html(200, loginPage());
    return html(404, notFoundPage());
  }

  private cookie(req: IncomingMessage, name: string): string | undefined {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === name) return v.join('=');
    }
    return undefined;
  }

  private readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  private postByPk(pk: string | null): FakePost | undefined {
    if (!pk || !/^\d+$/.test(pk)) return undefined;
    const want = BigInt(pk);
    for (const post of this.posts.values()) if (shortcodeToPk(post.shortcode) === want) return post;
    return undefined;
  }

  private profilePic(username: string): string {
    const name = `profile_${username}.jpg`;
    if (!this.files.has(name)) this.files.set(name, { body: jpeg(32, 32, `fake-instagram profile ${username}`), type: 'image/jpeg' });
    return `${this.proxyUrl}/media/${name}`;
  }

  private product(post: FakePost): Record<string, unknown> {
    return product(post, this.urls.get(post.shortcode)!, this.profilePic(post.owner.username));
  }

  private profileInfo(profile: FakeProfile): Record<string, unknown> {
    const own = [...this.posts.values()].find((p) => p.owner.username === profile.username);
    const id = own?.owner.pk ?? numericId(profile.username);
    const recent = profile.recent.map((code) => {
      if (!this.posts.has(code)) {
        this.addPost({ shortcode: code, owner: { username: profile.username, full_name: profile.full_name, pk: id }, items: [{ kind: 'image', width: 64, height: 64 }] });
      }
      return { post: this.posts.get(code)!, urls: this.urls.get(code)! };
    });
    return webProfileInfo(profile, id, this.profilePic(profile.username), recent);
  }
}

/** pk of a carousel child, as yt-dlp turns it into the entry id (`pkToShortcode(childPk)`). */
export function carouselEntryId(post: FakePost, index: number): string {
  return pkToShortcode(childPk(post, index));
}
