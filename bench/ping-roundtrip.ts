/**
 * `!ping` round trip as a person sees it: from the moment the user starts
 * sending `!ping` until the bot's reply arrives on the user's own /sync long
 * poll. Sequential pings through a real Synapse and a real daemon process.
 *
 *   npm run bench:ping [-- --count 300]     (or BENCH_COUNT=300)
 */
import { performance } from 'node:perf_hooks';
import { createPingInstance, heapUsedKiB, intOption, log, percentile, registerBot, rssKiB, runMain, withBenchEnv, type ApiInstance } from './lib.ts';
import { ReplyWatcher } from './reply-watcher.ts';

const WARMUP = 10;
const TOTAL_BUDGET_MS = 5 * 60_000;
const REPLY_TIMEOUT_MS = 30_000;
interface Sample {
  /** Send start → reply seen on the user's sync: the figure this benchmark is about. */
  roundTrip: number;
  /** Send start → the homeserver acknowledged the send (PUT returned). */
  send: number;
  /** What the ping plugin reported: homeserver timestamp of `!ping` → bot handler. */
  botSeen: number;
}

function stats(values: number[]): { p50: number; p95: number; p99: number; max: number; mean: number; min: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
    min: sorted[0]!,
  };
}

function report(samples: Sample[], elapsedMs: number): string {
  const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '—').padStart(8);
  const row = (label: string, values: number[]): string => {
    const s = stats(values);
    return `${label.padEnd(26)}${fmt(s.p50)}${fmt(s.p95)}${fmt(s.p99)}${fmt(s.max)}${fmt(s.mean)}${fmt(s.min)}`;
  };
  const botSeen = samples.map((s) => s.botSeen).filter((v) => Number.isFinite(v));
  return [
    `${'ms'.padEnd(26)}${['p50', 'p95', 'p99', 'max', 'mean', 'min'].map((h) => h.padStart(8)).join('')}`,
    row(
      'round trip',
      samples.map((s) => s.roundTrip),
    ),
    row(
      '  of which: send (PUT)',
      samples.map((s) => s.send),
    ),
    ...(botSeen.length ? [row('  bot-reported latency', botSeen)] : []),
    `pings: ${samples.length}   throughput: ${(samples.length / (elapsedMs / 1000)).toFixed(1)} pings/s (sequential, one in flight)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const count = intOption('count', 'BENCH_COUNT', 300);
  await withBenchEnv(async ({ daemon, user }) => {
    const bot = await registerBot(daemon, 'bench-pingbot');
    const roomId = await user.createRoom({ name: 'ping bench', invite: [bot.id] });
    await createPingInstance(daemon, 'bench-ping', bot.id, [roomId]);
    await daemon.waitFor('the ping instance to run', async () => (await daemon.api<ApiInstance>('GET', '/instance/bench-ping')).body.state === 'running', 60_000);
    await user.waitForMembership(roomId, bot.id, 'join', 60_000);

    const watcher = new ReplyWatcher(user, roomId);
    await watcher.start();
    const deadline = Date.now() + TOTAL_BUDGET_MS;
    const ping = async (): Promise<Sample> => {
      const t0 = performance.now();
      const eventId = await user.sendText(roomId, '!ping');
      const sent = performance.now();
      const reply = await watcher.waitForReply(eventId, Math.min(REPLY_TIMEOUT_MS, Math.max(1, deadline - Date.now())));
      const reported = /(\d+) ms$/.exec(reply.body);
      return { roundTrip: reply.at - t0, send: sent - t0, botSeen: reported ? Number(reported[1]) : Number.NaN };
    };

    const samples: Sample[] = [];
    let stoppedEarly = false;
    let elapsedMs = 0;
    try {
      log(`warming up with ${WARMUP} pings …`);
      for (let i = 0; i < WARMUP && Date.now() < deadline; i++) await ping();
      log(`measuring ${count} sequential pings …`);
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        if (Date.now() >= deadline) {
          stoppedEarly = true;
          break;
        }
        samples.push(await ping());
      }
      elapsedMs = performance.now() - started;
    } finally {
      await watcher.stop();
    }
    if (samples.length === 0) throw new Error('the 5 minute budget ran out before any measured ping');
    const rss = daemon.pid ? await rssKiB(daemon.pid) : null;
    console.log(`\n!ping round trip (user sends → reply seen on the user's /sync long poll), ${new Date().toISOString()}`);
    console.log(report(samples, elapsedMs));
    const heap = await heapUsedKiB(daemon);
    if (rss) console.log(`daemon after the run: RSS ${(rss / 1024).toFixed(1)} MiB${heap === null ? '' : `, JS heap used ${(heap / 1024).toFixed(1)} MiB`}`);
    if (stoppedEarly) console.log(`stopped after ${samples.length} of ${count} pings: 5 minute budget reached`);
  });
}

runMain(main);
