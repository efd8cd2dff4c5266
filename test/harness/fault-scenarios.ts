/**
 * The fault scenarios of issue 10 ("nothing lost, nothing twice"), shared by
 * test/integration/faults.test.ts (which asserts) and bench/faults.ts (which
 * prints the table). Each scenario gets a fresh bot account, a fresh room and
 * its own ping instance on one running daemon, drives traffic with EchoRun and
 * returns the counts read from the room's history plus what it observed on
 * the way (exit codes, health answers, log records).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import type { ApiResponse, TestDaemon } from './daemon.ts';
import { uniqueLocalpart, type TestUser } from './matrix-user.ts';
import { EchoRun, describeCounts, newRunId, type WaitResult } from './echo-count.ts';

export interface FaultEnv {
  daemon: TestDaemon;
  user: TestUser;
  /** Progress lines (t.diagnostic in tests, stderr in the bench). */
  log?: (line: string) => void;
}

export interface ScenarioResult {
  situation: string;
  counts: WaitResult;
  /** Things seen on the way, one short line each (exit codes, health, logs). */
  notes: string[];
}

export const THROWER = {
  id: 'org.example.thrower',
  fixture: 'thrower',
  sdkTimerError: 'thrower fixture: SDK timer threw on purpose',
  plainTimerError: 'thrower fixture: plain setTimeout threw on purpose',
  rejectionError: 'thrower fixture: un-awaited promise rejected on purpose',
} as const;
export const HANGER = { id: 'org.example.hanger', fixture: 'hanger', started: 'hanger fixture: hang handler started' } as const;

interface ApiInstance {
  id: string;
  state: string;
  events_handled: number;
  errors_last_hour: number;
}
interface LogRecords {
  records: Array<{ level: string; message: string; instance_id: string | null }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The management API with a token; logs in again once if the daemon no longer accepts the old one (e.g. after a restart). */
async function api<T = unknown>(daemon: TestDaemon, method: string, path: string, body?: unknown, options?: { raw?: Buffer }): Promise<ApiResponse<T>> {
  const res = await daemon.api<T>(method, path, body, options);
  if (res.status !== 401) return res;
  await daemon.login();
  return daemon.api<T>(method, path, body, options);
}

/** Polls `probe` until it returns something truthy or `timeoutMs` passes; returns the value or undefined. */
async function poll<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs: number, intervalMs = 200): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch {
      // the daemon may be restarting
    }
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}

/** A new bot account, registered by the daemon with Synapse's shared secret (config homeservers.main.shared_secret). */
export async function registerBot(daemon: TestDaemon, prefix = 'faultbot'): Promise<string> {
  const res = await api<{ id: string }>(daemon, 'POST', '/client/auth/main/register?update_client=true', {
    username: uniqueLocalpart(prefix),
    password: `bot-${uniqueLocalpart('pw')}`,
    method: 'shared_secret',
  });
  if (res.status !== 201) throw new Error(`registering a bot failed: HTTP ${res.status} ${res.text}`);
  return res.body.id;
}

/** Starts the daemon again if an earlier scenario left it stopped or crashed. */
export async function ensureRunning(daemon: TestDaemon): Promise<void> {
  if (daemon.running) return;
  await daemon.stop();
  await daemon.start();
}

export interface PreparedRoom {
  botId: string;
  roomId: string;
  pingInstance: string;
  /** Deletes the scenario's instances and bot account so later scenarios do not share its work. */
  dispose(): Promise<void>;
}

/**
 * A fresh bot, a room the user created with the bot invited, and a ping
 * instance for that room; resolves once the bot has answered a first `!echo`
 * there (so it has joined and synced past its join).
 */
export async function prepareRoom(env: FaultEnv, label: string, extraInstances: Array<{ id: string; type: string }> = []): Promise<PreparedRoom> {
  const { daemon, user } = env;
  await ensureRunning(daemon);
  // Refreshes the API token if a restart made the daemon forget it (createInstance below uses daemon.api directly).
  await api(daemon, 'GET', '/instances');
  const botId = await registerBot(daemon, `${label}bot`);
  const roomId = await user.createRoom({ name: `faults: ${label}`, invite: [botId] });
  const suffix = newRunId('');
  const pingInstance = `ping-${label}-${suffix}`;
  const instances = [pingInstance];
  await daemon.createInstance(pingInstance, { type: 'org.trellis.ping', primary_user: botId, rooms: [roomId], config: {} });
  for (const extra of extraInstances) {
    await daemon.createInstance(extra.id, { type: extra.type, primary_user: botId, rooms: [roomId], config: {} });
    instances.push(extra.id);
  }
  await user.waitForMembership(roomId, botId, 'join', 60_000);
  const warm = new EchoRun(user, botId, roomId, newRunId('warm'));
  await warm.send(1);
  const answered = await warm.waitForAnswers(1, 60_000, { settleMs: 0, stallMs: 60_000 });
  if (answered.answeredOnce + answered.answeredTwice !== 1) {
    throw new Error(`setup: the bot ${botId} did not answer a first !echo in its new room within 60 s (${describeCounts(answered)})`);
  }
  return {
    botId,
    roomId,
    pingInstance,
    async dispose() {
      if (!daemon.running) return;
      for (const id of instances) await api(daemon, 'DELETE', `/instance/${encodeURIComponent(id)}`).catch(() => undefined);
      await api(daemon, 'DELETE', `/client/${encodeURIComponent(botId)}`).catch(() => undefined);
    },
  };
}

/** Events the instance has taken in this daemon process (the counter starts at 0 with each start). */
async function eventsHandled(daemon: TestDaemon, instanceId: string): Promise<number> {
  const res = await api<ApiInstance>(daemon, 'GET', `/instance/${encodeURIComponent(instanceId)}`);
  return res.status === 200 ? res.body.events_handled : 0;
}

export interface OfflineOptions {
  count?: number;
  timeoutMs?: number;
}

/** Daemon stopped, `count` `!echo N` arrive, daemon started. */
export async function offlineBacklog(env: FaultEnv, options: OfflineOptions = {}): Promise<ScenarioResult> {
  const count = options.count ?? 1500;
  const room = await prepareRoom(env, 'offline');
  const notes: string[] = [];
  try {
    const stopped = await env.daemon.stop();
    notes.push(`stop exit code ${stopped.code}`);
    const run = new EchoRun(env.user, room.botId, room.roomId);
    env.log?.(`offline: sending ${count} while the daemon is stopped …`);
    await run.send(count, { concurrency: 8 });
    await env.daemon.start();
    env.log?.('offline: daemon started; counting answers …');
    const counts = await run.waitForAnswers(count, options.timeoutMs ?? 150_000, { log: env.log });
    return { situation: `daemon stopped, ${count} !echo N arrive, daemon started`, counts, notes };
  } finally {
    await ensureRunning(env.daemon);
    await room.dispose();
  }
}

export interface BurstOptions {
  count?: number;
  inFlight?: number;
  timeoutMs?: number;
}

/** A running bot; the user sends `count` `!echo N` as fast as the homeserver takes them, `inFlight` at a time. */
export async function liveBurst(env: FaultEnv, options: BurstOptions = {}): Promise<ScenarioResult> {
  const count = options.count ?? 2000;
  const inFlight = options.inFlight ?? 8;
  const room = await prepareRoom(env, 'burst');
  try {
    const run = new EchoRun(env.user, room.botId, room.roomId);
    env.log?.(`burst: sending ${count} with ${inFlight} in flight …`);
    const t0 = Date.now();
    await run.send(count, { concurrency: inFlight });
    env.log?.(`burst: sent in ${((Date.now() - t0) / 1000).toFixed(1)} s; counting answers …`);
    const counts = await run.waitForAnswers(count, options.timeoutMs ?? 150_000, { log: env.log });
    return { situation: `running bot, ${count} !echo N with ${inFlight} in flight`, counts, notes: [] };
  } finally {
    await room.dispose();
  }
}

export interface RestartOptions {
  how: 'kill9' | 'sigterm';
  count?: number;
  restarts?: number;
  /** Sends per second, so the burst lasts through all restarts (default 25). */
  rate?: number;
  /** Kill once the instance has taken this many events since its (re)start (default 10) … */
  handledBeforeKill?: number;
  /** … or after this long, whichever comes first (default 15 s). */
  maxLifeMs?: number;
  timeoutMs?: number;
}

/**
 * `count` `!echo N` arrive at a steady rate; meanwhile the daemon is killed
 * (`kill -9`) or stopped (SIGTERM) `restarts` times, each time while its
 * ping instance is busy with the traffic, and started again at once.
 */
export async function restartsDuringBurst(env: FaultEnv, options: RestartOptions): Promise<ScenarioResult & { exitCodes: Array<number | null> }> {
  const count = options.count ?? 500;
  const restarts = options.restarts ?? 5;
  const rate = options.rate ?? 25;
  const handledBeforeKill = options.handledBeforeKill ?? 10;
  const maxLifeMs = options.maxLifeMs ?? 15_000;
  const label = options.how === 'kill9' ? 'kill' : 'sigterm';
  const room = await prepareRoom(env, label);
  const notes: string[] = [];
  try {
    const run = new EchoRun(env.user, room.botId, room.roomId);
    env.log?.(`${label}: sending ${count} at ${rate}/s, ${restarts} × ${options.how === 'kill9' ? 'kill -9' : 'SIGTERM'} meanwhile …`);
    const sending = run.send(count, { concurrency: 8, ratePerSecond: rate }).then(
      () => null,
      (err: unknown) => err,
    );
    const codes: Array<number | null> = [];
    const busyAtKill: number[] = [];
    for (let i = 0; i < restarts; i++) {
      const busy = await poll(async () => {
        const handled = await eventsHandled(env.daemon, room.pingInstance);
        return handled >= handledBeforeKill ? handled : undefined;
      }, maxLifeMs);
      busyAtKill.push(busy ?? -1);
      if (options.how === 'kill9') {
        await env.daemon.kill9();
      } else {
        codes.push((await env.daemon.stop()).code);
      }
      await env.daemon.start();
    }
    const sendError = await sending;
    if (sendError) throw sendError;
    notes.push(
      `events handled at each ${options.how === 'kill9' ? 'kill' : 'SIGTERM'}: ${busyAtKill.map((b) => (b < 0 ? `<${handledBeforeKill} after ${maxLifeMs / 1000} s` : String(b))).join(', ')}`,
    );
    if (options.how === 'sigterm') notes.push(`SIGTERM exit codes: ${codes.join(', ')}`);
    env.log?.(`${label}: all sent, last restart done; counting answers …`);
    const counts = await run.waitForAnswers(count, options.timeoutMs ?? 120_000, { log: env.log });
    const what = options.how === 'kill9' ? 'kill -9' : 'SIGTERM';
    return { situation: `${what} ${restarts}× during a burst of ${count} (${rate}/s), restarted each time`, counts, notes, exitCodes: codes };
  } finally {
    await ensureRunning(env.daemon);
    await room.dispose();
  }
}

/** The daemon's SQLite file, from its config (data_dir and database.path, relative to the config's folder). */
export async function databasePath(daemon: TestDaemon): Promise<string> {
  const config = parse(await readFile(daemon.configPath, 'utf8')) as { data_dir?: string; database?: { path?: string } };
  const dataDir = resolve(dirname(daemon.configPath), config.data_dir ?? 'data');
  return resolve(dataDir, config.database?.path ?? 'trellis.db');
}

/**
 * Another process holding SQLite's write lock on `dbPath` (BEGIN EXCLUSIVE;
 * in WAL mode readers go on, every writer gets SQLITE_BUSY once its
 * busy_timeout runs out). Resolves once the lock is held.
 */
export async function holdWriteLock(dbPath: string, holdMs: number): Promise<{ child: ChildProcess; released: Promise<void> }> {
  const script = [
    "const { DatabaseSync } = require('node:sqlite');",
    'const db = new DatabaseSync(process.env.LOCK_DB, { timeout: 30000 });',
    "db.exec('BEGIN EXCLUSIVE');",
    "process.stdout.write('locked\\n');",
    "setTimeout(() => { db.exec('ROLLBACK'); db.close(); process.stdout.write('released\\n'); }, Number(process.env.LOCK_HOLD_MS));",
  ].join('\n');
  const child = spawn(process.execPath, ['--no-warnings', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOCK_DB: dbPath, LOCK_HOLD_MS: String(holdMs) },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const locked = await Promise.race([poll(async () => out.includes('locked'), 40_000, 50), exited.then(() => false)]);
  if (!locked) {
    child.kill('SIGKILL');
    throw new Error(`could not take the write lock on ${dbPath}: ${out.trim() || 'no output'}`);
  }
  const released = exited.then((code) => {
    if (code !== 0 || !out.includes('released')) throw new Error(`the lock holder exited ${code}: ${out.trim()}`);
  });
  return { child, released };
}

export interface StorageOptions {
  count?: number;
  rate?: number;
  holdMs?: number;
  lockAfter?: number;
  timeoutMs?: number;
}

export interface StorageResult extends ScenarioResult {
  /** /health (with a token) answered 200 right before the lock. */
  healthyBefore: boolean;
  /** The first 503 seen while storage failed or until it recovered, if its body names storage. */
  storage503: string | null;
  /** Every /health status seen from the lock until the answers were counted, collapsed (e.g. 200 → 503 → 200). */
  healthSequence: string;
  /** /health answered 200 again afterwards (within 60 s). */
  healthyAfter: boolean;
}

const STORAGE_WORDS = /storage|database|sqlite|disk|write/i;

/**
 * Messages flow at a steady rate; after `lockAfter` of them another process
 * takes the database's write lock for `holdMs`, then lets go. /health (with a
 * token) is polled throughout.
 */
export async function storageLockedMidTraffic(env: FaultEnv, options: StorageOptions = {}): Promise<StorageResult> {
  const count = options.count ?? 300;
  const rate = options.rate ?? 15;
  const holdMs = options.holdMs ?? 15_000;
  const lockAfter = options.lockAfter ?? 60;
  const { daemon } = env;
  const room = await prepareRoom(env, 'storage');
  let lock: Awaited<ReturnType<typeof holdWriteLock>> | undefined;
  let monitoring = true;
  const statuses: number[] = [];
  // Written by the monitor below (an object, so the compiler does not narrow them to null).
  const seen: { storage503: string | null; other503: string | null } = { storage503: null, other503: null };
  try {
    const before = await poll(async () => (await api(daemon, 'GET', '/health')).status === 200, 30_000, 500);
    const run = new EchoRun(env.user, room.botId, room.roomId);
    const dbPath = await databasePath(daemon);
    env.log?.(`storage: sending ${count} at ${rate}/s; write lock on ${dbPath} for ${holdMs / 1000} s after ${lockAfter} …`);
    const sending = run.send(count, { concurrency: 4, ratePerSecond: rate }).then(
      () => null,
      (err: unknown) => err,
    );
    await poll(async () => run.sentCount >= lockAfter, 120_000, 50);
    const outputAtLock = daemon.output.length;
    lock = await holdWriteLock(dbPath, holdMs);
    const answerTimes: number[] = [Date.now()];
    const monitor = (async () => {
      while (monitoring) {
        try {
          const res = await api(daemon, 'GET', '/health');
          answerTimes.push(Date.now());
          statuses.push(res.status);
          if (res.status === 503) {
            if (STORAGE_WORDS.test(res.text)) seen.storage503 ??= res.text.slice(0, 600);
            else seen.other503 ??= res.text.slice(0, 600);
          }
        } catch {
          statuses.push(0);
        }
        await sleep(250);
      }
    })();
    await lock.released;
    lock = undefined;
    const releasedAt = Date.now();
    env.log?.('storage: lock released; counting answers …');
    const sendError = await sending;
    if (sendError) throw sendError;
    const counts = await run.waitForAnswers(count, options.timeoutMs ?? 120_000, { log: env.log });
    const after = await poll(async () => (await api(daemon, 'GET', '/health')).status === 200, 60_000, 500);
    monitoring = false;
    await monitor;
    const healthSequence = statuses
      .filter((s, i) => i === 0 || s !== statuses[i - 1])
      .map((s) => (s === 0 ? 'no answer' : String(s)))
      .join(' → ');
    // node:sqlite is synchronous: a write waiting for the lock (busy_timeout) blocks the daemon's event loop.
    const duringLock = answerTimes.filter((t) => t <= releasedAt);
    let longestSilence = 0;
    const marks = [...duringLock, releasedAt];
    for (let i = 1; i < marks.length; i++) longestSilence = Math.max(longestSilence, marks[i]! - marks[i - 1]!);
    const notes = [
      `/health before: ${before ? 200 : 'not 200'}; from the lock on: ${healthSequence || '(no answer)'}; after: ${after ? 200 : 'not 200 within 60 s'}`,
      `/health answered ${duringLock.length - 1} times while the lock was held; longest wait for an answer ${(longestSilence / 1000).toFixed(1)} s`,
    ];
    const storageLines = daemon.output.slice(outputAtLock).filter((l) => /storage|sqlite|database|busy|locked/i.test(l));
    notes.push(
      `daemon log lines about storage since the lock: ${storageLines.length}${
        storageLines.length
          ? `, e.g. ${storageLines
              .slice(0, 2)
              .map((l) => l.slice(0, 240))
              .join(' | ')}`
          : ''
      }`,
    );
    if (seen.storage503) notes.push(`503 body: ${seen.storage503.slice(0, 200)}`);
    else if (seen.other503) notes.push(`503 without a storage reason: ${seen.other503.slice(0, 200)}`);
    return {
      situation: `database write-locked ${holdMs / 1000} s mid-traffic (${count} at ${rate}/s), then free`,
      counts,
      notes,
      healthyBefore: Boolean(before),
      storage503: seen.storage503,
      healthSequence,
      healthyAfter: Boolean(after),
    };
  } finally {
    monitoring = false;
    lock?.child.kill('SIGKILL');
    await ensureRunning(daemon);
    await room.dispose();
  }
}

/** Log records of an instance whose message contains `text` (GET /logs?q=&instance=). */
export async function logRecords(daemon: TestDaemon, instanceId: string, text: string): Promise<LogRecords['records']> {
  const res = await api<LogRecords>(daemon, 'GET', `/logs?instance=${encodeURIComponent(instanceId)}&q=${encodeURIComponent(text)}&limit=50`);
  if (res.status !== 200) throw new Error(`GET /logs answered ${res.status}: ${res.text}`);
  return res.body.records.filter((r) => r.message.includes(text) && r.instance_id === instanceId);
}

export interface NeighbourRoom extends PreparedRoom {
  hanger: string;
  thrower: string;
}

/** A ping instance, a hanger and a thrower on the same bot in the same room (fixtures uploaded first). */
export async function prepareNeighbours(env: FaultEnv): Promise<NeighbourRoom> {
  await ensureRunning(env.daemon);
  await env.daemon.uploadFixture(HANGER.fixture);
  await env.daemon.uploadFixture(THROWER.fixture);
  const suffix = newRunId('');
  const hanger = `hanger-${suffix}`;
  const thrower = `thrower-${suffix}`;
  const room = await prepareRoom(env, 'neighbours', [
    { id: hanger, type: HANGER.id },
    { id: thrower, type: THROWER.id },
  ]);
  return { ...room, hanger, thrower };
}

export interface HungOptions {
  count?: number;
  hangs?: number;
  timeoutMs?: number;
}

export interface HungResult extends ScenarioResult {
  /** The hanger logged that its first handler started (so it was stuck while the echoes flowed). */
  hangStarted: boolean;
  daemonRunning: boolean;
  healthReachable: boolean;
}

/**
 * `!hang` (a handler that never resolves, on the same bot in the same room)
 * is sent first and then `hangs` more times among `count` `!echo N`: the ping
 * instance must keep answering all of them.
 */
export async function hungNeighbour(env: FaultEnv, room: NeighbourRoom, options: HungOptions = {}): Promise<HungResult> {
  const count = options.count ?? 200;
  const hangs = options.hangs ?? 12;
  const { daemon, user } = env;
  await user.sendText(room.roomId, '!hang');
  const hangStarted = Boolean(await poll(async () => (await logRecords(daemon, room.hanger, HANGER.started)).length > 0, 30_000, 300));
  const run = new EchoRun(user, room.botId, room.roomId);
  const every = Math.max(1, Math.floor(count / hangs));
  const hangSends: Array<Promise<unknown>> = [];
  env.log?.(`neighbours: ${count} !echo N with ${hangs} more !hang among them …`);
  await run.send(count, {
    concurrency: 8,
    onSent: (_n, sent) => {
      if (sent % every === 0 && hangSends.length < hangs) hangSends.push(user.sendText(room.roomId, '!hang'));
    },
  });
  await Promise.all(hangSends);
  const counts = await run.waitForAnswers(count, options.timeoutMs ?? 90_000, { log: env.log });
  const daemonRunning = daemon.running;
  const health = await api(daemon, 'GET', '/health').catch(() => null);
  const notes = [
    `hang handler ${hangStarted ? 'started (logged with its instance id)' : 'start not logged'}; daemon ${daemonRunning ? 'up' : 'EXITED'}; /health ${health ? health.status : 'unreachable'}`,
  ];
  return {
    situation: `${hangs + 1}× !hang (never resolves) next to ping on the same bot, ${count} !echo N`,
    counts,
    notes,
    hangStarted,
    daemonRunning,
    healthReachable: health !== null,
  };
}

export interface ThrowResult extends ScenarioResult {
  /** Which of the three failures were logged with the thrower's instance id. */
  logged: { sdkTimer: boolean; plainTimer: boolean; rejection: boolean };
  /** errors_last_hour of the thrower instance afterwards (null if the daemon is gone). */
  errorsCounted: number | null;
  daemonRunning: boolean;
  healthReachable: boolean;
  /** The daemon's last lines if it exited. */
  exitOutput: string | null;
}

/**
 * `!throw` makes the thrower fail in an SDK timer, a plain setTimeout and an
 * un-awaited promise; then `count` `!echo N` must all be answered by the
 * ping instance next to it, and the daemon must still be up.
 */
export async function throwingNeighbour(env: FaultEnv, room: NeighbourRoom, options: { count?: number; timeoutMs?: number } = {}): Promise<ThrowResult> {
  const count = options.count ?? 100;
  const { daemon, user } = env;
  const outputBefore = daemon.output.length;
  await user.sendText(room.roomId, '!throw');
  const logged = { sdkTimer: false, plainTimer: false, rejection: false };
  await poll(
    async () => {
      if (!daemon.running) return true;
      logged.sdkTimer ||= (await logRecords(daemon, room.thrower, THROWER.sdkTimerError)).length > 0;
      logged.plainTimer ||= (await logRecords(daemon, room.thrower, THROWER.plainTimerError)).length > 0;
      logged.rejection ||= (await logRecords(daemon, room.thrower, THROWER.rejectionError)).length > 0;
      return logged.sdkTimer && logged.plainTimer && logged.rejection;
    },
    30_000,
    300,
  );
  const daemonRunning = daemon.running;
  const exitOutput = daemonRunning ? null : daemon.output.slice(outputBefore).slice(-15).join('\n');
  const health = await api(daemon, 'GET', '/health').catch(() => null);
  const thrower = daemonRunning ? await api<ApiInstance>(daemon, 'GET', `/instance/${encodeURIComponent(room.thrower)}`).catch(() => null) : null;
  const errorsCounted = thrower?.status === 200 ? thrower.body.errors_last_hour : null;
  const run = new EchoRun(user, room.botId, room.roomId);
  env.log?.(`neighbours: ${count} !echo N after !throw …`);
  await run.send(count, { concurrency: 8 });
  // A dead daemon answers nothing: no point waiting for the stall.
  const counts = await run.waitForAnswers(count, daemonRunning ? (options.timeoutMs ?? 90_000) : 5_000, { log: env.log, stallMs: daemonRunning ? 20_000 : 5_000 });
  const notes = [
    `logged with the instance id: SDK timer ${logged.sdkTimer ? 'yes' : 'no'}, plain setTimeout ${logged.plainTimer ? 'yes' : 'no'}, un-awaited rejection ${logged.rejection ? 'yes' : 'no'}; errors counted: ${errorsCounted ?? 'n/a'}`,
    `daemon ${daemonRunning ? 'up' : 'EXITED'}; /health ${health ? health.status : 'unreachable'}`,
  ];
  return {
    situation: `!throw (SDK timer, plain setTimeout, un-awaited promise) next to ping, then ${count} !echo N`,
    counts,
    notes,
    logged,
    errorsCounted,
    daemonRunning: daemonRunning && daemon.running,
    healthReachable: health !== null,
    exitOutput,
  };
}
