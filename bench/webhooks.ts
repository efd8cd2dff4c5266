/**
 * Webhooks through a real daemon and a real Synapse: how many requests a
 * second the public listener accepts (each stored before its 202), the
 * acknowledgement latency, how long a message takes from its acknowledgement
 * to the room, and what a transform adds. Every message is counted in the
 * room's history afterwards: lost and posted twice are printed too.
 *
 *   npm run bench:webhooks [-- --count 5000 --concurrency 32]
 */
import { performance } from 'node:perf_hooks';
import { freePort } from '../test/harness/daemon.ts';
import { readRoomHistory } from '../test/harness/echo-count.ts';
import { intOption, log, mapLimit, percentile, registerBot, runMain, sleep, withBenchEnv } from './lib.ts';

const COUNT = intOption('count', 'BENCH_COUNT', 5000);
const CONCURRENCY = intOption('concurrency', 'BENCH_CONCURRENCY', 32);
const SEQUENTIAL = intOption('sequential', 'BENCH_SEQUENTIAL', 300);
/** The steady phase: requests a second, and how many, for the delivery lag of a hook that keeps up. */
const STEADY_RATE = intOption('steady-rate', 'BENCH_STEADY_RATE', 10);
const STEADY_COUNT = intOption('steady-count', 'BENCH_STEADY_COUNT', 200);
const PLAIN_ID = 'bench-plain-hook-0001';
const TRANSFORM_ID = 'bench-transform-hook-0001';
const TRANSFORM = 'result = { version: "v2", plain: `Build ${data.build}: ${data.state}`, html: `<b>Build ${data.build}</b>: ${data.state}` };';

const ms = (v: number) => `${v.toFixed(2)} ms`;
function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${ms(percentile(sorted, 50))}, p95 ${ms(percentile(sorted, 95))}, max ${ms(sorted[sorted.length - 1] ?? Number.NaN)}`;
}

runMain(async () => {
  const publicPort = await freePort();
  const publicUrl = `http://127.0.0.1:${publicPort}`;
  await withBenchEnv(
    async ({ daemon, user }) => {
      const bot = await registerBot(daemon, 'hookbench', { encryption: false });
      const room = await user.createRoom({ name: 'webhook bench', invite: [bot.id] });
      const res = await daemon.api('PUT', '/instance/hookbench', {
        type: 'org.trellis.webhooks',
        primary_user: bot.id,
        rooms: [room],
        config: {
          // Queued mode: the answer is the 202 once stored, delivery follows.
          wait_for_delivery_ms: 0,
          hooks: [
            { id: PLAIN_ID, name: 'plain', room, rate_limit_per_minute: 0 },
            { id: TRANSFORM_ID, name: 'transformed', room, rate_limit_per_minute: 0, transform: TRANSFORM },
          ],
        },
      });
      if (res.status !== 201) throw new Error(`creating the instance failed: ${res.status} ${res.text}`);
      await user.waitForMembership(room, bot.id, 'join', 60_000);

      const post = async (id: string, payload: unknown): Promise<number> => {
        const started = performance.now();
        const answer = await fetch(`${publicUrl}/webhook/${id}`, { method: 'POST', body: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
        await answer.arrayBuffer();
        if (answer.status !== 202) throw new Error(`request answered ${answer.status}`);
        return performance.now() - started;
      };

      // Warm-up: connections, the JIT, the transform workers.
      for (let i = 0; i < 20; i++) await post(i % 2 ? TRANSFORM_ID : PLAIN_ID, { text: `warm ${i}`, build: i, state: 'warm' });

      log(`accepting ${COUNT} requests, ${CONCURRENCY} in flight …`);
      const run = `run-${Date.now()}`;
      const ackedAt = new Map<string, number>();
      const started = performance.now();
      const acks = await mapLimit(
        Array.from({ length: COUNT }, (_, i) => i),
        CONCURRENCY,
        async (i) => {
          const text = `${run} #${i}`;
          const took = await post(PLAIN_ID, { text });
          ackedAt.set(text, Date.now());
          return took;
        },
      );
      const acceptSeconds = (performance.now() - started) / 1000;

      log('waiting for every message to reach the room …');
      const seen = new Map<string, number[]>();
      const deadline = Date.now() + 15 * 60_000;
      for (;;) {
        seen.clear();
        for (const event of (await readRoomHistory(user, room)).events) {
          const body = String(event.content.body ?? '');
          if (event.sender === bot.id && body.startsWith(`${run} #`)) seen.set(body, [...(seen.get(body) ?? []), event.origin_server_ts]);
        }
        if (seen.size >= COUNT || Date.now() > deadline) break;
        await sleep(2000);
      }
      const lags = [...seen].flatMap(([body, stamps]) => stamps.map((ts) => ts - (ackedAt.get(body) ?? ts)));
      const lastPosted = Math.max(...[...seen.values()].flat());
      const lost = COUNT - seen.size;
      const twice = [...seen.values()].filter((s) => s.length > 1).length;

      log(`steady: ${STEADY_COUNT} requests at ${STEADY_RATE}/s …`);
      const steadyRun = `steady-${Date.now()}`;
      const steadyAcked = new Map<string, number>();
      for (let i = 0; i < STEADY_COUNT; i++) {
        const text = `${steadyRun} #${i}`;
        const due = performance.now() + 1000 / STEADY_RATE;
        await post(PLAIN_ID, { text });
        steadyAcked.set(text, Date.now());
        await sleep(Math.max(0, due - performance.now()));
      }
      await sleep(3000);
      const steadyLags = (await readRoomHistory(user, room)).events.filter((e) => steadyAcked.has(String(e.content.body))).map((e) => e.origin_server_ts - steadyAcked.get(String(e.content.body))!);

      log(`transform overhead: ${SEQUENTIAL} sequential requests to each hook …`);
      const plain: number[] = [];
      const transformed: number[] = [];
      for (let i = 0; i < SEQUENTIAL; i++) {
        plain.push(await post(PLAIN_ID, { text: `seq ${i}` }));
        transformed.push(await post(TRANSFORM_ID, { build: i, state: 'passed' }));
      }
      const p50 = (values: number[]) =>
        percentile(
          [...values].sort((a, b) => a - b),
          50,
        );

      console.log(`webhooks bench, ${new Date().toISOString().slice(0, 10)}: ${COUNT} requests, ${CONCURRENCY} in flight, queued mode (202 once stored)`);
      console.log(`  accepted                 ${(COUNT / acceptSeconds).toFixed(0)} requests/s (${acceptSeconds.toFixed(1)} s)`);
      console.log(`  acknowledgement          ${summary(acks)}`);
      console.log(`  burst lag (ack→room)     ${summary(lags)}`);
      console.log(
        `  all posted after         ${((lastPosted - Math.min(...ackedAt.values())) / 1000).toFixed(1)} s (${(COUNT / ((lastPosted - Math.min(...ackedAt.values())) / 1000)).toFixed(0)} messages/s into the room)`,
      );
      console.log(`  steady ${STEADY_RATE}/s: lag      ${summary(steadyLags)} (${steadyLags.length} of ${STEADY_COUNT} seen)`);
      console.log(`  lost                     ${lost}`);
      console.log(`  posted twice             ${twice}`);
      console.log(`  sequential ack, plain    ${summary(plain)}`);
      console.log(`  sequential ack, transform ${summary(transformed)}`);
      console.log(`  transform overhead p50   ${ms(p50(transformed) - p50(plain))}`);
    },
    { config: (config) => (config.public = { host: '127.0.0.1', port: publicPort, base_url: publicUrl }) },
  );
});
