/**
 * Fault benchmark (issue 10): the "count every message" scenarios of
 * test/integration/faults.test.ts, run against a private Synapse and a real
 * daemon, printed as one table: situation | sent | answered once | lost |
 * answered twice. Every `!echo <run>-<N>` carries a unique N; answers are
 * counted from the room's whole history (test/harness/echo-count.ts).
 *
 *   npm run bench:faults
 *   npm run bench:faults -- --only offline,burst     (offline, burst, kill, sigterm, storage, hang, throw)
 *   npm run bench:faults -- --offline 1500 --burst 2000 --restart-burst 500 --restarts 5
 */
import { describeCounts } from '../test/harness/echo-count.ts';
import {
  hungNeighbour,
  liveBurst,
  offlineBacklog,
  prepareNeighbours,
  restartsDuringBurst,
  storageLockedMidTraffic,
  throwingNeighbour,
  type FaultEnv,
  type NeighbourRoom,
  type ScenarioResult,
} from '../test/harness/fault-scenarios.ts';
import { intOption, log, runMain, withBenchEnv } from './lib.ts';

const SCENARIOS = ['offline', 'burst', 'kill', 'sigterm', 'storage', 'hang', 'throw'] as const;
type Scenario = (typeof SCENARIOS)[number];

function selected(): Set<Scenario> {
  const args = process.argv.slice(2);
  let raw: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--only') raw = args[i + 1];
    else if (args[i]!.startsWith('--only=')) raw = args[i]!.slice('--only='.length);
  }
  raw ??= process.env.BENCH_ONLY;
  if (!raw) return new Set(SCENARIOS);
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`--only: unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
  return new Set(names as Scenario[]);
}

interface Row {
  situation: string;
  sent: number | string;
  once: number | string;
  lost: number | string;
  twice: string;
  notes: string;
}

function rowOf(result: ScenarioResult, extra: string[] = []): Row {
  const c = result.counts;
  const notes = [c.inOrder ? '' : 'order broken', c.outcome === 'all answered' ? '' : `${c.outcome} after ${Math.round(c.waitedMs / 1000)} s`, ...extra].filter(Boolean);
  return {
    situation: result.situation,
    sent: c.sent,
    once: c.answeredOnce,
    lost: c.lost,
    twice: c.answeredTwice === 0 ? '0' : `${c.answeredTwice} (${c.extraAnswers} extra answers)`,
    notes: notes.join('; '),
  };
}

function table(rows: Row[]): string {
  const header = ['situation', 'sent', 'answered once', 'lost', 'answered twice', 'notes'];
  const lines = [`| ${header.join(' | ')} |`, '|---|---:|---:|---:|---:|---|'];
  for (const r of rows) lines.push(`| ${r.situation} | ${r.sent} | ${r.once} | ${r.lost} | ${r.twice} | ${r.notes} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const only = selected();
  const offlineCount = intOption('offline', 'BENCH_OFFLINE', 1500);
  const burstCount = intOption('burst', 'BENCH_BURST', 2000);
  const restartBurst = intOption('restart-burst', 'BENCH_RESTART_BURST', 500);
  const restarts = intOption('restarts', 'BENCH_RESTARTS', 5);
  const rows: Row[] = [];
  const started = Date.now();
  await withBenchEnv(async ({ daemon, user }) => {
    const env: FaultEnv = { daemon, user, log };
    const run = async (name: Scenario, body: () => Promise<Row>): Promise<void> => {
      if (!only.has(name)) return;
      log(`— ${name} —`);
      const t0 = Date.now();
      try {
        const row = await body();
        rows.push(row);
        log(`${name}: ${row.once}/${row.sent} answered once, ${row.lost} lost, ${row.twice} twice (${Math.round((Date.now() - t0) / 1000)} s)`);
      } catch (err) {
        // One broken scenario must not hide the others' figures.
        log(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        rows.push({ situation: name, sent: '—', once: '—', lost: '—', twice: '—', notes: `scenario failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
      }
    };
    const logResult = <R extends ScenarioResult>(result: R): R => {
      log(describeCounts(result.counts));
      for (const note of result.notes) log(note);
      return result;
    };

    await run('offline', async () => rowOf(logResult(await offlineBacklog(env, { count: offlineCount, timeoutMs: 300_000 }))));
    await run('burst', async () => rowOf(logResult(await liveBurst(env, { count: burstCount, inFlight: 8, timeoutMs: 300_000 }))));
    await run('kill', async () => rowOf(logResult(await restartsDuringBurst(env, { how: 'kill9', count: restartBurst, restarts, timeoutMs: 180_000 }))));
    await run('sigterm', async () => {
      const result = logResult(await restartsDuringBurst(env, { how: 'sigterm', count: restartBurst, restarts, timeoutMs: 180_000 }));
      return rowOf(result, [`exit codes ${result.exitCodes.join(',')}`]);
    });
    await run('storage', async () => {
      const result = logResult(await storageLockedMidTraffic(env, { count: 300, rate: 15, holdMs: 15_000, lockAfter: 60, timeoutMs: 180_000 }));
      return rowOf(result, [`/health ${result.healthSequence || 'no answer'}${result.storage503 ? ' (503 names storage)' : ' (no 503 naming storage)'}`]);
    });
    let neighbours: NeighbourRoom | undefined;
    const neighbourRoom = async (): Promise<NeighbourRoom> => (neighbours ??= await prepareNeighbours(env));
    await run('hang', async () => {
      const result = logResult(await hungNeighbour(env, await neighbourRoom(), { count: 200, hangs: 12, timeoutMs: 120_000 }));
      return rowOf(result, [result.daemonRunning ? 'daemon up' : 'daemon EXITED']);
    });
    await run('throw', async () => {
      const result = logResult(await throwingNeighbour(env, await neighbourRoom(), { count: 100, timeoutMs: 120_000 }));
      const l = result.logged;
      const logged = [l.sdkTimer && 'SDK timer', l.plainTimer && 'plain setTimeout', l.rejection && 'rejection'].filter(Boolean).join(', ') || 'none';
      return rowOf(result, [result.daemonRunning ? 'daemon up' : 'daemon EXITED', `logged with instance id: ${logged}`]);
    });
  });
  console.log(`\nFaults: every !echo <run>-<N> unique, answers counted from the room history (${new Date().toISOString()}, ${Math.round((Date.now() - started) / 1000)} s)\n`);
  console.log(table(rows));
}

runMain(main);
