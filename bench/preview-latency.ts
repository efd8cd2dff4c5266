/**
 * Media-preview latency as a person sees it: from sending an Instagram link
 * until the caption (the last message of the answer) arrives, through a real
 * Synapse, the real daemon and the real yt-dlp against the loopback fake
 * Instagram. Cold = first time a link is seen (extraction time, taken from
 * the plugin's "extracted … in N ms" log line, is subtracted to leave the
 * platform's own overhead: queueing, uploads, sends); cached = the same link
 * again, end to end.
 *
 *   npm run bench:preview [-- --count 10]     (or BENCH_COUNT=10)
 */
import { performance } from 'node:perf_hooks';
import { FakeInstagram } from '../test/fakes/instagram.ts';
import { intOption, log, percentile, registerBot, runMain, withBenchEnv, type ApiInstance } from './lib.ts';

function summary(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${label}: p50 ${percentile(sorted, 50).toFixed(0)} ms, p95 ${percentile(sorted, 95).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (n=${sorted.length})`;
}

runMain(async () => {
  const count = intOption('--count', 'BENCH_COUNT', 10);
  const ig = await FakeInstagram.start();
  try {
    const codes = Array.from({ length: count }, (_, i) => `BENCHPOST${String(i).padStart(3, '0')}`);
    for (const code of codes) {
      ig.addPost({ shortcode: code, owner: { username: 'bench', full_name: 'Bench', pk: '1234567' }, caption: `caption ${code}`, items: [{ kind: 'image', width: 640, height: 480 }] });
    }
    await withBenchEnv(async ({ daemon, user }) => {
      const bot = await registerBot(daemon, 'previewbench');
      const room = await user.createRoom({ name: 'preview bench', invite: [bot.id] });
      const put = await daemon.api<ApiInstance>('PUT', '/instance/preview-bench', {
        type: 'org.trellis.media-preview',
        primary_user: bot.id,
        rooms: [room],
        config: { proxy: ig.proxyUrl, extra_args: ['--no-check-certificates'], requests_per_minute: 600 },
      });
      if (put.status !== 201) throw new Error(`instance: ${put.status} ${put.text}`);
      await daemon.waitFor('instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/preview-bench')).body.state === 'running' || undefined);
      await user.waitForMembership(room, bot.id, 'join', 30_000);
      const caption = (code: string) => (ev: { sender: string; content: Record<string, unknown> }) =>
        ev.sender === bot.id && ev.content.msgtype === 'm.notice' && String(ev.content.body).includes(`caption ${code}`);

      const cold: number[] = [];
      const overhead: number[] = [];
      const extraction: number[] = [];
      for (const code of codes) {
        const url = `https://www.instagram.com/p/${code}/`;
        const t0 = performance.now();
        await user.sendText(room, url);
        await user.waitForEvent(room, caption(code), 60_000, `the caption of ${code}`);
        const total = performance.now() - t0;
        const line = daemon.output.find((l) => l.includes(`extracted ${url} in `));
        const ms = Number(/"extraction_ms":(\d+)/.exec(line ?? '')?.[1] ?? NaN);
        if (!Number.isFinite(ms)) throw new Error(`no extraction time logged for ${url}`);
        cold.push(total);
        extraction.push(ms);
        overhead.push(total - ms);
        log(`cold ${code}: ${total.toFixed(0)} ms end to end, yt-dlp ${ms} ms`);
      }
      const cached: number[] = [];
      for (const code of codes) {
        const t0 = performance.now();
        await user.sendText(room, `https://www.instagram.com/p/${code}/`);
        await user.waitForEvent(room, caption(code), 30_000, `the cached caption of ${code}`);
        cached.push(performance.now() - t0);
      }
      console.log(summary('cold, end to end      ', cold));
      console.log(summary('cold, yt-dlp extraction', extraction));
      console.log(summary('cold, overhead (target ≤ 300 ms)', overhead));
      console.log(summary('cached, end to end (target ≤ 500 ms)', cached));
    });
  } finally {
    await ig.stop();
  }
});
