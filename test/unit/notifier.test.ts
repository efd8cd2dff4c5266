import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdminNotifier, type NotifierOptions } from '../../src/core/notifier.ts';
import type { LogEntry } from '../../src/core/logging.ts';

interface Post {
  clientId: string;
  roomId: string;
  text: string;
  html: string;
}

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function setup(overrides: Partial<NotifierOptions> = {}) {
  const posts: Post[] = [];
  const notifier = new AdminNotifier(
    { adminRoom: '!admin', clientId: '@alerts:example.org', minLevel: 'error', dedupeSeconds: 300, maxPerMinute: 5, ...overrides },
    async (clientId, roomId, text, html) => {
      posts.push({ clientId, roomId, text, html });
    },
  );
  return { notifier, posts };
}

function entry(partial: Partial<LogEntry> = {}): LogEntry {
  return { time: T0, level: 'error', message: 'plugin crashed', instanceId: 'inst1', clientId: null, context: null, ...partial };
}

describe('AdminNotifier', () => {
  test('posts an error to the admin room as the configured client', async () => {
    const { notifier, posts } = setup();
    assert.equal(await notifier.handle(entry(), T0), true);
    assert.equal(posts.length, 1);
    assert.equal(posts[0].clientId, '@alerts:example.org');
    assert.equal(posts[0].roomId, '!admin');
    assert.match(posts[0].text, /^\[ERROR\] instance inst1: plugin crashed \(2025-01-01T12:00:00\.000Z\)$/);
    assert.match(posts[0].html, /<b>\[ERROR\]<\/b> instance inst1: plugin crashed/);
  });

  test('entries below the minimum level are not posted', async () => {
    const { notifier, posts } = setup({ minLevel: 'error' });
    for (const level of ['debug', 'info', 'warn'] as const) assert.equal(await notifier.handle(entry({ level }), T0), false);
    assert.equal(posts.length, 0);
    assert.equal(await notifier.handle(entry({ level: 'critical' }), T0), true);
    assert.equal(posts.length, 1);

    const strict = setup({ minLevel: 'critical' });
    assert.equal(await strict.notifier.handle(entry({ level: 'error' }), T0), false);
    assert.equal(strict.posts.length, 0);

    const loose = setup({ minLevel: 'warn' });
    assert.equal(await loose.notifier.handle(entry({ level: 'warn' }), T0), true);
    assert.match(loose.posts[0].text, /^\[WARN\]/);
  });

  test('the same instance, level and message is posted once per dedupe window', async () => {
    const { notifier, posts } = setup({ dedupeSeconds: 60 });
    assert.equal(await notifier.handle(entry(), T0), true);
    assert.equal(await notifier.handle(entry(), T0 + 1_000), false);
    assert.equal(await notifier.handle(entry(), T0 + 59_999), false);
    assert.equal(posts.length, 1);
    assert.equal(await notifier.handle(entry(), T0 + 60_000), true);
    assert.equal(posts.length, 2);
  });

  test('a different message, level or instance is not a duplicate', async () => {
    const { notifier, posts } = setup();
    await notifier.handle(entry(), T0);
    assert.equal(await notifier.handle(entry({ message: 'another failure' }), T0 + 1), true);
    assert.equal(await notifier.handle(entry({ level: 'critical' }), T0 + 2), true);
    assert.equal(await notifier.handle(entry({ instanceId: 'inst2' }), T0 + 3), true);
    assert.equal(posts.length, 4);
    assert.match(posts[3].text, /instance inst2: plugin crashed/);
  });

  test('the per-minute cap suppresses a burst and the next post says how many were dropped', async () => {
    const { notifier, posts } = setup({ maxPerMinute: 3 });
    const results: boolean[] = [];
    for (let i = 0; i < 8; i++) results.push(await notifier.handle(entry({ message: `failure ${i}` }), T0 + i * 100));
    assert.deepEqual(results, [true, true, true, false, false, false, false, false]);
    assert.equal(posts.length, 3);
    for (const post of posts) assert.doesNotMatch(post.text, /suppressed/);

    // Still inside the same minute: still capped.
    assert.equal(await notifier.handle(entry({ message: 'failure late' }), T0 + 59_000), false);

    assert.equal(await notifier.handle(entry({ message: 'after the window' }), T0 + 60_000), true);
    assert.equal(posts.length, 4);
    assert.match(posts[3].text, /after the window/);
    assert.match(posts[3].text, /\(6 more suppressed by the rate limit\)$/);
    assert.match(posts[3].html, /6 more suppressed/);

    // The count is reported once, not repeated on later posts.
    assert.equal(await notifier.handle(entry({ message: 'next' }), T0 + 60_001), true);
    assert.doesNotMatch(posts[4].text, /suppressed/);
  });

  test("the notifier's own failures (component: notifier) are never posted", async () => {
    const { notifier, posts } = setup();
    const own = entry({ instanceId: null, message: 'cannot post to the admin room', context: { component: 'notifier' } });
    assert.equal(await notifier.handle(own, T0), false);
    assert.equal(await notifier.handle({ ...own, level: 'critical' }, T0 + 1), false);
    assert.equal(posts.length, 0);
    // Another component with the same message is posted.
    assert.equal(await notifier.handle({ ...own, context: { component: 'supervisor' } }, T0 + 2), true);
  });

  test('HTML in the message, source and error detail is escaped in the html body', async () => {
    const { notifier, posts } = setup();
    await notifier.handle(entry({ instanceId: 'x<y>', message: 'bad <script>alert("x")</script> & more', context: { err: { message: '<img src=x onerror=1>' } } }), T0);
    const { text, html } = posts[0];
    assert.doesNotMatch(html, /<script>|<img|<y>/);
    assert.match(html, /bad &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; more/);
    assert.match(html, /<code>&lt;img src=x onerror=1&gt;<\/code>/);
    assert.match(html, /instance x&lt;y&gt;/);
    // The plain-text body carries the message verbatim, including the error detail.
    assert.match(text, /bad <script>alert\("x"\)<\/script> & more — <img src=x onerror=1>/);
  });

  test('the source is the client, or the daemon, when there is no instance', async () => {
    const { notifier, posts } = setup();
    await notifier.handle(entry({ instanceId: null, clientId: '@bot:example.org', message: 'sync failed' }), T0);
    await notifier.handle(entry({ instanceId: null, clientId: null, message: 'database locked' }), T0);
    assert.match(posts[0].text, /client @bot:example\.org: sync failed/);
    assert.match(posts[1].text, /daemon: database locked/);
  });
});
