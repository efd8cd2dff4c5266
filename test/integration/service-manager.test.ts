/**
 * Issue 15: the daemon under a notify-aware service manager. A local unix
 * datagram socket (a small Python receiver, as systemd reads NOTIFY_SOCKET)
 * gets READY=1 with the main PID and a STATUS line once the API listens,
 * STATUS updates, WATCHDOG=1 pings from the event loop — which stop while a
 * handler blocks the loop — and STOPPING=1 on SIGTERM. Also
 * `trellis start --check-config`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { uniqueLocalpart } from '../harness/matrix-user.ts';
import { freePort, TestDaemon, withSharedSecret } from '../harness/daemon.ts';

/** Receives notify datagrams; closes the fds of BARRIER=1 messages as systemd does, so systemd-notify returns. */
const RECEIVER = `
import array, json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"t": time.time() * 1000, "msg": msg.decode()}), flush=True)
`;

interface Notification {
  t: number;
  fields: Record<string, string>;
}

describe('systemd notify protocol and --check-config', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let receiver: ChildProcess;
  let dir: string;
  let publicUrl: string;
  const received: Notification[] = [];

  const waitFor = async <T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(received.map((n) => n.fields))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const pings = (from: number) => received.filter((n) => n.fields.WATCHDOG === '1' && n.t >= from);

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    dir = mkdtempSync(join(tmpdir(), 'trellis-notify-'));
    const socketPath = join(dir, 'notify.sock');
    receiver = spawn('python3', ['-u', '-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: receiver.stdout! });
    await new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        const parsed = JSON.parse(line) as { listening?: boolean; t: number; msg: string };
        if (parsed.listening) return resolve();
        const fields = Object.fromEntries(
          parsed.msg
            .split('\n')
            .filter(Boolean)
            .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
        );
        received.push({ t: parsed.t, fields });
      });
    });
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    daemon = await TestDaemon.create(
      hs,
      withSharedSecret(hs, { port }),
      // A 1 s watchdog: pings every 0.5 s.
      { env: { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '1000000' } },
    );
  });

  after(async () => {
    await daemon?.dispose();
    receiver?.kill();
    await hs?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('says READY=1 with its PID and a status once the API listens, then pings the watchdog', async () => {
    const ready = await waitFor('READY=1', () => received.find((n) => n.fields.READY === '1'));
    assert.equal(ready.fields.MAINPID, String(daemon.pid));
    assert.match(ready.fields.STATUS ?? '', /^\d+ bot accounts, \d+ of \d+ instances running/);
    const since = Date.now();
    await waitFor('three watchdog pings', () => (pings(since).length >= 3 ? true : undefined), 10_000);
  });

  it('updates the status when instances change, and stops pinging while the event loop is blocked', async () => {
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('notifybot'),
      password: `bot-${uniqueLocalpart('pw')}`,
      method: 'shared_secret',
      encryption: false,
    });
    assert.equal(res.status, 201, res.text);
    await daemon.uploadFixture('webby');
    await daemon.createInstance('webby-notify', { type: 'org.example.webby', primary_user: res.body.id, rooms: [] });
    await waitFor('a status with the running instance', () => received.find((n) => /1 of 1 instances running/.test(n.fields.STATUS ?? '')), 20_000);

    const blockStart = Date.now();
    const answer = await fetch(`${publicUrl}/_matrix/maubot/plugin/webby-notify/block?ms=3000`);
    assert.equal(await answer.text(), 'unblocked');
    const blockEnd = Date.now();
    await waitFor('pings again after the block', () => (pings(blockEnd).length >= 2 ? true : undefined), 10_000);
    // Nothing was sent while the loop was blocked (the margin covers systemd-notify started just before).
    const during = pings(blockStart + 700).filter((n) => n.t < blockEnd - 200);
    assert.deepEqual(during, [], 'no watchdog ping while the event loop was blocked');
  });

  it('says STOPPING=1 on SIGTERM', async () => {
    const stopped = await daemon.stop();
    assert.equal(stopped.code, 0);
    await waitFor('STOPPING=1', () => received.find((n) => n.fields.STOPPING === '1'), 10_000);
  });

  it('trellis start --check-config: exit 0 for a valid config, 1 with every problem for a broken one', async () => {
    const valid = await daemon.cliResult(['start', '--check-config', '--config', daemon.configPath]);
    assert.equal(valid.code, 0, valid.output);
    assert.match(valid.output, /the configuration is valid/);

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, ['server:', '  port: 99999', 'admin:', '  username: ""', '  password_hash: plain', 'homeservers: {}', 'sync:', '  catch_up:', '    max_events: many', ''].join('\n'));
    const invalid = await daemon.cliResult(['start', '--check-config', '--config', broken]);
    assert.equal(invalid.code, 1, invalid.output);
    for (const expected of ['server.port', 'admin.username', 'admin.password_hash', 'sync.catch_up.max_events']) assert.ok(invalid.output.includes(expected), `${expected} in:\n${invalid.output}`);
  });
});
