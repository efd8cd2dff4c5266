/**
 * The fake Instagram (test/fakes/instagram.ts) against the REAL yt-dlp from the project's .venv,
 * and Node's built-in https client through the same proxy (https.Agent `proxyEnv`, Node >= 24.5).
 * Skipped when yt-dlp is not installed (override the binary with YTDLP=/path/to/yt-dlp).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeInstagram, WEB_APP_ID, carouselEntryId, shortcodeToPk } from '../fakes/instagram.ts';
import type { FakePost } from '../fakes/instagram.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const YTDLP = process.env.YTDLP ?? join(ROOT, '.venv', 'bin', 'yt-dlp');

const owner = { username: 'natgeo', full_name: 'National Geographic', pk: '787132' };
const IMAGE: FakePost = {
  shortcode: 'CxImg000001',
  owner,
  caption: 'A photo <b>&</b> "quotes" / slashes',
  likes: 12,
  comments: 3,
  taken_at: 1_700_000_123,
  items: [{ kind: 'image', width: 64, height: 48 }],
};
const VIDEO: FakePost = {
  shortcode: 'CxVid000001',
  owner,
  caption: 'A video',
  likes: 5,
  comments: 1,
  taken_at: 1_700_000_456,
  items: [{ kind: 'video', width: 64, height: 48, duration: 2.5, size: 20_000 }],
};
const CAROUSEL: FakePost = {
  shortcode: 'DaCar000001',
  owner,
  caption: 'Three things',
  likes: 99,
  comments: 7,
  taken_at: 1_700_000_789,
  items: [
    { kind: 'image', width: 64, height: 48 },
    { kind: 'video', width: 48, height: 64, duration: 1.5 },
    { kind: 'image', width: 32, height: 32 },
  ],
};
const PRIVATE: FakePost = { shortcode: 'CxPri000001', owner, state: 'private', items: [{ kind: 'image', width: 64, height: 48 }] };
/** private posts shared from the app carry 28 extra characters */
const PRIVATE_LONG: FakePost = { ...PRIVATE, shortcode: 'CxPrl000001' + 'abcdefghijklmnopqrstuvwxyz01' };
const DELETED: FakePost = { shortcode: 'CxDel000001', owner, state: 'deleted', items: [{ kind: 'image', width: 64, height: 48 }] };
const LOGIN: FakePost = { shortcode: 'CxLog000001', owner, state: 'login_required', caption: 'gated', items: [{ kind: 'video', width: 64, height: 48, duration: 3 }] };
const RATE: FakePost = { shortcode: 'CxRat000001', owner, items: [{ kind: 'image', width: 64, height: 48 }] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ytdlp(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(YTDLP, ['--ignore-config', '--no-cache-dir', ...args], { env: { ...process.env, ...env }, timeout: 20_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('fake Instagram with the real yt-dlp', () => {
  before(() => {
    // npm test installs it; running this file alone without it is a setup error, not a pass.
    if (!existsSync(YTDLP)) throw new Error(`yt-dlp not installed at ${YTDLP}: run npm run setup:yt-dlp`);
  });
  let ig: FakeInstagram;
  let tmp: string;
  let n = 0;
  const dir = (name: string) => mkdtempSync(join(tmp, `${name}-${n++}-`));
  const postUrl = (p: FakePost) => `https://www.instagram.com/p/${p.shortcode}/`;

  /** metadata: yt-dlp -J through the proxy; `cookies` copies the fake's cookies.txt (yt-dlp rewrites it) */
  async function extract(post: FakePost, cookies = false): Promise<Run & { info: Record<string, any> | null }> {
    const args = ['--proxy', ig.proxyUrl, '--no-check-certificates', '-J', '--ignore-no-formats-error', '--no-warnings'];
    if (cookies) {
      const file = join(dir('cookies'), 'cookies.txt');
      copyFileSync(ig.cookiesFile, file);
      args.push('--cookies', file);
    }
    const run = await ytdlp([...args, postUrl(post)]);
    return { ...run, info: run.code === 0 ? JSON.parse(run.stdout) : null };
  }

  /** download from the saved info JSON; returns the output dir's files */
  async function download(info: unknown, extra: string[]): Promise<Run & { out: string; files: string[] }> {
    const d = dir('dl');
    const infoFile = join(d, 'info.json');
    writeFileSync(infoFile, JSON.stringify(info));
    const out = join(d, 'out');
    const run = await ytdlp([
      '--load-info-json',
      infoFile,
      '--no-clean-info-json',
      '--ignore-no-formats-error',
      '-f',
      'best[ext=mp4]/best',
      '-o',
      join(out, '%(playlist_index|0)s.%(ext)s'),
      '--no-warnings',
      ...extra,
    ]);
    return { ...run, out, files: existsSync(out) ? readdirSync(out).sort() : [] };
  }

  function assertThumbnails(entry: Record<string, any>, item: { width: number; height: number }, full: string) {
    const thumbs = entry.thumbnails as { url: string; width: number; height: number }[];
    assert.equal(thumbs.length, 2);
    // yt-dlp reverses image_versions2.candidates: the last (best) one is the full-size display image
    assert.deepEqual(
      thumbs.map((t) => [t.width, t.height]),
      [
        [item.width / 2, item.height / 2],
        [item.width, item.height],
      ],
    );
    assert.equal(thumbs[1].url, full);
    assert.equal(entry.thumbnail, full);
  }

  before(async () => {
    ig = await FakeInstagram.start();
    tmp = mkdtempSync(join(tmpdir(), 'fake-instagram-test-'));
    for (const p of [IMAGE, VIDEO, CAROUSEL, PRIVATE, PRIVATE_LONG, DELETED, LOGIN, RATE]) ig.addPost(p);
  });
  after(async () => {
    await ig?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('image post, logged out: metadata via the permalink page, image saved by the thumbnail writer', async () => {
    const before = ig.requests.length;
    const { code, stderr, info } = await extract(IMAGE);
    assert.equal(code, 0, stderr);
    const paths = ig.requests
      .slice(before)
      .filter((r) => r.method !== 'CONNECT')
      .map((r) => r.path);
    assert.deepEqual(paths, ['/', '/api/v1/web/get_ruling_for_content/', `/p/${IMAGE.shortcode}`, `/p/${IMAGE.shortcode}/`]);
    assert.ok(info);
    assert.equal(info._type, 'video');
    assert.equal(info.id, IMAGE.shortcode);
    assert.equal(info.channel, 'natgeo');
    assert.equal(info.uploader, 'National Geographic');
    assert.equal(info.uploader_id, '787132');
    assert.equal(info.description, IMAGE.caption);
    assert.equal(info.like_count, 12);
    assert.equal(info.comment_count, 3);
    assert.equal(info.timestamp, 1_700_000_123);
    assert.deepEqual(info.formats, []);
    assertThumbnails(info, IMAGE.items[0], ig.mediaUrl(IMAGE.shortcode, 0, 'image'));
    assert.equal(ig.mediaDownloads(), 0, '-J downloads nothing');

    // the brief's one-step download: the image lands as 0.jpg but yt-dlp exits 1 (no formats to "download")
    const one = await download(info, ['--write-thumbnail']);
    assert.equal(one.code, 1);
    assert.match(one.stderr, new RegExp(`ERROR: \\[Instagram\\] ${IMAGE.shortcode}: No video formats found!`));
    assert.deepEqual(one.files, ['0.jpg']);
    assert.deepEqual(readFileSync(join(one.out, '0.jpg')), ig.mediaBytes(IMAGE.shortcode, 0, 'image'));
    // clean alternative: thumbnails with --skip-download (exit 0), videos with --match-filters duration (exit 0)
    const thumbs = await download(info, ['--write-thumbnail', '--skip-download']);
    assert.equal(thumbs.code, 0, thumbs.stderr);
    assert.deepEqual(thumbs.files, ['0.jpg']);
    const videos = await download(info, ['--match-filters', 'duration']);
    assert.equal(videos.code, 0, videos.stderr);
    assert.deepEqual(videos.files, []);
  });

  test('video post, logged out: formats, duration, mp4 and poster downloaded byte for byte', async () => {
    const downloads = ig.mediaDownloads();
    const { code, stderr, info } = await extract(VIDEO);
    assert.equal(code, 0, stderr);
    assert.ok(info);
    assert.equal(info._type, 'video');
    assert.equal(info.duration, 2.5);
    assert.equal(info.like_count, 5);
    assert.equal(info.timestamp, 1_700_000_456);
    const formats = (info.formats as { url: string; width: number; height: number; ext: string }[]).map((f) => [f.width, f.height, f.ext]);
    assert.deepEqual(formats, [
      [32, 24, 'mp4'],
      [64, 48, 'mp4'],
    ]);
    assert.equal(info.formats[1].url, ig.mediaUrl(VIDEO.shortcode, 0, 'video'));
    assert.equal(info.url, ig.mediaUrl(VIDEO.shortcode, 0, 'video'), 'the selected (best) format');
    assertThumbnails(info, VIDEO.items[0], ig.mediaUrl(VIDEO.shortcode, 0, 'image'));

    const dl = await download(info, ['--write-thumbnail']);
    assert.equal(dl.code, 0, dl.stderr);
    assert.deepEqual(dl.files, ['0.jpg', '0.mp4']);
    assert.deepEqual(readFileSync(join(dl.out, '0.mp4')), ig.mediaBytes(VIDEO.shortcode, 0, 'video'));
    assert.equal(ig.mediaBytes(VIDEO.shortcode, 0, 'video').length, 20_000);
    assert.deepEqual(readFileSync(join(dl.out, '0.jpg')), ig.mediaBytes(VIDEO.shortcode, 0, 'thumbnail'));
    assert.deepEqual(ig.mediaBytes(VIDEO.shortcode, 0, 'thumbnail'), ig.mediaBytes(VIDEO.shortcode, 0, 'image'));
    assert.equal(ig.mediaDownloads() - downloads, 2, 'the mp4 and its poster');
  });

  test('carousel, logged out: playlist with entries in order, files 1.jpg, 2.jpg + 2.mp4, 3.jpg', async () => {
    const { code, stderr, info } = await extract(CAROUSEL);
    assert.equal(code, 0, stderr);
    assert.ok(info);
    assert.equal(info._type, 'playlist');
    assert.equal(info.id, CAROUSEL.shortcode);
    assert.equal(info.title, 'Post by natgeo');
    assert.equal(info.channel, 'natgeo');
    assert.equal(info.description, 'Three things');
    assert.equal(info.like_count, 99);
    const entries = info.entries as Record<string, any>[];
    assert.deepEqual(
      entries.map((e) => e.id),
      [0, 1, 2].map((i) => carouselEntryId(CAROUSEL, i)),
    );
    assert.deepEqual(
      entries.map((e) => e.playlist_index),
      [1, 2, 3],
    );
    CAROUSEL.items.forEach((item, i) => assertThumbnails(entries[i], item, ig.mediaUrl(CAROUSEL.shortcode, i, 'image')));
    assert.deepEqual(
      entries.map((e) => e.formats.length),
      [0, 2, 0],
    );
    assert.equal(entries[1].duration, 1.5);
    assert.deepEqual([entries[1].width, entries[1].height], [48, 64]);
    for (const e of entries) assert.equal(e.channel, 'natgeo');

    const dl = await download(info, ['--write-thumbnail']);
    assert.equal(dl.code, 1, 'image entries have no formats');
    assert.equal(dl.stderr.match(/No video formats found!/g)?.length, 2);
    assert.deepEqual(dl.files, ['1.jpg', '2.jpg', '2.mp4', '3.jpg']);
    for (const [file, i, kind] of [
      ['1.jpg', 0, 'image'],
      ['2.jpg', 1, 'image'],
      ['2.mp4', 1, 'video'],
      ['3.jpg', 2, 'image'],
    ] as const) {
      assert.deepEqual(readFileSync(join(dl.out, file)), ig.mediaBytes(CAROUSEL.shortcode, i, kind), file);
    }
    // without --no-clean-info-json yt-dlp drops `entries` from the loaded JSON and re-extracts the URL
  });

  test('logged in with cookies: media info API, same JSON as logged out', async () => {
    const before = ig.requests.length;
    const [img, vid, car] = await Promise.all([extract(IMAGE, true), extract(VIDEO, true), extract(CAROUSEL, true)]);
    for (const r of [img, vid, car]) assert.equal(r.code, 0, r.stderr);
    const paths = ig.requests
      .slice(before)
      .filter((r) => r.method !== 'CONNECT')
      .map((r) => r.path)
      .sort();
    assert.deepEqual(paths, [CAROUSEL, IMAGE, VIDEO].map((p) => `/api/v1/media/${shortcodeToPk(p.shortcode)}/info/`).sort());
    const { info: li } = img;
    assert.ok(li && vid.info && car.info);
    assert.equal(li.channel, 'natgeo');
    assert.equal(li.description, IMAGE.caption);
    assert.equal(li.timestamp, 1_700_000_123);
    assertThumbnails(li, IMAGE.items[0], ig.mediaUrl(IMAGE.shortcode, 0, 'image'));
    assert.equal(vid.info.duration, 2.5);
    assert.equal(vid.info.url, ig.mediaUrl(VIDEO.shortcode, 0, 'video'));
    assert.equal(car.info._type, 'playlist');
    assert.deepEqual(
      car.info.entries.map((e: { id: string }) => e.id),
      [0, 1, 2].map((i) => carouselEntryId(CAROUSEL, i)),
    );
    const dl = await download(vid.info, ['--write-thumbnail']);
    assert.equal(dl.code, 0, dl.stderr);
    assert.deepEqual(readFileSync(join(dl.out, '0.mp4')), ig.mediaBytes(VIDEO.shortcode, 0, 'video'));
  });

  test('private post: login wall logged out, 400 "Media not found or unavailable" logged in', async () => {
    const [out, long, inn] = await Promise.all([extract(PRIVATE), extract(PRIVATE_LONG), extract(PRIVATE, true)]);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^ERROR: \[Instagram\] CxPri000001: Instagram sent an empty media response\. Check if this post is accessible in your browser without being logged-in\. If it is not, then use --cookies-from-browser or --cookies for the authentication\./m,
    );
    assert.equal(long.code, 1);
    assert.match(
      long.stderr,
      /ERROR: \[Instagram\] CxPrl000001\w{28}: This content is only available for registered users who follow this account\. Use --cookies-from-browser or --cookies for the authentication\./,
    );
    assert.equal(inn.code, 1);
    assert.match(inn.stderr, /^ERROR: \[Instagram\] CxPri000001: Video info extraction failed: HTTP Error 400: Bad Request \(caused by <HTTPError 400: Bad Request>\)$/m);
  });

  test('deleted post: permalink 404 logged out, 400 logged in', async () => {
    const [out, inn] = await Promise.all([extract(DELETED), extract(DELETED, true)]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /^ERROR: \[Instagram\] CxDel000001: Unable to download webpage: HTTP Error 404: Not Found \(caused by <HTTPError 404: Not Found>\)$/m);
    assert.equal(inn.code, 1);
    assert.match(inn.stderr, /^ERROR: \[Instagram\] CxDel000001: Video info extraction failed: HTTP Error 400: Bad Request/m);
  });

  test('login-required post: redirected to the login page logged out, served logged in', async () => {
    const [out, inn] = await Promise.all([extract(LOGIN), extract(LOGIN, true)]);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^ERROR: \[Instagram\] CxLog000001: The webpage request was redirected to the login page\. You have exceeded the rate-limit for accessing posts anonymously\. Use --cookies-from-browser or --cookies for the authentication\./m,
    );
    assert.ok(ig.requests.some((r) => r.path === '/accounts/login/'));
    assert.equal(inn.code, 0, inn.stderr);
    assert.equal(inn.info?.description, 'gated');
    assert.equal(inn.info?.duration, 3);
  });

  test('rate limited: HTTP 429 on the first Instagram request, then normal again', async () => {
    ig.rateLimitNext(1);
    const out = await extract(RATE);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /^ERROR: \[Instagram\] CxRat000001: Unable to download webpage: HTTP Error 429: Too Many Requests \(caused by <HTTPError 429: Too Many Requests>\)$/m);
    ig.rateLimitNext(1);
    const inn = await extract(RATE, true);
    assert.equal(inn.code, 1);
    assert.match(inn.stderr, /^ERROR: \[Instagram\] CxRat000001: Video info extraction failed: HTTP Error 429: Too Many Requests \(caused by <HTTPError 429: Too Many Requests>\)$/m);
    const ok = await extract(RATE);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('share link: the generic extractor follows the 302 and hands the post to the Instagram extractor', async () => {
    ig.addShare('BsHaRe0001', VIDEO.shortcode);
    const run = await ytdlp(['--proxy', ig.proxyUrl, '--no-check-certificates', '-J', '--no-warnings', 'https://www.instagram.com/share/BsHaRe0001/']);
    assert.equal(run.code, 0, run.stderr);
    const info = JSON.parse(run.stdout);
    assert.equal(info.extractor, 'Instagram');
    assert.equal(info.id, VIDEO.shortcode);
    assert.equal(info.webpage_url, postUrl(VIDEO));
    assert.equal(info.duration, 2.5);
  });

  test('yt-dlp verifies the fake CA with --compat-options no-certifi and SSL_CERT_FILE', async () => {
    const base = ['--proxy', ig.proxyUrl, '-J', '--ignore-no-formats-error', '--no-warnings', postUrl(IMAGE)];
    const [verified, certifi] = await Promise.all([ytdlp(['--compat-options', 'no-certifi', ...base], { SSL_CERT_FILE: ig.caFile }), ytdlp(base, { SSL_CERT_FILE: ig.caFile })]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(JSON.parse(verified.stdout).id, IMAGE.shortcode);
    assert.equal(certifi.code, 1);
    assert.match(certifi.stderr, /CERTIFICATE_VERIFY_FAILED/);
  });

  describe('Node clients through the proxy', () => {
    const agent = () => new Agent({ proxyEnv: { HTTPS_PROXY: ig.proxyUrl }, ca: readFileSync(ig.caFile) });
    function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
      return new Promise((resolve, reject) => {
        const req = url.startsWith('https:') ? httpsRequest(url, { agent: agent(), headers }) : httpRequest(url, { headers });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end();
      });
    }

    test('web_profile_info on i.instagram.com and www.instagram.com', async () => {
      ig.addProfile({
        username: 'natgeo',
        full_name: 'National Geographic',
        biography: 'Taking our understanding of the world further.',
        followers: 283_000_000,
        following: 150,
        posts: 31_000,
        recent: [IMAGE.shortcode, VIDEO.shortcode, CAROUSEL.shortcode, 'CxNew000001'],
      });
      ig.addProfile({ username: 'secret', full_name: 'Secret', biography: '', followers: 3, following: 4, posts: 5, recent: ['CxSec000001'], is_private: true });
      for (const host of ['i.instagram.com', 'www.instagram.com']) {
        const res = await get(`https://${host}/api/v1/users/web_profile_info/?username=natgeo`, { 'X-IG-App-ID': WEB_APP_ID });
        assert.equal(res.status, 200);
        assert.match(String(res.headers['content-type']), /^application\/json/);
        const user = JSON.parse(res.body.toString()).data.user;
        assert.equal(user.username, 'natgeo');
        assert.equal(user.full_name, 'National Geographic');
        assert.equal(user.id, '787132');
        assert.equal(user.edge_followed_by.count, 283_000_000);
        assert.equal(user.edge_follow.count, 150);
        assert.equal(user.is_private, false);
        const media = user.edge_owner_to_timeline_media;
        assert.equal(media.count, 31_000);
        assert.deepEqual(
          media.edges.map((e: { node: { shortcode: string } }) => e.node.shortcode),
          [IMAGE.shortcode, VIDEO.shortcode, CAROUSEL.shortcode, 'CxNew000001'],
        );
        assert.deepEqual(
          media.edges.map((e: { node: { is_video: boolean } }) => e.node.is_video),
          [false, true, false, false],
        );
        assert.deepEqual(
          media.edges.map((e: { node: { __typename: string } }) => e.node.__typename),
          ['GraphImage', 'GraphVideo', 'GraphSidecar', 'GraphImage'],
        );
        const thumb = await get(media.edges[1].node.thumbnail_src);
        assert.equal(thumb.status, 200);
        assert.equal(thumb.headers['content-type'], 'image/jpeg');
        assert.deepEqual(thumb.body, ig.mediaBytes(VIDEO.shortcode, 0, 'small'));
        assert.deepEqual((await get(media.edges[0].node.display_url)).body, ig.mediaBytes(IMAGE.shortcode, 0, 'image'));
        assert.equal((await get(user.profile_pic_url)).status, 200);
      }
      const secret = JSON.parse((await get('https://i.instagram.com/api/v1/users/web_profile_info/?username=secret', { 'X-IG-App-ID': WEB_APP_ID })).body.toString());
      assert.equal(secret.data.user.is_private, true);
      assert.deepEqual(secret.data.user.edge_owner_to_timeline_media.edges, []);
      assert.equal((await get('https://i.instagram.com/api/v1/users/web_profile_info/?username=nobody', { 'X-IG-App-ID': WEB_APP_ID })).status, 404);
      const noAppId = await get('https://i.instagram.com/api/v1/users/web_profile_info/?username=natgeo');
      assert.equal(noAppId.status, 400);
      assert.equal(JSON.parse(noAppId.body.toString()).message, 'useragent mismatch');
    });

    test("share links redirect to the post; rate limit answers 429 with Instagram's message", async () => {
      ig.addShare('1AbCdEfGhI', CAROUSEL.shortcode);
      const share = await get('https://www.instagram.com/share/1AbCdEfGhI/');
      assert.equal(share.status, 302);
      assert.equal(share.headers.location, `https://www.instagram.com/p/${CAROUSEL.shortcode}/`);
      assert.equal((await get('https://www.instagram.com/share/unknown/')).status, 404);
      ig.rateLimitNext(2);
      const api = await get('https://i.instagram.com/api/v1/users/web_profile_info/?username=natgeo', { 'X-IG-App-ID': WEB_APP_ID });
      assert.equal(api.status, 429);
      assert.equal(JSON.parse(api.body.toString()).message, 'Please wait a few minutes before you try again.');
      const page = await get(`https://www.instagram.com/p/${IMAGE.shortcode}/`);
      assert.equal(page.status, 429);
      assert.equal(page.body.toString(), 'Please wait a few minutes before you try again.');
      assert.equal((await get(`https://www.instagram.com/p/${IMAGE.shortcode}/`)).status, 200);
    });

    test('only Instagram hosts are tunnelled; media supports ranges', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(ig.proxyUrl, { method: 'CONNECT', path: 'example.com:443' });
        req.on('connect', (res, socket) => {
          socket.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 403);
      const url = ig.mediaUrl(VIDEO.shortcode, 0, 'video');
      const part = await get(url, { Range: 'bytes=0-7' });
      assert.equal(part.status, 206);
      assert.deepEqual(part.body, ig.mediaBytes(VIDEO.shortcode, 0, 'video').subarray(0, 8));
      assert.equal(part.body.subarray(4, 8).toString('latin1'), 'ftyp');
      assert.equal(part.headers['content-range'], 'bytes 0-7/20000');
    });
  });
});
