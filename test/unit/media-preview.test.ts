import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findLinks, parseInstagram } from '../../plugins/media-preview/links.ts';
import { captionMessage, profileMessage, trimText } from '../../plugins/media-preview/render.ts';
import { Scheduler, type Clock } from '../../plugins/media-preview/scheduler.ts';
import { classifyYtDlpError, userMessage } from '../../plugins/media-preview/failures.ts';
import { missingVideo } from '../../plugins/media-preview/extract.ts';

describe('media-preview link detection', () => {
  test('recognises every Instagram link form and canonicalises it', () => {
    const cases: Array<[string, string | null]> = [
      ['https://www.instagram.com/p/C1a2B3c4D5e/', 'post:C1a2B3c4D5e'],
      ['https://instagram.com/p/C1a2B3c4D5e', 'post:C1a2B3c4D5e'],
      ['http://instagram.com/reel/Cabcdef123/?igsh=MWQ1ZGUxMzBkMA==', 'post:Cabcdef123'],
      ['https://www.instagram.com/reels/Cabcdef123/', 'post:Cabcdef123'],
      ['https://www.instagram.com/tv/Cabcdef123', 'post:Cabcdef123'],
      ['https://www.instagram.com/natgeo/p/Cabcdef123/', 'post:Cabcdef123'],
      ['https://www.instagram.com/natgeo/reel/Cabcdef123/', 'post:Cabcdef123'],
      ['https://www.instagram.com/p/Cabcdef123/?img_index=3', 'post:Cabcdef123'],
      ['https://m.instagram.com/p/Cabcdef123/', 'post:Cabcdef123'],
      ['https://www.instagram.com/share/BAabcdefgh/', 'share:BAabcdefgh'],
      ['https://www.instagram.com/share/reel/BAabcdefgh/', 'share:BAabcdefgh'],
      ['https://www.instagram.com/NatGeo/', 'profile:natgeo'],
      ['https://www.instagram.com/nat.geo_2?hl=en', 'profile:nat.geo_2'],
      ['https://www.instagram.com/explore/tags/cats/', null],
      ['https://www.instagram.com/stories/natgeo/123/', null],
      ['https://www.instagram.com/accounts/login/', null],
      ['https://www.instagram.com/', null],
      ['https://example.org/p/Cabcdef123/', null],
      ['https://notinstagram.com/p/Cabcdef123/', null],
    ];
    for (const [url, expected] of cases) {
      const link = parseInstagram(url);
      assert.equal(link ? `${link.kind}:${link.id}` : null, expected, url);
    }
    assert.equal(parseInstagram('https://www.instagram.com/reel/Cabcdef123/')!.url, 'https://www.instagram.com/p/Cabcdef123/');
  });

  test('finds links in text and HTML, strips trailing junk, and handles each post once', () => {
    const body = 'look (https://www.instagram.com/p/AAAAA11111/), and https://instagram.com/reel/AAAAA11111. also https://www.instagram.com/p/BBBBB22222/!!';
    const html = 'look <a href="https://www.instagram.com/p/CCCCC33333/?utm_source=ig&amp;x=1">this</a>';
    const links = findLinks(body, html);
    assert.deepEqual(
      links.map((l) => l.id),
      ['AAAAA11111', 'BBBBB22222', 'CCCCC33333'],
    );
    assert.deepEqual(findLinks('no links here, just instagram.com/p/x', undefined), []);
  });

  test('extra sources are off by default and matched by their pattern when configured', () => {
    const text = 'https://www.tiktok.com/@someone/video/7234567890123456789';
    assert.deepEqual(findLinks(text, undefined), []);
    const links = findLinks(text, undefined, [{ name: 'tiktok', pattern: '^https://(www\\.)?tiktok\\.com/@[^/]+/video/' }]);
    assert.equal(links.length, 1);
    assert.equal(links[0]!.source, 'tiktok');
  });
});

describe('media-preview messages', () => {
  test('caption: author, handle, counts, date, trimmed and escaped caption, link', () => {
    const caption = 'Sunset <b>over</b> the bay & more\n\n\n\nsecond line ' + 'word '.repeat(200);
    const msg = captionMessage({ url: 'https://www.instagram.com/p/ABCDE12345/', author: 'Nat <Geo>', handle: 'natgeo', caption, likes: 12345, comments: 1, timestamp: 1_700_000_000, count: 1 }, 120);
    assert.match(msg.text, /^Nat <Geo> \(@natgeo\) · 12,345 likes · 1 comment · 2023-11-14\n/);
    assert.match(msg.text, /https:\/\/www\.instagram\.com\/p\/ABCDE12345\/$/);
    assert.ok(!msg.html.includes('<b>over</b>'), 'caption HTML is escaped');
    assert.match(msg.html, /&lt;b&gt;over&lt;\/b&gt; the bay &amp; more<br><br>second line/);
    assert.match(msg.html, /<b>Nat &lt;Geo&gt;<\/b> <a href="https:\/\/www\.instagram\.com\/natgeo\/">@natgeo<\/a>/);
    assert.ok(msg.text.includes('…'));
    assert.ok(trimText(caption, 120).length <= 121);
  });

  test('profile: name, counts, private flag and bio', () => {
    const msg = profileMessage(
      {
        url: 'https://www.instagram.com/natgeo/',
        handle: 'natgeo',
        name: 'National Geographic',
        bio: 'Taking our understanding\nfurther',
        followers: 280_000_000,
        following: 150,
        posts: 30_000,
        isPrivate: true,
      },
      200,
    );
    assert.match(msg.text, /^National Geographic \(@natgeo\)\n30,000 posts · 280,000,000 followers · 150 following · private account\nTaking our understanding\nfurther\n/);
    assert.match(msg.html, /<blockquote>Taking our understanding<br>further<\/blockquote>/);
  });
});

describe('media-preview failures', () => {
  test('yt-dlp errors map to the reason a user understands', () => {
    // The messages yt-dlp 2026.10.26 prints for Instagram's answers.
    const kinds: Array<[string, string]> = [
      ['ERROR: [Instagram] ABC: Unable to download webpage: HTTP Error 429: Too Many Requests (caused by <HTTPError 429: Too Many Requests>)', 'rate_limited'],
      ['ERROR: [Instagram] ABC: Video info extraction failed: HTTP Error 429: Too Many Requests', 'rate_limited'],
      [
        'ERROR: [Instagram] ABC: Instagram sent an empty media response. Check if this post is accessible in your browser without being logged-in. If it is not, then use --cookies-from-browser or --cookies for the authentication.',
        'private',
      ],
      ['ERROR: [Instagram] ABC: This content is only available for registered users who follow this account. Use --cookies-from-browser or --cookies for the authentication.', 'private'],
      [
        'ERROR: [Instagram] ABC: The webpage request was redirected to the login page. You have exceeded the rate-limit for accessing posts anonymously. Use --cookies-from-browser or --cookies for the authentication.',
        'login_required',
      ],
      ['ERROR: [Instagram] ABC: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404: Not Found>)', 'deleted'],
      ['ERROR: [Instagram] ABC: Video info extraction failed: HTTP Error 400: Bad Request (caused by <HTTPError 400: Bad Request>)', 'deleted'],
      ['ERROR: [generic] Unsupported URL: https://example.org', 'unsupported'],
      ['ERROR: something new went wrong', 'unknown'],
    ];
    for (const [stderr, kind] of kinds) assert.equal(classifyYtDlpError(`WARNING: x\n${stderr}\n`).kind, kind, stderr);
    const rate = classifyYtDlpError('ERROR: HTTP Error 429: Too Many Requests');
    assert.match(userMessage(rate, 'https://www.instagram.com/p/X/', 5 * 60_000, 50), /rate-limiting this bot\. Try again in 5 minutes\./);
  });
});

class FakeClock implements Clock {
  t = 0;
  timers: Array<{ at: number; fn: () => void }> = [];
  now() {
    return this.t;
  }
  schedule(fn: () => void, ms: number) {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
}

describe('media-preview scheduler', () => {
  test('paces starts, runs one per source at a time, serves rooms round-robin', async () => {
    const clock = new FakeClock();
    const started: Array<{ name: string; at: number }> = [];
    const finishers: Array<() => void> = [];
    const scheduler = new Scheduler({ requestsPerMinute: 30, concurrency: 1 }, clock);
    const job = (roomId: string, name: string) => ({
      roomId,
      source: 'instagram',
      run: () =>
        new Promise<void>((resolve) => {
          started.push({ name, at: clock.now() });
          finishers.push(resolve);
        }),
    });
    for (const n of ['a1', 'a2', 'a3']) scheduler.add(job('!a', n));
    scheduler.add(job('!b', 'b1'));
    await clock.advance(0);
    assert.deepEqual(
      started.map((s) => s.name),
      ['a1'],
      'one at a time',
    );
    assert.equal(scheduler.estimate('!b', 'instagram').ahead >= 1, true);
    finishers.shift()!();
    await clock.advance(1000);
    assert.equal(started.length, 1, 'paced: 30/min = one start every 2 s');
    await clock.advance(1000);
    assert.deepEqual(
      started.map((s) => s.name),
      ['a1', 'b1'],
      'room b gets its turn before a2',
    );
    finishers.shift()!();
    await clock.advance(2000);
    finishers.shift()!();
    await clock.advance(2000);
    assert.deepEqual(
      started.map((s) => s.name),
      ['a1', 'b1', 'a2', 'a3'],
    );
    for (let i = 1; i < started.length; i++) assert.ok(started[i]!.at - started[i - 1]!.at >= 2000, 'never faster than the limit');
  });

  test('each source has its own pace: an extra source does not wait for Instagram’s budget, nor the other way round', async () => {
    const clock = new FakeClock();
    const started: Array<{ name: string; at: number }> = [];
    const scheduler = new Scheduler({ requestsPerMinute: 1, concurrency: 5 }, clock);
    const job = (roomId: string, source: string, name: string) => ({ roomId, source, run: async () => void started.push({ name, at: clock.now() }) });
    scheduler.add(job('!a', 'instagram', 'ig1'));
    scheduler.add(job('!a', 'instagram', 'ig2'));
    scheduler.add(job('!b', 'clips', 'clip1'));
    scheduler.add(job('!b', 'clips', 'clip2'));
    await clock.advance(0);
    assert.deepEqual(started.map((s) => s.name).sort(), ['clip1', 'ig1'], 'one start per source right away');
    await clock.advance(59_000);
    assert.equal(started.length, 2, 'each source waits its own minute');
    await clock.advance(1_000);
    assert.deepEqual(started.map((s) => s.name).sort(), ['clip1', 'clip2', 'ig1', 'ig2']);
  });

  test('a cool-down holds a source back until it ends', async () => {
    const clock = new FakeClock();
    const started: number[] = [];
    const scheduler = new Scheduler({ requestsPerMinute: 600, concurrency: 1 }, clock);
    scheduler.coolDown('instagram', 60_000);
    assert.ok(scheduler.estimate('!a', 'instagram').waitMs >= 60_000);
    scheduler.add({ roomId: '!a', source: 'instagram', run: async () => void started.push(clock.now()) });
    await clock.advance(59_000);
    assert.deepEqual(started, []);
    await clock.advance(2_000);
    assert.deepEqual(started, [60_000]);
  });
});

describe('other sites than Instagram (extra_sources)', () => {
  test('the caption names the site, not Instagram, and links nothing to Instagram', () => {
    const msg = captionMessage({ url: 'https://clips.example.org/v/1', site: 'Clips', author: 'Ada', caption: 'A clip', count: 1 }, 120);
    assert.match(msg.html, /<a href="https:\/\/clips\.example\.org\/v\/1">Open on Clips<\/a>/);
    assert.doesNotMatch(msg.html + msg.text, /Instagram|instagram\.com/);
    assert.match(captionMessage({ url: 'https://clips.example.org/v/2', site: 'Clips', count: 1 }, 120).text, /^Clips\n/);
  });

  test('a missing video is "too large" only when yt-dlp says so; otherwise its error is kept', () => {
    assert.deepEqual(missingVideo('[download] File is larger than max-filesize (3145728 bytes > 1048576 bytes). Aborting.'), { tooLarge: { size: 3145728 } });
    assert.deepEqual(missingVideo('[info] Downloading 1 format(s)\nERROR: unable to download video data: HTTP Error 403: Forbidden\n'), {
      failed: { reason: 'unable to download video data: HTTP Error 403: Forbidden' },
    });
    assert.deepEqual(missingVideo(''), { failed: { reason: 'yt-dlp saved no file' } });
  });
});
