/**
 * Seed FR-014 through the real homeserver: ERROR records are posted to the
 * admin room by a bot (deduplicated), WARN records are visible in the API,
 * and log lines stream live over the authenticated websocket.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerUser, sharedOrOwnHomeserver, type HomeserverInfo, type RegisteredUser } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';

interface LogRecord {
  level: string;
  message: string;
  instance_id: string | null;
}

const PING_ERROR = 'ping failed on purpose';
const ECHO_ERROR = 'echo failed on purpose';

/** A websocket and every message it received, as text. */
function openLogSocket(port: number): { ws: WebSocket; messages: string[]; opened: Promise<void>; closed: Promise<{ code: number; reason: string }> } {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/_matrix/maubot/v1/logs`);
  const messages: string[] = [];
  ws.addEventListener('message', (ev) => messages.push(String(ev.data)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('the log websocket did not open')), { once: true });
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener('close', (ev) => resolve({ code: ev.code, reason: ev.reason }), { once: true }));
  return { ws, messages, opened, closed };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('admin notifications and live logs', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;
  let bot: RegisteredUser;
  let adminRoom: string;
  let pingRoom: string;
  let secretsDir: string;
  let closedRoom: string;

  const notices = async (needle: string) => (await user.messages(adminRoom, 200)).filter((e) => e.sender === bot.userId && e.content.msgtype === 'm.notice' && String(e.content.body).includes(needle));

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    user = await TestUser.create(hs, 'admin-human');
    const localpart = uniqueLocalpart('notifybot');
    bot = await registerUser(hs, localpart, `password-${localpart}`);
    adminRoom = await user.createRoom({ name: 'trellis admin', invite: [bot.userId] });
    pingRoom = await user.createRoom({ name: 'failing ping', invite: [bot.userId] });
    secretsDir = mkdtempSync(join(tmpdir(), 'trellis-notify-secrets-'));
    const tokenFile = join(secretsDir, 'notifybot-access-token');
    writeFileSync(tokenFile, bot.accessToken, { mode: 0o600 });
    daemon = await TestDaemon.create(hs, (config) => {
      config.clients = { [bot.userId]: { homeserver: 'main', access_token_file: tokenFile } };
      config.notifications = { admin_room: adminRoom, client: bot.userId, min_level: 'error', dedupe_seconds: 600, max_per_minute: 5 };
    });
    await user.waitForMembership(adminRoom, bot.userId, 'join', 20_000);
    await user.waitForMembership(pingRoom, bot.userId, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
    await hs?.release();
  });

  it('lists WARN records in the notifications API without posting them', async () => {
    // A room the bot was never invited to: joining it fails with a warning.
    closedRoom = await user.createRoom({ name: 'no bots here' });
    const put = await daemon.api('PUT', '/instance/warn-ping', { type: 'org.trellis.ping', primary_user: bot.userId, rooms: [closedRoom] });
    assert.equal(put.status, 201, put.text);
    const warning = await daemon.waitFor('the join warning in /notifications', async () => {
      const res = await daemon.api<{ records: LogRecord[] }>('GET', '/notifications');
      return res.body.records.find((r) => r.level === 'warn' && r.message.includes(closedRoom));
    });
    assert.match(warning.message, /could not join configured room/);
    const res = await daemon.api<{ records: LogRecord[] }>('GET', '/notifications');
    assert.ok(
      res.body.records.every((r) => ['warn', 'error', 'critical'].includes(r.level)),
      'only WARN and above',
    );
  });

  it('posts a failing handler to the admin room once, however often it fails', async () => {
    await daemon.uploadFixture('faulty');
    const put = await daemon.api('PUT', '/instance/fail-ping', { type: 'org.example.faulty', primary_user: bot.userId, rooms: [pingRoom], config: { fail_on: 'ping' } });
    assert.equal(put.status, 201, put.text);
    await daemon.waitFor('fail-ping running', async () => (await daemon.api<{ state: string }>('GET', '/instance/fail-ping')).body.state === 'running');

    for (let i = 0; i < 3; i++) await user.sendText(pingRoom, '!ping');
    await daemon.waitFor(
      'three handler errors in the log',
      async () => daemon.output.filter((l) => l.includes(PING_ERROR) && l.includes('"level":"error"') && l.includes('"instance":"fail-ping"')).length >= 3,
    );

    const first = await user.waitForEvent(adminRoom, (e) => e.sender === bot.userId && String(e.content.body).includes(PING_ERROR), 20_000, 'the admin notice');
    assert.equal(first.content.msgtype, 'm.notice');
    assert.match(String(first.content.body), /^\[ERROR\] instance fail-ping: .*ping failed on purpose/);

    // A different error afterwards is a marker: once its notice is in the room, any duplicate of the first would be too.
    const update = await daemon.api('PUT', '/instance/fail-ping', { config: { fail_on: 'echo' } });
    assert.equal(update.status, 200, update.text);
    await user.sendText(pingRoom, '!echo marker');
    await user.waitForEvent(adminRoom, (e) => e.sender === bot.userId && String(e.content.body).includes(ECHO_ERROR), 20_000, 'the marker notice');
    assert.equal((await notices(PING_ERROR)).length, 1, 'three identical errors give exactly one notice');
    // min_level is error: the earlier warning (logged before the marker) stays out of the admin room.
    assert.equal((await notices(closedRoom)).length, 0, 'a WARN is not posted when min_level is error');
    const errors = await daemon.api<{ records: LogRecord[] }>('GET', '/notifications');
    assert.ok(errors.body.records.some((r) => r.level === 'error' && r.instance_id === 'fail-ping' && r.message.includes(PING_ERROR)));
  });

  it("streams log lines live over the websocket in maubot's protocol after token authentication", async () => {
    const token = await daemon.login();
    const socket = openLogSocket(daemon.port);
    try {
      await socket.opened;
      // A wrong token is answered and the socket waits for another one (as maubot).
      socket.ws.send('not-a-valid-token');
      await until('the refusal', () => (socket.messages.length ? socket.messages[0] : undefined));
      assert.deepEqual(JSON.parse(socket.messages[0]!), { auth_success: false });
      socket.ws.send(token);
      await until('the authentication reply and the history', () => (socket.messages.length >= 3 ? true : undefined));
      assert.deepEqual(JSON.parse(socket.messages[1]!), { auth_success: true });
      const { history } = JSON.parse(socket.messages[2]!) as { history: Array<{ name: string; levelname: string; time: string; id: string; msg: string }> };
      assert.ok(history.length > 0, 'recent records come first');
      const failed = history.find((r) => r.msg.includes(PING_ERROR));
      assert.ok(failed, 'the history holds the earlier error');
      assert.equal(failed.name, 'maubot.instance.fail-ping');
      assert.equal(failed.levelname, 'ERROR');
      assert.match(failed.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
      assert.ok(
        history.every((r, i) => i === 0 || r.time >= history[i - 1]!.time),
        'oldest first',
      );

      const put = await daemon.api('PUT', '/instance/ws-ping', { type: 'org.trellis.ping', primary_user: bot.userId, rooms: [pingRoom], enabled: false });
      assert.equal(put.status, 201, put.text);
      const line = await until('the log line on the socket', () => socket.messages.slice(3).find((m) => m.includes('instance ws-ping created')));
      const entry = JSON.parse(line) as { level: string; levelname: string; levelno: number; name: string; msg: string; message: string; instance_id: string; id: string; exc_info: unknown };
      assert.equal(entry.levelname, 'INFO');
      assert.equal(entry.levelno, 20);
      assert.equal(entry.name, 'maubot.instance.ws-ping');
      assert.equal(entry.msg, entry.message);
      assert.equal(typeof entry.id, 'string');
      assert.equal(entry.exc_info, null);
      assert.equal(entry.level, 'info');
      assert.equal(entry.instance_id, 'ws-ping');
      assert.ok(!line.includes(bot.accessToken));
    } finally {
      socket.ws.close();
      await socket.closed;
    }
  });

  it('answers a wrong token with auth_success false and closes with 4000 when no valid one comes within 5 s', async () => {
    const socket = openLogSocket(daemon.port);
    await socket.opened;
    socket.ws.send('not-a-valid-token');
    const closed = await socket.closed;
    assert.equal(closed.code, 4000);
    assert.deepEqual(
      socket.messages.map((m) => JSON.parse(m) as unknown),
      [{ auth_success: false }],
      'nothing was streamed',
    );
  });

  it('kept the access token out of the output and the admin room', async () => {
    assert.ok(!daemon.output.join('\n').includes(bot.accessToken));
    const room = await user.messages(adminRoom, 200);
    assert.ok(!JSON.stringify(room).includes(bot.accessToken));
  });
});
