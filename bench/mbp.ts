/**
 * maubot plugins on Trellis: the memory of the Python host processes with 1
 * and 10 instances of the echo .mbp, and the `!ping` round trip of that
 * Python echo on Trellis, of Trellis's TypeScript ping plugin, and of maubot
 * 0.6.0 itself running the same .mbp, against the same Synapse in the same
 * run. Prints figures only.
 *
 *   npm run bench:mbp [-- --pings 50 --instances 10]
 */
import { performance } from 'node:perf_hooks';
import { registerUser } from '../test/harness/synapse.ts';
import { uniqueLocalpart, type TestUser } from '../test/harness/matrix-user.ts';
import { buildMaubotPlugin, fixturePath, TestMaubot } from '../test/harness/maubot.ts';
import type { TestDaemon } from '../test/harness/daemon.ts';
import { createPingInstance, intOption, log, percentile, registerBot, rssKiB, runMain, sleep, withBenchEnv } from './lib.ts';
import { ReplyWatcher } from './reply-watcher.ts';

const PINGS = intOption('pings', 'BENCH_PINGS', 50);
const INSTANCES = intOption('instances', 'BENCH_INSTANCES', 10);

/** `count` sequential !ping in the room: round trips as the user sees them (send → reply on their sync). */
async function pings(user: TestUser, room: string, count: number): Promise<{ p50: number; p95: number }> {
  const watcher = new ReplyWatcher(user, room);
  await watcher.start();
  try {
    // The instance may still be starting: a first answer before measuring.
    await watcher.waitForReply(await user.sendText(room, '!ping'), 60_000);
    const rounds: number[] = [];
    for (let i = 0; i < count; i++) {
      const sent = performance.now();
      const reply = await watcher.waitForReply(await user.sendText(room, '!ping'), 30_000);
      rounds.push(reply.at - sent);
    }
    rounds.sort((a, b) => a - b);
    return { p50: percentile(rounds, 50), p95: percentile(rounds, 95) };
  } finally {
    await watcher.stop();
  }
}

/** The host processes' memory as the daemon reports it at /metrics, in MiB per instance. */
async function hostMemory(daemon: TestDaemon): Promise<number[]> {
  const text = (await daemon.api('GET', '/metrics')).text;
  return [...text.matchAll(/^trellis_mbp_host_rss_bytes\{instance="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]) / 1024 / 1024);
}

async function waitRunning(daemon: TestDaemon, ids: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const states = await Promise.all(ids.map(async (id) => (await daemon.api<{ state: string }>('GET', `/instance/${id}`)).body.state));
    if (states.every((s) => s === 'running')) return;
    if (Date.now() > deadline) throw new Error(`instances not running: ${states.join(', ')}`);
    await sleep(500);
  }
}

runMain(async () => {
  await withBenchEnv(async ({ hs, daemon, user }) => {
    const upload = await daemon.api('POST', '/plugins/upload', undefined, { raw: await buildMaubotPlugin(fixturePath('maubot-plugins', 'echo')), contentType: 'application/zip' });
    if (upload.status !== 201) throw new Error(`uploading the echo .mbp failed: ${upload.status} ${upload.text}`);

    log('Python echo (.mbp) on Trellis …');
    const pyBot = await registerBot(daemon, 'mbp-echo', { encryption: false });
    const pyRoom = await user.createRoom({ name: 'mbp echo', invite: [pyBot.id] });
    await user.waitForMembership(pyRoom, pyBot.id, 'join', 60_000);
    const created = await daemon.api('PUT', '/instance/py-echo-0', { type: 'xyz.maubot.echo', primary_user: pyBot.id, rooms: [pyRoom] });
    if (created.status !== 201) throw new Error(`creating the instance failed: ${created.status} ${created.text}`);
    const python = await pings(user, pyRoom, PINGS);
    await sleep(6000); // one watchdog round: the figure is fresh
    const one = await hostMemory(daemon);
    const daemonWithOne = await rssKiB(daemon.pid!);

    log(`${INSTANCES} instances …`);
    const more = Array.from({ length: INSTANCES - 1 }, (_, i) => `py-echo-${i + 1}`);
    for (const id of more) {
      const res = await daemon.api('PUT', `/instance/${id}`, { type: 'xyz.maubot.echo', primary_user: pyBot.id, rooms: [] });
      if (res.status !== 201) throw new Error(`creating ${id} failed: ${res.status} ${res.text}`);
    }
    await waitRunning(daemon, more);
    await sleep(6000);
    const ten = await hostMemory(daemon);
    const daemonWithTen = await rssKiB(daemon.pid!);
    for (const id of more) await daemon.api('DELETE', `/instance/${id}`);

    log('TypeScript ping on Trellis …');
    const tsBot = await registerBot(daemon, 'ts-ping', { encryption: false });
    const tsRoom = await user.createRoom({ name: 'ts ping', invite: [tsBot.id] });
    await user.waitForMembership(tsRoom, tsBot.id, 'join', 60_000);
    await createPingInstance(daemon, 'ts-ping', tsBot.id, [tsRoom]);
    const typescript = await pings(user, tsRoom, PINGS);
    await daemon.stop();

    log('maubot 0.6.0 running the same .mbp …');
    const maubot = await TestMaubot.create(hs);
    let theirs: { p50: number; p95: number };
    let maubotRss: number;
    try {
      await maubot.uploadFixture('echo');
      const account = await registerUser(hs, uniqueLocalpart('mb-echo'), `bench-${uniqueLocalpart('pw')}`);
      await maubot.addClient({ access_token: account.accessToken, device_id: account.deviceId, autojoin: true });
      await maubot.putInstance('mb-echo', { type: 'xyz.maubot.echo', primary_user: account.userId });
      const room = await user.createRoom({ name: 'maubot echo', invite: [account.userId] });
      await user.waitForMembership(room, account.userId, 'join', 60_000);
      theirs = await pings(user, room, PINGS);
      maubotRss = (await rssKiB(maubot.pid!)) / 1024;
    } finally {
      await maubot.dispose();
    }

    const mib = (v: number) => `${v.toFixed(1)} MiB`;
    const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
    console.log(`maubot plugins on Trellis, ${new Date().toISOString().slice(0, 10)} (${PINGS} sequential !ping each)`);
    console.log(`  host process, 1 instance        ${mib(one[0] ?? Number.NaN)} (the daemon: ${mib(daemonWithOne / 1024)})`);
    console.log(`  host processes, ${INSTANCES} instances  ${mib(sum(ten))} in all, ${mib(sum(ten) / ten.length)} each (the daemon: ${mib(daemonWithTen / 1024)})`);
    console.log(`  maubot 0.6.0 with 1 instance    ${mib(maubotRss)} (one process for everything)`);
    console.log(`  !ping p50 / p95: Python echo on Trellis ${python.p50.toFixed(1)} / ${python.p95.toFixed(1)} ms`);
    console.log(`                   TypeScript ping        ${typescript.p50.toFixed(1)} / ${typescript.p95.toFixed(1)} ms`);
    console.log(`                   maubot, same .mbp      ${theirs.p50.toFixed(1)} / ${theirs.p95.toFixed(1)} ms`);
  });
});
