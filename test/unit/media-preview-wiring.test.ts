/**
 * The media-preview plugin's wiring on the test kit (trellis/sdk/testing): an Instagram link posted
 * in a room is extracted by the real yt-dlp from the fake Instagram on loopback (through its proxy),
 * uploaded for the room and answered with the media and a caption; the cache answers the same link
 * again (per kind of room, in the configured reply mode); messages without links, notices and failed
 * extractions; links still queued (paced on the kit's clock) when the instance stops are answered after
 * the restart.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { createTestClock, startPlugin, TEST_ROOM, type SentEvent, type TestClock, type TestContext } from 'trellis/sdk/testing';
import plugin from '../../plugins/media-preview/index.ts';
import { FakeInstagram, type FakePost } from '../fakes/instagram.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];

const YT_DLP = join(import.meta.dirname, '..', '..', '.venv', 'bin', 'yt-dlp');
/** Real yt-dlp runs: generous, and only a bound (nothing waits for it when it is quicker). */
const EXTRACTION = { timeoutMs: 60_000 };
const owner = { username: 'natgeo', full_name: 'National Geographic', pk: '787132' };
const post = (shortcode: string, extra: Partial<FakePost> = {}): FakePost => ({
  shortcode,
  owner,
  caption: `Caption of ${shortcode}`,
  likes: 1234,
  comments: 56,
  taken_at: 1_763_000_000,
  items: [{ kind: 'image', width: 64, height: 48 }],
  ...extra,
});
const url = (shortcode: string) => `https://www.instagram.com/p/${shortcode}/`;

/** The caption notice that ends the answer to a link. */
const isCaption = (shortcode: string) => (s: SentEvent) => s.kind === 'message' && s.text!.startsWith('National Geographic (@natgeo)') && s.text!.endsWith(url(shortcode));

describe('media-preview plugin on the test kit', () => {
  let ig: FakeInstagram;
  let tempDir: string;
  let clock: TestClock;
  before(async () => {
    // npm test installs yt-dlp; without it this file is a setup error, not a pass.
    if (!existsSync(YT_DLP)) throw new Error(`yt-dlp not installed at ${YT_DLP}: run npm run setup:yt-dlp`);
    ig = await FakeInstagram.start();
    for (const code of ['WIREIMAGE01', 'WIREFIRST01', 'WIRESECOND1']) ig.addPost(post(code));
    ig.addPost(post('WIREDELETED', { state: 'deleted' }));
    tempDir = await mkdtemp(join(tmpdir(), 'trellis-preview-wiring-'));
  });
  after(async () => {
    await ig?.stop();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    // The pace of extractions and the cache's age follow Date.now(): the kit's clock drives both.
    clock = createTestClock({ start: Date.UTC(2025, 10, 20, 10), patchDate: true });
  });
  afterEach(() => clock.restore());

  function started(config: Partial<Config> = {}): Promise<TestContext<Config>> {
    return startPlugin(plugin, {
      clock,
      config: {
        yt_dlp_path: '',
        proxy: ig.proxyUrl,
        cookies_file: '',
        // yt-dlp (Python) does not trust the fake's self-made certificate.
        extra_args: ['--no-check-certificates'],
        timeout_seconds: 60,
        max_file_size_mb: 1,
        reply_mode: 'reply',
        requests_per_minute: 60,
        concurrency: 1,
        max_retries: 0,
        cooldown_seconds: 2,
        cache_ttl_hours: 24,
        caption_max_length: 600,
        profile_posts: 3,
        extra_sources: [],
        temp_dir: tempDir,
        notify_after_failures: 3,
        queue_notice_after_seconds: 5,
        ...config,
      },
    });
  }

  /** Resolves once no answer is pending in storage (the job is forgotten after its answer is sent). */
  const jobsDone = (ctx: TestContext<Config>) => ctx.waitFor(async () => (await ctx.storage.list('job:')).length === 0, { what: 'the stored jobs to be answered' });

  test('a link is answered with the uploaded image and a caption, then again from the cache in the configured reply mode', async () => {
    const ctx = await started();
    const { event } = await ctx.sendMessage(`look at this ${url('WIREIMAGE01')}?igsh=abc.`);
    const caption = await ctx.waitForSent(isCaption('WIREIMAGE01'), EXTRACTION);
    const [image] = ctx.sent.filter((s) => s.kind === 'media');
    assert.deepEqual(
      ctx.sent.map((s) => s.kind),
      ['media', 'message'],
    );
    assert.equal(image.content.msgtype, 'm.image');
    assert.deepEqual(image.content['m.relates_to'], { 'm.in_reply_to': { event_id: event.event_id } }, 'the first message replies to the link');
    assert.equal(caption.content['m.relates_to'], undefined);
    assert.equal(caption.content.msgtype, 'm.notice');
    assert.match(caption.text!, /^National Geographic \(@natgeo\) · 1,234 likes · 56 comments · 2025-11-13\nCaption of WIREIMAGE01\n/);
    const bytes = ig.mediaBytes('WIREIMAGE01', 0, 'image');
    assert.deepEqual(
      ctx.uploads.map((u) => [u.roomId, Buffer.from(u.data).equals(bytes)]),
      [[TEST_ROOM, true]],
    );
    assert.deepEqual(image.content.info, { mimetype: 'image/jpeg', size: bytes.length, w: 64, h: 48 });
    assert.equal(image.content.url, ctx.uploads[0].mxc);
    assert.equal(ctx.metrics.value('extractions_total'), 1);
    await jobsDone(ctx);
    assert.deepEqual(
      (await ctx.storage.list()).map((e) => e.key),
      ['cache:instagram:post:WIREIMAGE01'],
    );
    assert.deepEqual(await readdir(tempDir), [], 'the downloads were removed');

    // The same post again, now answered in a thread: from the cache, without asking Instagram.
    await ctx.updateConfig({ ...ctx.config, reply_mode: 'thread' });
    const seen = ig.requests.length;
    const since = ctx.sent.length;
    const { event: again } = await ctx.sendMessage(`again: ${url('WIREIMAGE01')}`);
    await ctx.waitForSent(isCaption('WIREIMAGE01'), { since });
    const [cachedImage, cachedCaption] = ctx.sent.slice(since);
    assert.equal(cachedImage.content.url, image.content.url, 'the upload is reused');
    assert.deepEqual(cachedImage.content['m.relates_to'], { rel_type: 'm.thread', event_id: again.event_id, is_falling_back: false, 'm.in_reply_to': { event_id: again.event_id } });
    assert.deepEqual(cachedCaption.content['m.relates_to'], { rel_type: 'm.thread', event_id: again.event_id, is_falling_back: true, 'm.in_reply_to': { event_id: again.event_id } });
    assert.equal(ig.requests.length, seen);
    assert.equal(ctx.uploads.length, 1);
    assert.equal(ctx.metrics.value('cache_hits_total'), 1);
    assert.equal(ctx.metrics.value('extractions_total'), 1);
  });

  test('an encrypted room gets its own (encrypted) upload instead of the plain room’s cached one', async () => {
    const ctx = await started();
    const secret = '!secret:example.org';
    ctx.matrix.encryptedRooms.add(secret);
    await ctx.sendMessage(url('WIREFIRST01'));
    await ctx.waitForSent(isCaption('WIREFIRST01'), EXTRACTION);
    const since = ctx.sent.length;
    await ctx.sendMessage(url('WIREFIRST01'), { roomId: secret });
    // One extraction a second at most: the next one starts when the clock has moved on.
    await ctx.waitFor(() => clock.pending > 0, { what: 'the extraction to wait for its turn' });
    assert.equal(ctx.metrics.value('extractions_total'), 1);
    await clock.advance(1_000);
    await ctx.waitForSent((s) => s.roomId === secret && isCaption('WIREFIRST01')(s), { ...EXTRACTION, since });
    const media = ctx.sent.slice(since).find((s) => s.kind === 'media')!;
    assert.equal(media.content.url, undefined);
    assert.deepEqual(media.content.file, { url: ctx.uploads.at(-1)!.mxc, v: 'v2' });
    assert.equal(ctx.uploads.at(-1)!.roomId, secret);
    assert.equal(ctx.metrics.value('extractions_total'), 2);
    assert.equal(ctx.metrics.value('cache_hits_total'), 0);
  });

  test('messages without an Instagram link and notices are left alone; a deleted post is explained and nothing is kept', async () => {
    const ctx = await started();
    const seen = ig.requests.length;
    for (const body of ['no links here, just instagram.com/p/x', 'https://example.org/p/WIREIMAGE01/', 'https://www.instagram.com/explore/tags/cats/']) await ctx.sendMessage(body);
    await ctx.sendMessage(url('WIREIMAGE01'), { msgtype: 'm.notice' });
    await ctx.sendMessage(url('WIREIMAGE01'), { replaces: '$earlier' });
    assert.deepEqual(ctx.sent, []);
    assert.equal(ctx.storage.data.size, 0);
    assert.equal(ig.requests.length, seen);
    assert.equal(ctx.metrics.value('extractions_total'), 0);

    const { event } = await ctx.sendMessage(`this one: ${url('WIREDELETED')}`);
    const answer = await ctx.waitForSent((s) => s.kind === 'message', EXTRACTION);
    assert.equal(answer.text, `Can't preview ${url('WIREDELETED')}: the post was deleted or does not exist.`);
    assert.equal(answer.options?.replyTo, event.event_id);
    assert.equal(ctx.metrics.value('failures_total', { kind: 'deleted' }), 1);
    await jobsDone(ctx);
    assert.equal(ctx.storage.data.size, 0, 'a failure is not cached');
    assert.equal(ctx.uploads.length, 0);
  });

  test('links still queued when the instance stops are answered after the restart, in reply to their message', async () => {
    // One extraction a minute: the second link waits for the clock, which does not move.
    const first = await started({ requests_per_minute: 1 });
    const { event } = await first.sendMessage(`two posts: ${url('WIRESECOND1')} and ${url('WIREFIRST01')}`);
    const queued = await first.waitForSent((s) => s.text?.startsWith('Queued') === true);
    assert.match(queued.text!, /^Queued 2 links: next in line, about \d+ s\.$/);
    assert.equal(queued.options?.replyTo, event.event_id);
    await first.waitForSent(isCaption('WIRESECOND1'), EXTRACTION);
    assert.ok(clock.pending > 0, 'the second extraction waits for its turn on the clock');
    const pending = await first.storage.list('job:');
    assert.equal(pending.length, 1);
    assert.equal((pending[0].value as { url: string }).url, url('WIREFIRST01'));

    const since = first.sent.length;
    const second = await first.restart(plugin);
    assert.ok(second.logs.some((l) => l.message === 'resuming 1 preview(s) that were pending at the last stop'));
    const caption = await second.waitForSent(isCaption('WIREFIRST01'), { ...EXTRACTION, since });
    const [media] = second.sent.slice(since);
    assert.equal(media.kind, 'media');
    assert.deepEqual(media.content['m.relates_to'], { 'm.in_reply_to': { event_id: event.event_id } });
    assert.equal(caption.roomId, TEST_ROOM);
    await jobsDone(second);
    assert.deepEqual(
      (await second.storage.list()).map((e) => e.key),
      ['cache:instagram:post:WIREFIRST01', 'cache:instagram:post:WIRESECOND1'],
    );
  });
});
