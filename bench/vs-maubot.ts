/**
 * Trellis against maubot 0.6.0, side by side on one Synapse in the same run,
 * both without E2EE, each with one bot that answers `!ping` and `!echo`
 * (Trellis: the bundled ping plugin; maubot: the echo stand-in from
 * test/fixtures/maubot-plugins). Prints each figure for both and the ratio
 * Trellis ÷ maubot. A benchmark: nothing is asserted.
 *
 *   npm run bench:vs-maubot [-- --pings 100 --burst 2000 --accounts 20 --instances 50 --idle-seconds 30]
 */
import { performance } from 'node:perf_hooks';
import { readFile } from 'node:fs/promises';
import { installMaubot, installSynapse } from '../scripts/python-tools.ts';
import { registerUser, startSynapse, type Homeserver } from '../test/harness/synapse.ts';
import { TestDaemon } from '../test/harness/daemon.ts';
import { TestMaubot } from '../test/harness/maubot.ts';
import { TestUser, uniqueLocalpart } from '../test/harness/matrix-user.ts';
import { EchoRun } from '../test/harness/echo-count.ts';
import { createPingInstance, intOption, log, mapLimit, median, percentile, registerBot, rssKiB, runMain, sleep } from './lib.ts';
import { ReplyWatcher } from './reply-watcher.ts';

const SETTLE_MS = 10_000;
const BURST_CONCURRENCY = 8;
const SETUP_CONCURRENCY = 4;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

/** What the benchmark needs from either daemon. */
interface Contender {
  name: 'Trellis' | 'maubot';
  pid(): number;
  /** Stops the process and starts it again; resolves when its management API answers. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Adds a bot account (joined to `roomId`) with one `!ping`/`!echo` instance; returns the bot's user id. */
  addBot(label: string, roomId: string | null): Promise<string>;
  /** Adds another instance on an existing bot account. */
  addInstance(botId: string, id: string): Promise<void>;
}

/** User + system CPU time of a process in milliseconds (Linux /proc). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

async function settledRss(pid: number): Promise<number> {
  await sleep(SETTLE_MS);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await sleep(1_000);
    samples.push(await rssKiB(pid));
  }
  return median(samples);
}

function trellisContender(daemon: TestDaemon, user: TestUser): Contender {
  let n = 0;
  return {
    name: 'Trellis',
    pid: () => daemon.pid ?? 0,
    stop: async () => void (await daemon.stop()),
    start: () => daemon.start(),
    async addBot(label, roomId) {
      // New accounts have E2EE on by default; maubot's bots here have none, so neither do these, from
      // the start: turned off after registration, the crypto module would already be loaded (+35 MiB).
      const bot = await registerBot(daemon, `vs-t-${label}`, { encryption: false });
      // Every room the bot is in, as maubot does.
      await createPingInstance(daemon, `t-${label}-${++n}`, bot.id, ['*']);
      if (roomId) {
        await user.invite(roomId, bot.id);
        await user.waitForMembership(roomId, bot.id, 'join', 60_000);
      }
      return bot.id;
    },
    addInstance: (botId, id) => createPingInstance(daemon, id, botId, ['*']),
  };
}

function maubotContender(maubot: TestMaubot, hs: Homeserver, user: TestUser): Contender {
  return {
    name: 'maubot',
    pid: () => maubot.pid ?? 0,
    stop: () => maubot.stop(),
    start: () => maubot.start(),
    async addBot(label, roomId) {
      const account = await registerUser(hs, uniqueLocalpart(`vs-m-${label}`), `bench-${uniqueLocalpart('pw')}`);
      await maubot.addClient({ access_token: account.accessToken, device_id: account.deviceId, autojoin: true });
      await maubot.putInstance(`m-${label}`, { type: 'xyz.maubot.echo', primary_user: account.userId });
      if (roomId) {
        await user.invite(roomId, account.userId);
        await user.waitForMembership(roomId, account.userId, 'join', 60_000);
      }
      return account.userId;
    },
    addInstance: (botId, id) => maubot.putInstance(id, { type: 'xyz.maubot.echo', primary_user: botId }),
  };
}

/**
 * From the moment the API answers, a `!ping` every half second until one is
 * answered; returns when that answer reached the user. (maubot skips what
 * arrived while it was down, so an earlier ping would never count for it.)
 */
async function firstAnswer(user: TestUser, room: string, watcher: ReplyWatcher, since: number): Promise<number> {
  const pings: string[] = [];
  while (performance.now() - since < 120_000) {
    pings.push(await user.sendText(room, '!ping'));
    const reply = await Promise.any(pings.map((id) => watcher.waitForReply(id, 500))).catch(() => undefined);
    if (reply) return reply.at;
  }
  throw new Error('no answer to any !ping within 120 s of the start');
}

interface Figures {
  apiUpMs: number;
  emptyRssKiB: number;
  idleCpuPercent: number;
  oneBotRssKiB: number;
  firstAnswerMs: number;
  /** Whether a !ping sent while the daemon was stopped was answered after the start. */
  answersWhatCameWhileDown: boolean;
  pingP50: number;
  pingP95: number;
  cpuMsPerPing: number;
  burstWallMs: number;
  burstAnswered: string;
  /** After the pings and the burst, before the extra accounts: their baseline. */
  afterBurstRssKiB: number;
  manyAccountsRssKiB: number;
  perExtraAccountKiB: number;
  manyInstancesRssKiB: number;
}

interface Options {
  pings: number;
  burst: number;
  accounts: number;
  instances: number;
  idleSeconds: number;
}

async function measure(c: Contender, user: TestUser, opts: Options): Promise<Figures> {
  const f = {} as Figures;
  log(`${c.name}: API-up time and empty daemon`);
  await c.stop();
  let t0 = performance.now();
  await c.start();
  f.apiUpMs = performance.now() - t0;
  f.emptyRssKiB = await settledRss(c.pid());
  const cpu0 = await cpuMs(c.pid());
  await sleep(opts.idleSeconds * 1000);
  f.idleCpuPercent = ((await cpuMs(c.pid())) - cpu0) / (opts.idleSeconds * 10);

  log(`${c.name}: one bot account with one instance`);
  const room = await user.createRoom({ name: `vs ${c.name}` });
  const botId = await c.addBot('main', room);
  const watcher = new ReplyWatcher(user, room);
  await watcher.start();
  try {
    // The instance may still be starting: wait for a first answer before measuring anything.
    await watcher.waitForReply(await user.sendText(room, '!ping'), 60_000);
    f.oneBotRssKiB = await settledRss(c.pid());

    log(`${c.name}: first answer after a start`);
    await c.stop();
    const whileDown = await user.sendText(room, '!ping');
    t0 = performance.now();
    await c.start();
    f.firstAnswerMs = (await firstAnswer(user, room, watcher, t0)) - t0;
    f.answersWhatCameWhileDown = await watcher.waitForReply(whileDown, 10_000).then(
      () => true,
      () => false,
    );

    log(`${c.name}: ${opts.pings} sequential !ping`);
    const rounds: number[] = [];
    const cpuBefore = await cpuMs(c.pid());
    for (let i = 0; i < opts.pings; i++) {
      const sent = performance.now();
      const reply = await watcher.waitForReply(await user.sendText(room, '!ping'), 30_000);
      rounds.push(reply.at - sent);
    }
    f.cpuMsPerPing = ((await cpuMs(c.pid())) - cpuBefore) / opts.pings;
    rounds.sort((a, b) => a - b);
    f.pingP50 = percentile(rounds, 50);
    f.pingP95 = percentile(rounds, 95);
  } finally {
    await watcher.stop();
  }

  log(`${c.name}: burst of ${opts.burst} !echo, ${BURST_CONCURRENCY} in flight`);
  const run = new EchoRun(user, botId, room);
  t0 = performance.now();
  await run.send(opts.burst, { concurrency: BURST_CONCURRENCY });
  const result = await run.waitForAnswers(opts.burst, 15 * 60_000, { log, stallMs: 60_000 });
  f.burstWallMs = performance.now() - t0;
  f.burstAnswered = `${result.answeredOnce}/${opts.burst} (lost ${result.lost}, twice ${result.answeredTwice})`;

  log(`${c.name}: ${opts.accounts} bot accounts`);
  // The baseline is taken here, after the restart, the pings and the burst: against the
  // one-account figure from before them, their growth would be counted as the accounts' cost.
  f.afterBurstRssKiB = await settledRss(c.pid());
  const extra = Array.from({ length: opts.accounts - 1 }, (_, i) => `a${i + 2}`);
  await mapLimit(extra, SETUP_CONCURRENCY, (label) => c.addBot(label, null));
  f.manyAccountsRssKiB = await settledRss(c.pid());
  f.perExtraAccountKiB = (f.manyAccountsRssKiB - f.afterBurstRssKiB) / Math.max(1, opts.accounts - 1);

  log(`${c.name}: ${opts.instances} instances on one account`);
  const more = Array.from({ length: opts.instances - 1 }, (_, i) => `${c.name === 'Trellis' ? 't' : 'm'}-many-${i + 2}`);
  await mapLimit(more, SETUP_CONCURRENCY, (id) => c.addInstance(botId, id));
  f.manyInstancesRssKiB = await settledRss(c.pid());
  return f;
}

function report(t: Figures, m: Figures, opts: Options): string {
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 0)} ms`;
  const rows: Array<[string, string, string, number | null, string]> = [
    ['API up after start', ms(t.apiUpMs), ms(m.apiUpMs), t.apiUpMs / m.apiUpMs, '≤ 1.0×'],
    ['RSS, empty daemon', mib(t.emptyRssKiB), mib(m.emptyRssKiB), t.emptyRssKiB / m.emptyRssKiB, '≤ 1.5×'],
    [`idle CPU (${opts.idleSeconds} s)`, `${t.idleCpuPercent.toFixed(2)} %`, `${m.idleCpuPercent.toFixed(2)} %`, m.idleCpuPercent > 0 ? t.idleCpuPercent / m.idleCpuPercent : null, '≤ 1.0×'],
    ['RSS, 1 account + 1 instance', mib(t.oneBotRssKiB), mib(m.oneBotRssKiB), t.oneBotRssKiB / m.oneBotRssKiB, ''],
    ['RSS after the pings and the burst', mib(t.afterBurstRssKiB), mib(m.afterBurstRssKiB), t.afterBurstRssKiB / m.afterBurstRssKiB, ''],
    [`RSS, ${opts.accounts} accounts`, mib(t.manyAccountsRssKiB), mib(m.manyAccountsRssKiB), t.manyAccountsRssKiB / m.manyAccountsRssKiB, ''],
    ['per extra account', `${t.perExtraAccountKiB.toFixed(0)} KiB`, `${m.perExtraAccountKiB.toFixed(0)} KiB`, null, '≤ 512 KiB'],
    [`RSS, ${opts.instances} instances on one account`, mib(t.manyInstancesRssKiB), mib(m.manyInstancesRssKiB), t.manyInstancesRssKiB / m.manyInstancesRssKiB, '≤ 1.5×'],
    ['first answer after start', ms(t.firstAnswerMs), ms(m.firstAnswerMs), t.firstAnswerMs / m.firstAnswerMs, '≤ 1.0×'],
    [`!ping round trip p50 (${opts.pings})`, ms(t.pingP50), ms(m.pingP50), t.pingP50 / m.pingP50, ''],
    ['!ping round trip p95', ms(t.pingP95), ms(m.pingP95), t.pingP95 / m.pingP95, ''],
    ['CPU per !ping', ms(t.cpuMsPerPing), ms(m.cpuMsPerPing), t.cpuMsPerPing / m.cpuMsPerPing, '≤ 1.0×'],
    [`burst of ${opts.burst}, wall time`, ms(t.burstWallMs), ms(m.burstWallMs), t.burstWallMs / m.burstWallMs, '≤ 0.8×'],
    ['burst answered once', t.burstAnswered, m.burstAnswered, null, 'all'],
    ['a !ping sent while stopped is answered after the start', String(t.answersWhatCameWhileDown), String(m.answersWhatCameWhileDown), null, ''],
  ];
  const lines = ['| figure | Trellis | maubot 0.6.0 | Trellis ÷ maubot | goal |', '| --- | ---: | ---: | ---: | --- |'];
  for (const [label, tv, mv, ratio, goal] of rows) lines.push(`| ${label} | ${tv} | ${mv} | ${ratio === null ? '' : `${ratio.toFixed(2)}×`} | ${goal} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts: Options = {
    pings: intOption('pings', 'BENCH_PINGS', 100),
    burst: intOption('burst', 'BENCH_BURST', 2000),
    accounts: intOption('accounts', 'BENCH_ACCOUNTS', 20),
    instances: intOption('instances', 'BENCH_INSTANCES', 50),
    idleSeconds: intOption('idle-seconds', 'BENCH_IDLE_SECONDS', 30),
  };
  await installSynapse({ log });
  await installMaubot({ log });
  log('starting Synapse …');
  const hs = await startSynapse();
  let daemon: TestDaemon | undefined;
  let maubot: TestMaubot | undefined;
  try {
    // Trellis as operators run it: response schema checks are a test aid, off here.
    daemon = await TestDaemon.create(
      hs,
      (config) => {
        (config.homeservers as Record<string, Record<string, unknown>>).main!.shared_secret = hs.sharedSecret;
      },
      { env: { TRELLIS_CHECK_API_RESPONSES: '0' } },
    );
    maubot = await TestMaubot.create(hs);
    await maubot.uploadFixture('echo');
    // Only one daemon runs at a time: neither pays for the other's CPU or page cache.
    await maubot.stop();
    const user = await TestUser.create(hs, 'vs-human');
    const trellis = await measure(trellisContender(daemon, user), user, opts);
    await daemon.stop();
    const theirs = await measure(maubotContender(maubot, hs, user), user, opts);
    console.log(report(trellis, theirs, opts));
  } finally {
    await daemon?.dispose().catch((err: unknown) => log(`stopping Trellis failed: ${String(err)}`));
    await maubot?.dispose().catch((err: unknown) => log(`stopping maubot failed: ${String(err)}`));
    await hs.stop().catch((err: unknown) => log(`stopping Synapse failed: ${String(err)}`));
  }
}

runMain(main);
