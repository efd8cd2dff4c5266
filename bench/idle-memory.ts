/**
 * Resident memory of the daemon process with 0, 1 and 50 idle ping
 * instances, each on its own bot account in its own room, all synced.
 *
 *   npm run bench:memory [-- --instances 50]   (or BENCH_INSTANCES=50)
 *   BENCH_SETTLE_MS=10000 sets how long each stage idles before sampling.
 */
import type { TestDaemon } from '../test/harness/daemon.ts';
import type { TestUser } from '../test/harness/matrix-user.ts';
import { createPingInstance, heapUsedKiB, intOption, log, mapLimit, median, registerBot, rssKiB, runMain, sleep, withBenchEnv, type ApiClient, type ApiInstance } from './lib.ts';

const SAMPLES = 5;
const SAMPLE_INTERVAL_MS = 1_000;
/** Parallel registrations/instances while building up; more only queues in Synapse on 2 cores. */
const SETUP_CONCURRENCY = 4;

interface Stage {
  label: string;
  instances: number;
  rssKiB: number;
  samples: number[];
  /** V8 heap in use, from the daemon's own /metrics: tells JS objects apart from native/wasm memory. */
  heapKiB: number | null;
}

async function sampleRss(daemon: TestDaemon, settleMs: number): Promise<number[]> {
  const pid = daemon.pid;
  if (!pid) throw new Error('the daemon is not running; see its output above');
  await sleep(settleMs);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(SAMPLE_INTERVAL_MS);
    samples.push(await rssKiB(pid));
  }
  return samples;
}

/** Adds `count` bots, each with an instance in its own room, numbered from `first`. */
async function addIdleInstances(daemon: TestDaemon, user: TestUser, first: number, count: number): Promise<void> {
  const numbers = Array.from({ length: count }, (_, i) => first + i);
  await mapLimit(numbers, SETUP_CONCURRENCY, async (n) => {
    const bot = await registerBot(daemon, `bench-idle${n}`);
    const roomId = await user.createRoom({ name: `idle ${n}`, invite: [bot.id] });
    await createPingInstance(daemon, `idle-${n}`, bot.id, [roomId]);
    return { bot, roomId };
  }).then(async (added) => {
    // One user sync serves all the waits, so these are cheap to run in order.
    for (const { bot, roomId } of added) await user.waitForMembership(roomId, bot.id, 'join', 120_000);
  });
}

/** Every instance running and every bot account through at least one successful sync. */
async function waitUntilIdle(daemon: TestDaemon, expected: number): Promise<void> {
  await daemon.waitFor(
    `${expected} instances running and all bot accounts synced`,
    async () => {
      const instances = (await daemon.api<ApiInstance[]>('GET', '/instances')).body;
      const clients = (await daemon.api<ApiClient[]>('GET', '/clients')).body;
      return instances.length === expected && instances.every((i) => i.state === 'running') && clients.length === expected && clients.every((c) => c.last_sync_at !== null);
    },
    120_000,
  );
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(1).padStart(7);
}

async function main(): Promise<void> {
  const many = intOption('instances', 'BENCH_INSTANCES', 50);
  const settleMs = intOption('settle-ms', 'BENCH_SETTLE_MS', 10_000);
  if (many < 2) throw new Error('--instances must be at least 2 to compute a per-instance increment');
  await withBenchEnv(async ({ daemon, user }) => {
    const stages: Stage[] = [];
    const measure = async (label: string, instances: number): Promise<void> => {
      log(`${label}: idling ${settleMs / 1000} s, then ${SAMPLES} samples …`);
      const samples = await sampleRss(daemon, settleMs);
      stages.push({ label, instances, rssKiB: median(samples), samples, heapKiB: await heapUsedKiB(daemon) });
    };

    await measure('no instances', 0);

    log('adding 1 bot account + instance …');
    await addIdleInstances(daemon, user, 1, 1);
    await waitUntilIdle(daemon, 1);
    await measure('1 idle instance', 1);

    log(`adding ${many - 1} more bot accounts + instances …`);
    const t0 = Date.now();
    await addIdleInstances(daemon, user, 2, many - 1);
    await waitUntilIdle(daemon, many);
    log(`set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await measure(`${many} idle instances`, many);

    const [zero, one, all] = stages as [Stage, Stage, Stage];
    const perInstance = (all.rssKiB - one.rssKiB) / (many - 1);
    console.log(`\ndaemon RSS (VmRSS, median of ${SAMPLES} samples after ${settleMs / 1000} s idle), ${new Date().toISOString()}`);
    for (const s of stages) {
      const heap = s.heapKiB === null ? '' : `   JS heap used ${mib(s.heapKiB).trim()} MiB`;
      console.log(`${s.label.padEnd(20)} ${mib(s.rssKiB)} MiB   samples: ${s.samples.map((k) => (k / 1024).toFixed(1)).join(' ')}${heap}`);
    }
    console.log(`${'first instance'.padEnd(20)} ${mib(one.rssKiB - zero.rssKiB)} MiB   (1 instance − none; includes one-off costs)`);
    console.log(`${'per extra instance'.padEnd(20)} ${mib(perInstance)} MiB   ((${many} − 1) / ${many - 1}; each with its own bot account and room)`);
  });
}

runMain(main);
