/**
 * The media-preview plugin end to end: a person posts Instagram links in a
 * room on a real Synapse, the real daemon runs the real yt-dlp against a
 * faithful fake Instagram on loopback (test/fakes/instagram.ts, through
 * yt-dlp's --proxy), uploads the media to the homeserver and answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { FakeInstagram, type FakePost } from '../fakes/instagram.ts';
import { jpeg, mp4 } from '../fakes/instagram/media.ts';

interface ApiClient {
  id: string;
}
interface ApiInstance {
  state: string;
}

const owner = { username: 'natgeo', full_name: 'National Geographic', pk: '787132' };
const post = (shortcode: string, items: FakePost['items'], extra: Partial<FakePost> = {}): FakePost => ({
  shortcode,
  owner,
  caption: `Caption of ${shortcode} <b>not bold</b> & friends`,
  likes: 1234,
  comments: 56,
  taken_at: 1_763_000_000,
  items,
  ...extra,
});

const img = (w = 64, h = 48) => ({ kind: 'image' as const, width: w, height: h });
const vid = (size?: number) => ({ kind: 'video' as const, width: 64, height: 48, duration: 3.5, ...(size ? { size } : {}) });

describe('media-preview plugin through a real homeserver and real yt-dlp', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let ig: FakeInstagram;
  let daemon: TestDaemon;
  let user: TestUser;
  let bot: ApiClient;
  let room: string;
  let otherRoom: string;
  let tempDir: string;

  const fromBot = (ev: TestMatrixEvent) => ev.sender === bot.id && ev.type === 'm.room.message';
  const isMedia = (ev: TestMatrixEvent) => fromBot(ev) && ['m.image', 'm.video'].includes(String(ev.content.msgtype));
  // Queue notices are checked on their own; every other notice is an answer.
  const isNotice = (ev: TestMatrixEvent) => fromBot(ev) && ev.content.msgtype === 'm.notice' && !/^Queued /.test(String(ev.content.body));
  const isQueueNotice = (ev: TestMatrixEvent) => fromBot(ev) && ev.content.msgtype === 'm.notice' && /^Queued /.test(String(ev.content.body));
  const replyTarget = (ev: TestMatrixEvent) => (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id;

  /** Downloads media the way a client does (authenticated media). */
  async function download(mxc: string): Promise<Buffer> {
    const [server, id] = mxc.replace('mxc://', '').split('/');
    const res = await fetch(`${hs.url}/_matrix/client/v1/media/download/${server}/${id}`, { headers: { Authorization: `Bearer ${user.accessToken}` } });
    assert.equal(res.status, 200, `download of ${mxc}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async function tempIsEmpty(): Promise<void> {
    // The answer is sent after the temp dir is removed; allow the removal a moment anyway.
    await daemon.waitFor('temp dir emptied', async () => (await readdir(tempDir)).length === 0 || undefined);
  }

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    ig = await FakeInstagram.start();
    tempDir = await mkdtemp(join(tmpdir(), 'trellis-preview-tmp-'));
    ig.addPost(post('IMAGEPOST01', [img()]));
    ig.addPost(post('VIDEOPOST01', [vid()]));
    ig.addPost(post('CAROUSEL001', [img(64, 48), vid(), img(32, 32)]));
    ig.addPost(post('BIGVIDEO001', [vid(3 * 1024 * 1024)]));
    ig.addPost(post('SHAREDPOST1', [img(40, 30)]));
    ig.addShare('BAshareid01', 'SHAREDPOST1');
    ig.addPost(post('PRIVATE0001', [img()], { state: 'private' }));
    ig.addPost(post('DELETED0001', [img()], { state: 'deleted' }));
    ig.addPost(post('LOGINONLY01', [img()], { state: 'login_required' }));
    ig.addPost(post('RATELIMIT01', [img()]));
    for (let i = 0; i < 10; i++) ig.addPost(post(`BURSTPOST${String(i).padStart(2, '0')}`, [img(16, 16)]));
    ig.addProfile({
      username: 'natgeo',
      full_name: 'National Geographic',
      biography: 'Taking our understanding\nof the world further.',
      followers: 280_000_000,
      following: 150,
      posts: 30_000,
      recent: ['IMAGEPOST01', 'CAROUSEL001'],
    });
    // Node (the plugin's direct requests) trusts the fake's CA like an operator's proxy CA.
    daemon = await TestDaemon.create(
      hs,
      (config) => {
        (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
      },
      { env: { NODE_EXTRA_CA_CERTS: ig.caFile } },
    );
    user = await TestUser.create(hs, 'linker');
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('previewbot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    room = await user.createRoom({ name: 'links', invite: [bot.id] });
    otherRoom = await user.createRoom({ name: 'not allowlisted', invite: [bot.id] });
    await daemon.createInstance('preview', {
      type: 'org.trellis.media-preview',
      primary_user: bot.id,
      rooms: [room],
      config: {
        proxy: ig.proxyUrl,
        // yt-dlp (Python) does not read NODE_EXTRA_CA_CERTS; the fake's certificate is self-made.
        extra_args: ['--no-check-certificates'],
        temp_dir: tempDir,
        max_file_size_mb: 1,
        requests_per_minute: 60,
        cooldown_seconds: 2,
        max_retries: 1,
        notify_after_failures: 2,
        queue_notice_after_seconds: 3,
      },
    });
    await user.waitForMembership(room, bot.id, 'join', 20_000);
    await user.waitForMembership(otherRoom, bot.id, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await ig?.stop();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    await hs?.release();
  });

  it('answers an image post with the image (info, bytes) and a caption, as a reply', async () => {
    const sent = await user.sendText(room, 'look at this https://www.instagram.com/p/IMAGEPOST01/?igsh=abc.');
    const image = await user.waitForEvent(room, isMedia, 60_000, 'the image');
    assert.equal(image.content.msgtype, 'm.image');
    assert.equal(replyTarget(image), sent, 'the first message replies to the link');
    const info = image.content.info as Record<string, unknown>;
    const bytes = ig.mediaBytes('IMAGEPOST01', 0, 'image');
    assert.equal(info.w, 64);
    assert.equal(info.h, 48);
    assert.equal(info.size, bytes.length);
    assert.match(String(info.mimetype), /^image\/(jpeg|png)$/);
    assert.deepEqual(await download(String(image.content.url)), bytes);
    const caption = await user.waitForEvent(room, isNotice, 20_000, 'the caption');
    assert.match(String(caption.content.body), /^National Geographic \(@natgeo\) · 1,234 likes · 56 comments · 2025-11-13\n/);
    assert.match(String(caption.content.body), /Caption of IMAGEPOST01 <b>not bold<\/b> & friends/);
    assert.match(String(caption.content.formatted_body), /Caption of IMAGEPOST01 &lt;b&gt;not bold&lt;\/b&gt; &amp; friends/);
    assert.match(String(caption.content.formatted_body), /<a href="https:\/\/www\.instagram\.com\/p\/IMAGEPOST01\/">Open on Instagram<\/a>/);
    await tempIsEmpty();
  });

  it('answers a reel with the video (duration, size, dimensions, thumbnail)', async () => {
    await user.sendText(room, 'https://www.instagram.com/reel/VIDEOPOST01/');
    const video = await user.waitForEvent(room, isMedia, 60_000, 'the video');
    assert.equal(video.content.msgtype, 'm.video');
    const info = video.content.info as Record<string, unknown>;
    assert.equal(info.mimetype, 'video/mp4');
    assert.equal(info.duration, 3500);
    assert.equal(info.w, 64);
    assert.equal(info.h, 48);
    const bytes = ig.mediaBytes('VIDEOPOST01', 0, 'video');
    assert.equal(info.size, bytes.length);
    assert.deepEqual(await download(String(video.content.url)), bytes);
    assert.match(String(info.thumbnail_url), /^mxc:\/\//);
    assert.deepEqual(await download(String(info.thumbnail_url)), ig.mediaBytes('VIDEOPOST01', 0, 'thumbnail'));
    assert.equal((info.thumbnail_info as Record<string, unknown>).w, 64);
    await user.waitForEvent(room, isNotice, 20_000, 'the caption');
    await tempIsEmpty();
  });

  it('answers a carousel with every item in order, labelled n/3, mixed images and video', async () => {
    await user.sendText(room, 'https://instagram.com/natgeo/p/CAROUSEL001/?img_index=2');
    const items = [];
    for (let i = 0; i < 3; i++) items.push(await user.waitForEvent(room, isMedia, 60_000, `carousel item ${i + 1}`));
    assert.deepEqual(
      items.map((e) => e.content.msgtype),
      ['m.image', 'm.video', 'm.image'],
    );
    assert.deepEqual(
      items.map((e) => /(\d\/3)/.exec(String(e.content.body))?.[1]),
      ['1/3', '2/3', '3/3'],
    );
    assert.deepEqual(await download(String(items[2]!.content.url)), ig.mediaBytes('CAROUSEL001', 2, 'image'));
    assert.equal((items[2]!.content.info as Record<string, unknown>).w, 32);
    await user.waitForEvent(room, isNotice, 20_000, 'the caption');
    await tempIsEmpty();
  });

  it('answers the same link again from the cache, without downloading or asking Instagram', async () => {
    const before = ig.requests.length;
    const downloads = ig.mediaDownloads();
    await user.sendText(room, 'again: https://www.instagram.com/p/IMAGEPOST01/');
    const image = await user.waitForEvent(room, isMedia, 20_000, 'the cached image');
    await user.waitForEvent(room, isNotice, 20_000, 'the cached caption');
    assert.equal(ig.requests.length, before, 'no request reached Instagram');
    assert.equal(ig.mediaDownloads(), downloads, 'nothing downloaded again');
    assert.deepEqual(await download(String(image.content.url)), ig.mediaBytes('IMAGEPOST01', 0, 'image'));
    const metrics = await daemon.api('GET', '/metrics');
    assert.match(metrics.text, /trellis_plugin_org_trellis_media_preview_cache_hits_total\{instance="preview"\} 1/);
    assert.match(metrics.text, /trellis_plugin_org_trellis_media_preview_extractions_total\{instance="preview"\} [3-9]/);
  });

  it('answers a profile link with counts, bio and recent post thumbnails', async () => {
    await user.sendText(room, 'follow https://www.instagram.com/natgeo/');
    const thumbs = [await user.waitForEvent(room, isMedia, 60_000, 'thumbnail 1'), await user.waitForEvent(room, isMedia, 20_000, 'thumbnail 2')];
    assert.ok(thumbs.every((t) => t.content.msgtype === 'm.image'));
    const profile = await user.waitForEvent(room, isNotice, 20_000, 'the profile');
    assert.match(String(profile.content.body), /^National Geographic \(@natgeo\)\n30,000 posts · 280,000,000 followers · 150 following\nTaking our understanding\nof the world further\./);
    await tempIsEmpty();
  });

  it('resolves a /share/ link to its post', async () => {
    await user.sendText(room, 'https://www.instagram.com/share/BAshareid01/');
    const image = await user.waitForEvent(room, isMedia, 60_000, 'the shared post image');
    assert.deepEqual(await download(String(image.content.url)), ig.mediaBytes('SHAREDPOST1', 0, 'image'));
    const caption = await user.waitForEvent(room, isNotice, 20_000, 'the caption');
    assert.match(String(caption.content.body), /Caption of SHAREDPOST1/);
  });

  it('posts the thumbnail and a link for a video over the size limit', async () => {
    await user.sendText(room, 'https://www.instagram.com/reel/BIGVIDEO001/');
    const preview = await user.waitForEvent(room, isMedia, 60_000, 'the thumbnail');
    assert.equal(preview.content.msgtype, 'm.image');
    assert.deepEqual(await download(String(preview.content.url)), ig.mediaBytes('BIGVIDEO001', 0, 'thumbnail'));
    const caption = await user.waitForEvent(room, isNotice, 20_000, 'the caption with the note');
    assert.match(String(caption.content.body), /too large to post here \(3\.0 MB, limit 1\.0 MB\): open it on Instagram/);
    await tempIsEmpty();
  });

  it('an extra source: a direct MP4 without a duration and a page with og:video are posted as videos, a direct JPEG as an image, the caption names the site, the repeat comes from the cache, an oversized video is "too large" with its size', async () => {
    // A plain-HTTP site on loopback serving files directly (yt-dlp's generic extractor: no duration in the metadata).
    const clip = mp4(32, 32, 2, 'direct clip');
    const big = mp4(32, 32, 2, 'big clip', 1536 * 1024);
    const photo = jpeg(40, 30, 'direct photo');
    const files: Record<string, [string, Buffer]> = { '/clip.mp4': ['video/mp4', clip], '/big.mp4': ['video/mp4', big], '/photo.jpg': ['image/jpeg', photo] };
    const hits: Record<string, number> = {};
    const site = createServer((req, res) => {
      if (req.url === '/page.html') {
        const page = `<html><head><title>A page</title><meta property="og:title" content="A page with a clip"><meta property="og:video" content="${base}/clip.mp4"><meta property="og:video:type" content="video/mp4"></head><body></body></html>`;
        return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      }
      const file = files[req.url ?? ''];
      hits[req.url ?? ''] = (hits[req.url ?? ''] ?? 0) + 1;
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': file[0], 'content-length': file[1].length }).end(req.method === 'HEAD' ? undefined : file[1]);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    try {
      const clipsRoom = await user.createRoom({ name: 'clips', invite: [bot.id] });
      await user.waitForMembership(clipsRoom, bot.id, 'join', 20_000);
      await daemon.createInstance('preview-clips', {
        type: 'org.trellis.media-preview',
        primary_user: bot.id,
        rooms: [clipsRoom],
        config: { temp_dir: tempDir, max_file_size_mb: 1, requests_per_minute: 60, extra_sources: [{ name: 'Clips', pattern: `^${base.replaceAll('.', '\\.')}/` }] },
      });

      await user.sendText(clipsRoom, `${base}/clip.mp4`);
      const video = await user.waitForEvent(clipsRoom, isMedia, 60_000, 'the video');
      assert.equal(video.content.msgtype, 'm.video');
      assert.deepEqual(await download(String(video.content.url)), clip);
      const caption = await user.waitForEvent(clipsRoom, isNotice, 20_000, 'the caption');
      assert.match(String(caption.content.formatted_body), /Open on Clips/);
      assert.doesNotMatch(String(caption.content.body), /Instagram|too large/);

      // The same link again comes from the cache: the site is not asked again.
      const asked = hits['/clip.mp4'];
      await user.sendText(clipsRoom, `${base}/clip.mp4`);
      const again = await user.waitForEvent(clipsRoom, isMedia, 60_000, 'the cached video');
      assert.equal(again.content.url, video.content.url, 'the same upload');
      assert.equal(hits['/clip.mp4'], asked);

      // A page whose video yt-dlp's generic extractor finds in its og:video (a single-format result: no formats list).
      await user.sendText(clipsRoom, `${base}/page.html`);
      const fromPage = await user.waitForEvent(clipsRoom, isMedia, 60_000, 'the video of the page');
      assert.equal(fromPage.content.msgtype, 'm.video');
      assert.deepEqual(await download(String(fromPage.content.url)), clip);
      const pageCaption = await user.waitForEvent(clipsRoom, (ev) => isNotice(ev) && /A page with a clip/.test(String(ev.content.body)), 20_000, 'the caption with the page title');
      assert.match(String(pageCaption.content.formatted_body), /Open on Clips/);

      // A direct image link: an m.image with the served bytes and its size.
      await user.sendText(clipsRoom, `${base}/photo.jpg`);
      const image = await user.waitForEvent(clipsRoom, isMedia, 60_000, 'the image');
      assert.equal(image.content.msgtype, 'm.image');
      assert.deepEqual(await download(String(image.content.url)), photo);
      assert.deepEqual([(image.content.info as { w: number }).w, (image.content.info as { h: number }).h, (image.content.info as { mimetype: string }).mimetype], [40, 30, 'image/jpeg']);

      await user.sendText(clipsRoom, `${base}/big.mp4`);
      const note = await user.waitForEvent(clipsRoom, (ev) => isNotice(ev) && /too large/.test(String(ev.content.body)), 60_000, 'the too-large note');
      assert.match(String(note.content.body), /too large to post here \(1\.5 MB, limit 1\.0 MB\): open it on Clips/);
      await tempIsEmpty();
    } finally {
      site.close();
      await daemon.api('DELETE', '/instance/preview-clips');
    }
  });

  it('tells the room why in plain words: private, deleted, login required', async () => {
    const cases: Array<[string, RegExp]> = [
      ['PRIVATE0001', /the account is private/],
      ['DELETED0001', /deleted or does not exist/],
      ['LOGINONLY01', /wants a logged-in account/],
    ];
    for (const [code, expected] of cases) {
      await user.sendText(room, `https://www.instagram.com/p/${code}/`);
      const notice = await user.waitForEvent(room, isNotice, 60_000, `the ${code} message`);
      assert.match(String(notice.content.body), expected);
      assert.ok(String(notice.content.body).includes(`https://www.instagram.com/p/${code}/`));
    }
    await tempIsEmpty();
  });

  it("extracts logged in with a cookies file, leaving the operator's file untouched", async () => {
    const cookieRoom = await user.createRoom({ name: 'logged in', invite: [bot.id] });
    const before = await readFile(ig.cookiesFile);
    await daemon.createInstance('preview-cookies', {
      type: 'org.trellis.media-preview',
      primary_user: bot.id,
      rooms: [cookieRoom],
      config: { proxy: ig.proxyUrl, extra_args: ['--no-check-certificates'], temp_dir: tempDir, cookies_file: ig.cookiesFile },
    });
    await user.waitForMembership(cookieRoom, bot.id, 'join', 20_000);
    await user.sendText(cookieRoom, 'https://www.instagram.com/p/LOGINONLY01/');
    const image = await user.waitForEvent(cookieRoom, isMedia, 60_000, 'the logged-in image');
    assert.deepEqual(await download(String(image.content.url)), ig.mediaBytes('LOGINONLY01', 0, 'image'));
    assert.ok(
      ig.requests.some((r) => r.path.includes('/api/v1/media/') && r.path.endsWith('/info/')),
      'the logged-in API was used',
    );
    assert.deepEqual(await readFile(ig.cookiesFile), before, 'yt-dlp rewrote only its own copy');
    assert.equal((await daemon.api('DELETE', '/instance/preview-cookies')).status, 204);
    await tempIsEmpty();
  });

  it('cools down when Instagram rate-limits, tells the room, retries, and gives up with the retry time', async () => {
    ig.rateLimitNext(1000);
    await user.sendText(room, 'https://www.instagram.com/p/RATELIMIT01/');
    const slowDown = await user.waitForEvent(room, isNotice, 60_000, 'the slow-down notice');
    assert.match(String(slowDown.content.body), /asks this bot to slow down; trying .* again in about \d+ s/);
    const final = await user.waitForEvent(room, isNotice, 60_000, 'the rate-limit message');
    assert.match(String(final.content.body), /Instagram is rate-limiting this bot\. Try again in (a minute|\d+ minutes)\./);
    // Two systemic failures in a row (notify_after_failures: 2) reach the admin room as an ERROR.
    await user.sendText(room, 'https://www.instagram.com/p/RATELIMIT01/');
    await user.waitForEvent(room, (ev) => isNotice(ev) && /rate-limiting this bot/.test(String(ev.content.body)), 90_000, 'the second rate-limit message');
    ig.rateLimitNext(0);
    assert.ok(
      daemon.output.some((l) => l.includes('"level":"error"') && l.includes('media previews are failing')),
      'an ERROR for the admin room',
    );
    await tempIsEmpty();
  });

  it('queues a burst of 10 links, says so once, answers all within the rate limit', async () => {
    const started = Date.now();
    const codes = Array.from({ length: 10 }, (_, i) => `BURSTPOST${String(i).padStart(2, '0')}`);
    const sent = await user.sendText(room, codes.map((c) => `https://www.instagram.com/p/${c}/`).join('\n'));
    const queued = await user.waitForEvent(room, (ev) => isQueueNotice(ev) && /^Queued 10 links: /.test(String(ev.content.body)), 30_000, 'the queue notice');
    assert.equal(replyTarget(queued), sent);
    assert.match(String(queued.content.body), /about \d+ s\./);
    const images = [];
    for (const code of codes) images.push(await user.waitForEvent(room, (ev) => isMedia(ev) && String(ev.content.body).includes('@natgeo'), 90_000, `the image of ${code}`));
    for (let i = 0; i < 10; i++) await user.waitForEvent(room, (ev) => isNotice(ev) && String(ev.content.body).includes(`Caption of ${codes[i]}`), 30_000, `caption ${i}`);
    // 60 per minute: yt-dlp's first request for each post is at least ~1 s after the previous one's.
    const firsts = codes.map((c) => ig.requests.find((r) => r.path.includes(`/p/${c}`) || r.path.includes(c))).map((r) => r?.at ?? 0);
    assert.ok(
      firsts.every((t) => t >= started),
      'every post was fetched',
    );
    for (let i = 1; i < firsts.length; i++) assert.ok(firsts[i]! - firsts[i - 1]! >= 800, `post ${i} fetched ${firsts[i]! - firsts[i - 1]!} ms after the previous one`);
    const notices = (await user.messages(room, 100)).filter((ev) => isQueueNotice(ev) && ev.origin_server_ts >= started);
    assert.equal(notices.length, 1, 'told once');
    await tempIsEmpty();
  });

  it('ignores links in rooms outside its allowlist and notices from other bots', async () => {
    await user.sendText(otherRoom, 'https://www.instagram.com/p/IMAGEPOST01/');
    await user.sendEvent(room, 'm.room.message', { msgtype: 'm.notice', body: 'bot says https://www.instagram.com/p/VIDEOPOST01/' });
    // A marker answered after both: the bot handled them in order and stayed silent.
    await user.sendText(room, 'https://www.instagram.com/p/IMAGEPOST01/');
    await user.waitForEvent(room, isMedia, 30_000, 'the marker answer');
    await user.waitForEvent(room, isNotice, 30_000, 'the marker caption');
    const other = await user.messages(otherRoom, 50);
    assert.ok(!other.some(fromBot), 'nothing in the room outside the allowlist');
    const recent = (await user.messages(room, 10)).filter(isMedia);
    assert.ok(!recent.some((ev) => String(ev.content.msgtype) === 'm.video'), 'the notice with a link was not previewed');
  });

  it('keeps a link that was waiting across a daemon restart and answers it after', async () => {
    const current = await daemon.api<{ config_object: Record<string, unknown> }>('GET', '/instance/preview');
    const put = await daemon.api('PUT', '/instance/preview', { config: { ...current.body.config_object, cooldown_seconds: 120 } });
    assert.equal(put.status, 200, put.text);
    await daemon.waitFor('instance running again', async () => (await daemon.api<ApiInstance>('GET', '/instance/preview')).body.state === 'running' || undefined);
    ig.addPost(post('RESTARTED01', [img(20, 10)]));
    ig.rateLimitNext(1000);
    await user.sendText(room, 'https://www.instagram.com/p/RESTARTED01/');
    const waiting = await user.waitForEvent(room, (ev) => isNotice(ev) && String(ev.content.body).includes('RESTARTED01'), 60_000, 'the slow-down notice');
    assert.match(String(waiting.content.body), /slow down; trying https:\/\/www\.instagram\.com\/p\/RESTARTED01\/ again in about 1[0-9]{2} s/);
    // Lifted before the restart: a daemon that resumes the link while restart() is still waiting must not meet the limit again.
    ig.rateLimitNext(0);
    await daemon.restart();
    const image = await user.waitForEvent(room, isMedia, 60_000, 'the image after the restart');
    assert.deepEqual(await download(String(image.content.url)), ig.mediaBytes('RESTARTED01', 0, 'image'));
    const caption = await user.waitForEvent(room, (ev) => isNotice(ev) && String(ev.content.body).includes('RESTARTED01'), 20_000, 'the caption after the restart');
    assert.match(String(caption.content.body), /Caption of RESTARTED01/);
    assert.ok(daemon.output.some((l) => l.includes('resuming 1 preview(s) that were pending at the last stop')));
    await tempIsEmpty();
  });
});
