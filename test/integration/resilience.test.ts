/**
 * Resilience through a real homeserver of its own (this file stops and
 * restarts it, so it cannot share the suite's): the bot answers again within
 * seconds of a homeserver restart, unreachable homeservers get actionable
 * errors, and one instance that cannot start never affects another.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlugin } from '../../src/plugin-package/build.ts';
import { startSynapse, type Homeserver } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon, freePort, type ApiResponse } from '../harness/daemon.ts';
import { EchoRun, describeCounts } from '../harness/echo-count.ts';

interface ApiClient {
  id: string;
  sync_state: string;
  last_error: string | null;
}
interface ApiInstance {
  id: string;
  state: string;
  last_error: string | null;
  managed_by: string;
}
interface Health {
  status: string;
  uptime_seconds: number;
  instances: { enabled: number; running: number; not_running: Array<{ id: string; state: string; last_error: string | null }> };
  clients: Array<{ id: string; state: string; last_error: string | null }>;
}

const HELLO_FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/plugins/hello');

const isReplyTo = (eventId: string) => (ev: TestMatrixEvent) =>
  ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Our own Synapse child: the process this test started whose command line names its config. */
function homeserverPid(hs: Homeserver): number {
  const config = join(hs.dataDir, 'homeserver.yaml');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (ppid === process.pid && cmdline.includes(config)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  throw new Error(`no Synapse child process with config ${config} found`);
}

/** Stops Synapse without the harness's stop(), which would also delete its data. */
async function killHomeserver(hs: Homeserver): Promise<void> {
  const pid = homeserverPid(hs);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  throw new Error(`Synapse (pid ${pid}) did not exit within 15 s of SIGTERM`);
}

describe('resilience', () => {
  let hs: Homeserver;
  let daemon: TestDaemon;
  let user: TestUser;
  let bot: ApiClient;
  let room: string;

  before(async () => {
    hs = await startSynapse();
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    user = await TestUser.create(hs, 'human');
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('resbot'),
      password: 'bot-password-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    room = await user.createRoom({ name: 'resilience', invite: [bot.id] });
    const put = await daemon.api('PUT', '/instance/res-ping', { type: 'org.trellis.ping', primary_user: bot.id, rooms: [room], config: { pong_text: 'Still here!' } });
    assert.equal(put.status, 201, put.text);
    await user.waitForMembership(room, bot.id, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await hs?.stop();
  });

  it('answers !ping', async () => {
    const ping = await user.sendText(room, '!ping');
    const answer = await user.waitForEvent(room, isReplyTo(ping), 20_000, 'the answer to !ping');
    assert.match(String(answer.content.body), /^Still here! \d+ ms$/);
  });

  it('shows a homeserver outage and answers again within seconds of the restart', async (t) => {
    const healthy = await daemon.api<Health>('GET', '/health');
    assert.equal(healthy.status, 200, healthy.text);
    assert.equal(healthy.body.status, 'ok');

    await killHomeserver(hs);
    const downSince = Date.now();
    // The long poll in flight breaks at once; the client must report it while the server is down.
    let outage: ApiClient | undefined;
    let healthDuringOutage: ApiResponse<Health> | undefined;
    while (Date.now() - downSince < 3_000) {
      const client = (await daemon.api<ApiClient>('GET', `/client/${encodeURIComponent(bot.id)}`)).body;
      if (!outage && client.sync_state === 'backoff' && client.last_error) {
        outage = client;
        healthDuringOutage = await daemon.api<Health>('GET', '/health');
      }
      await sleep(200);
    }
    assert.ok(outage, 'GET /client/{id} showed sync_state "backoff" with last_error while the homeserver was down');
    assert.match(outage.last_error!, /127\.0\.0\.1|refused|closed|unreachable/i);
    // A short outage is visible per client; /health turns 503 only after 60 s without a good sync.
    const hsClient = healthDuringOutage!.body.clients.find((c) => c.id === bot.id);
    assert.equal(hsClient?.state, 'backoff', healthDuringOutage!.text);
    assert.ok(hsClient?.last_error, 'the health report carries the sync error');

    await hs.restart();
    const upAt = Date.now();
    const ping = await user.sendText(room, '!ping');
    const answer = await user.waitForEvent(room, isReplyTo(ping), 20_000, 'the answer to !ping sent right after the homeserver restart');
    const recoveryMs = Date.now() - upAt;
    assert.match(String(answer.content.body), /^Still here! \d+ ms$/);
    t.diagnostic(
      `homeserver down ${upAt - downSince} ms (incl. Synapse startup); !ping sent right after the restart answered in ${recoveryMs} ms (bot-measured latency: ${String(answer.content.body).replace('Still here! ', '')})`,
    );
    assert.ok(recoveryMs < 20_000, `recovery took ${recoveryMs} ms`);

    const recovered = await daemon.waitFor('health ok again', async () => {
      const h = await daemon.api<Health>('GET', '/health');
      const c = h.body.clients.find((x) => x.id === bot.id);
      return h.status === 200 && c?.state === 'syncing' && c.last_error === null ? h : undefined;
    });
    assert.equal(recovered.body.status, 'ok');
    assert.ok(
      daemon.output.some((l) => l.includes('sync resumed')),
      'the log records that sync resumed',
    );
  });

  it('a homeserver restart in the middle of a burst: every !echo N answered exactly once', async (t) => {
    const run = new EchoRun(user, bot.id, room);
    const sending = run.send(80, { ratePerSecond: 20, concurrency: 4 });
    sending.catch(() => undefined); // awaited below; the homeserver goes away meanwhile
    await daemon.waitFor('40 of the 80 sent', async () => run.sentCount >= 40);
    await killHomeserver(hs);
    await hs.restart();
    await sending;
    const result = await run.waitForAnswers(80, 120_000);
    t.diagnostic(describeCounts(result));
    assert.equal(result.sent, 80);
    assert.equal(result.lost, 0, describeCounts(result));
    assert.equal(result.answeredTwice, 0, describeCounts(result));
    assert.ok(result.inOrder, describeCounts(result));
  });

  it('suggests 127.0.0.1 when localhost refuses the connection', async () => {
    const port = await freePort();
    const res = await daemon.api<{ error: string; errcode: string }>('POST', '/client/new', { homeserver: `http://localhost:${port}`, access_token: 'syt_not_a_real_token_abcdef' });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.errcode, 'bad_client_connection_details', "maubot's errcode");
    assert.match(res.body.error, new RegExp(`try http://127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(res.text, /syt_not_a_real_token/);
  });

  it('shows an instance whose plugin is missing as failed, retries it, and keeps the others working', async () => {
    await daemon.stop();
    await daemon.editConfig((config) => {
      config.instances = { ghost: { plugin: 'org.example.missing', client: bot.id, rooms: [room], config: {} } };
    });
    await daemon.start();

    const ghost = await daemon.waitFor('the ghost instance to fail', async () => {
      const res = await daemon.api<ApiInstance>('GET', '/instance/ghost');
      return res.status === 200 && res.body.state === 'failed' ? res.body : undefined;
    });
    assert.equal(ghost.managed_by, 'config');
    assert.match(ghost.last_error ?? '', /org\.example\.missing/);
    // Two attempts logged = the daemon retried after the first failure.
    await daemon.waitFor('a retry of the ghost instance', async () => daemon.output.filter((l) => l.includes('"instance":"ghost"') && l.includes('retrying in')).length >= 2);

    const healthRes = await daemon.api<Health>('GET', '/health');
    assert.equal(healthRes.status, 503, 'a failed enabled instance makes the daemon degraded');
    assert.equal(healthRes.body.status, 'degraded');
    assert.deepEqual(
      healthRes.body.instances.not_running.map((i) => i.id),
      ['ghost'],
    );

    assert.equal((await daemon.api<ApiInstance>('GET', '/instance/res-ping')).body.state, 'running');
    const ping = await user.sendText(room, '!ping');
    const answer = await user.waitForEvent(room, isReplyTo(ping), 20_000, 'the healthy instance answering next to the failed one');
    assert.match(String(answer.content.body), /^Still here! \d+ ms$/);
  });

  it('starts the waiting instance as soon as its plugin is uploaded', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'trellis-missing-plugin-'));
    try {
      const source = join(workDir, 'src');
      cpSync(HELLO_FIXTURE, source, { recursive: true });
      writeFileSync(join(source, 'plugin.yaml'), readFileSync(join(source, 'plugin.yaml'), 'utf8').replace(/^id: .*$/m, 'id: org.example.missing'));
      const built = await buildPlugin(source, { outFile: join(workDir, 'missing.zip') });
      const res = await daemon.api('POST', '/plugins/upload', undefined, { raw: readFileSync(built.file) });
      assert.equal(res.status, 201, res.text);
      // Started by the upload itself, not by its next backoff retry (minutes away after a few failures).
      const ghost = (await daemon.api<ApiInstance>('GET', '/instance/ghost')).body;
      assert.equal(ghost.state, 'running', `right after the upload: ${JSON.stringify(ghost)}`);
      assert.equal(ghost.last_error, null);
      const hello = await user.sendText(room, '!hello ghost');
      const answer = await user.waitForEvent(room, isReplyTo(hello), 20_000, 'the answer from the formerly missing plugin');
      assert.equal(answer.content.body, 'hi, ghost!');
      const health = await daemon.api<Health>('GET', '/health');
      assert.equal(health.status, 200, health.text);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
