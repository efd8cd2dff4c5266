/**
 * Issue 10's acceptance, "count every message": a person sends uniquely
 * numbered `!echo <run>-<N>` through a real Synapse while the real daemon is
 * stopped, flooded, killed with -9, stopped with SIGTERM, denied its
 * database, or sharing its bot with a hung and a throwing plugin. The answers
 * are counted from the room's whole history (test/harness/echo-count.ts):
 * every N must be answered exactly once. The scenarios themselves live in
 * test/harness/fault-scenarios.ts, shared with `npm run bench:faults`.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser } from '../harness/matrix-user.ts';
import { TestDaemon, withSharedSecret } from '../harness/daemon.ts';
import { describeCounts, type WaitResult } from '../harness/echo-count.ts';
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
} from '../harness/fault-scenarios.ts';

/** Every N answered exactly once (and, where asked, in the order of the triggers). */
function assertExactlyOnce(result: ScenarioResult | WaitResult, options: { ordered?: boolean } = {}): void {
  const counts = 'counts' in result ? result.counts : result;
  const summary = describeCounts(counts);
  const notes = 'notes' in result && result.notes.length ? `\n${result.notes.join('\n')}` : '';
  assert.ok(counts.sent > 0, `nothing was sent: ${summary}`);
  assert.equal(counts.lost, 0, `every N answered: ${summary}${notes}`);
  assert.equal(counts.answeredTwice, 0, `no N answered twice: ${summary}${notes}`);
  assert.equal(counts.unexpected, 0, `no answers to numbers never sent: ${summary}`);
  assert.equal(counts.answeredOnce, counts.sent, summary);
  if (options.ordered) assert.ok(counts.inOrder, `answers in the order of the triggers: ${summary}`);
}

function report(t: TestContext, result: ScenarioResult): void {
  t.diagnostic(`${result.situation}: ${describeCounts(result.counts)}`);
  for (const note of result.notes) t.diagnostic(note);
}

describe('count every message: nothing lost, nothing twice', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;
  let env: FaultEnv;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs, withSharedSecret(hs));
    user = await TestUser.create(hs, 'counter');
    env = { daemon, user };
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('daemon stopped, 1 500 !echo N sent, daemon started: all answered exactly once, in order', { timeout: 300_000 }, async (t) => {
    const result = await offlineBacklog({ ...env, log: (l) => t.diagnostic(l) }, { count: 1500, timeoutMs: 180_000 });
    report(t, result);
    assertExactlyOnce(result, { ordered: true });
  });

  it('2 000 !echo N at full speed with 8 in flight: all answered exactly once', { timeout: 300_000 }, async (t) => {
    const result = await liveBurst({ ...env, log: (l) => t.diagnostic(l) }, { count: 2000, inFlight: 8, timeoutMs: 180_000 });
    report(t, result);
    assertExactlyOnce(result);
  });

  it('kill -9 five times during a burst: no N lost, none answered twice', { timeout: 240_000 }, async (t) => {
    const result = await restartsDuringBurst({ ...env, log: (l) => t.diagnostic(l) }, { how: 'kill9', count: 300, rate: 20, restarts: 5 });
    report(t, result);
    assertExactlyOnce(result);
  });

  it('SIGTERM five times during a burst: no N lost, none answered twice, clean exits', { timeout: 240_000 }, async (t) => {
    const result = await restartsDuringBurst({ ...env, log: (l) => t.diagnostic(l) }, { how: 'sigterm', count: 300, rate: 20, restarts: 5 });
    report(t, result);
    assertExactlyOnce(result);
    assert.deepEqual(result.exitCodes, [0, 0, 0, 0, 0], 'every SIGTERM stop exits 0 (not the 9 s hard limit)');
  });

  it('storage write-locked mid-traffic, then free: every N answered exactly once; /health 503 naming storage meanwhile, 200 after', { timeout: 240_000 }, async (t) => {
    const result = await storageLockedMidTraffic({ ...env, log: (l) => t.diagnostic(l) }, { count: 300, rate: 15, holdMs: 15_000, lockAfter: 60 });
    report(t, result);
    assert.ok(result.healthyBefore, '/health answered 200 before the lock');
    assertExactlyOnce(result);
    assert.ok(result.storage503, `/health answered 503 with a reason naming storage while writes failed; seen: ${result.healthSequence}; ${result.notes.join('; ')}`);
    assert.ok(result.healthyAfter, `/health answered 200 again once writes worked; seen: ${result.healthSequence}`);
  });
});

describe('one plugin cannot hurt another on the same bot', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;
  let env: FaultEnv;
  let room: NeighbourRoom;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs, withSharedSecret(hs));
    user = await TestUser.create(hs, 'neighbour');
    env = { daemon, user };
    room = await prepareNeighbours(env);
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.release();
  });

  it('a handler that never resolves: the ping instance next to it answers every !echo N exactly once', { timeout: 180_000 }, async (t) => {
    const result = await hungNeighbour({ ...env, log: (l) => t.diagnostic(l) }, room, { count: 200, hangs: 12, timeoutMs: 60_000 });
    report(t, result);
    assert.ok(result.hangStarted, 'the hanger logged that its handler started (it was stuck while the echoes flowed)');
    assertExactlyOnce(result);
    assert.ok(result.daemonRunning, 'the daemon is still running');
    assert.ok(result.healthReachable, '/health answers');
  });

  it('throws in an SDK timer, a plain setTimeout and an un-awaited promise: logged with the instance id, the daemon stays up, ping keeps answering', { timeout: 180_000 }, async (t) => {
    const result = await throwingNeighbour({ ...env, log: (l) => t.diagnostic(l) }, room, { count: 50, timeoutMs: 60_000 });
    report(t, result);
    assert.ok(result.daemonRunning, `the daemon is still running after the plugin's throws; its last output:\n${result.exitOutput ?? ''}`);
    assert.ok(result.healthReachable, '/health answers');
    assert.deepEqual(result.logged, { sdkTimer: true, plainTimer: true, rejection: true }, 'each failure is logged with the thrower instance id (GET /logs?instance=&q=)');
    assert.ok((result.errorsCounted ?? 0) >= 3, `the three failures are counted against the thrower (errors_last_hour: ${result.errorsCounted})`);
    assertExactlyOnce(result);
  });
});
