/**
 * The Matrix layer against a real Synapse (its own instance: the restart test
 * would disturb a shared one).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createRegistrationToken, registerUser, startSynapse } from '../harness/synapse.ts';
import type { Homeserver } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart } from '../harness/matrix-user.ts';
import {
  checkHomeserver,
  HomeserverUnreachableError,
  loginWithPassword,
  loginWithToken,
  MatrixAuthError,
  MatrixClient,
  registerWithSharedSecret,
  registerWithToken,
  SyncLoop,
} from '../../src/matrix/index.ts';
import type { Credentials, MatrixEvent, SyncResponse, SyncStatus } from '../../src/matrix/index.ts';

let hs: Homeserver;

before(async () => {
  hs = await startSynapse();
});

after(async () => {
  await hs?.stop();
});

async function newBot(prefix = 'bot'): Promise<Credentials> {
  const localpart = uniqueLocalpart(prefix);
  const user = await registerUser(hs, localpart, `pw-${localpart}`);
  return { homeserverUrl: hs.url, ...user };
}

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function timelineEvents(resp: SyncResponse, roomId: string): MatrixEvent[] {
  return resp.rooms?.join?.[roomId]?.timeline?.events ?? [];
}

function bodyOf(ev: MatrixEvent): string | undefined {
  return typeof ev.content.body === 'string' ? ev.content.body : undefined;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('checkHomeserver', () => {
  test('accepts the real homeserver and normalises its URL', async () => {
    const info = await checkHomeserver(`${hs.url}/`);
    assert.equal(info.url, hs.url);
    assert.ok(info.versions.includes('v1.1'), `versions: ${info.versions.join(', ')}`);
  });

  test('a closed port on localhost suggests 127.0.0.1', async () => {
    const port = await closedPort();
    await assert.rejects(checkHomeserver(`http://localhost:${port}`), (err: unknown) => {
      assert.ok(err instanceof HomeserverUnreachableError, String(err));
      assert.equal(err.reason, 'refused');
      assert.match(err.message, new RegExp(`try http://127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /::1/);
      return true;
    });
  });

  test('a closed port on 127.0.0.1 asks whether the server runs on that port', async () => {
    const port = await closedPort();
    await assert.rejects(checkHomeserver(`http://127.0.0.1:${port}`), /refused the connection.*is the homeserver running.*port/);
  });

  test('a web server that is not Matrix is named as such', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html>Not Found</html>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      await assert.rejects(checkHomeserver(`http://127.0.0.1:${port}`), (err: unknown) => {
        assert.ok(err instanceof HomeserverUnreachableError);
        assert.equal(err.reason, 'not-matrix');
        assert.match(err.message, /HTTP 404/);
        assert.match(err.message, /is this the homeserver's client API URL\?/);
        return true;
      });
    } finally {
      server.close();
    }
  });
});

describe('adding accounts', () => {
  test('registerWithToken registers with a valid token', async () => {
    const token = await createRegistrationToken(hs);
    const localpart = uniqueLocalpart('reg');
    const creds = await registerWithToken(hs.url, localpart, 'a-long-password-1', token, 'trellis test');
    assert.equal(creds.userId, `@${localpart}:${hs.serverName}`);
    assert.ok(creds.deviceId);
    const who = await new MatrixClient(creds).whoami();
    assert.equal(who.user_id, creds.userId);
    assert.equal(who.device_id, creds.deviceId);
  });

  test('registerWithToken with a bad token says the token was rejected', async () => {
    const bad = 'not-a-real-token-0123';
    await assert.rejects(registerWithToken(hs.url, uniqueLocalpart('reg'), 'pw-123456789', bad), (err: unknown) => {
      assert.ok(err instanceof MatrixAuthError, String(err));
      assert.match(err.message, /registration token was rejected/);
      assert.ok(!err.message.includes(bad), 'the token itself must not be echoed');
      return true;
    });
  });

  test('registerWithToken maps a taken or invalid username to advice', async () => {
    const taken = await newBot('taken');
    const localpart = taken.userId.slice(1).split(':')[0] ?? '';
    const token = await createRegistrationToken(hs);
    await assert.rejects(registerWithToken(hs.url, localpart, 'pw-123456789', token), /username ".*" is already taken/);
    await assert.rejects(registerWithToken(hs.url, 'Not Valid!', 'pw-123456789', token), /not a valid Matrix username/);
  });

  test('registerWithSharedSecret registers, and a wrong secret is named without echoing it', async () => {
    const localpart = uniqueLocalpart('ss');
    const creds = await registerWithSharedSecret(hs.url, hs.sharedSecret, localpart, 'pw-123456789');
    assert.equal(creds.userId, `@${localpart}:${hs.serverName}`);
    assert.equal((await new MatrixClient(creds).whoami()).user_id, creds.userId);

    const wrong = 'definitely-wrong-secret';
    await assert.rejects(registerWithSharedSecret(hs.url, wrong, uniqueLocalpart('ss'), 'pw-123456789'), (err: unknown) => {
      assert.ok(err instanceof MatrixAuthError, String(err));
      assert.match(err.message, /rejected the shared secret/);
      assert.ok(!err.message.includes(wrong));
      return true;
    });
  });

  test('loginWithPassword logs in, and a wrong password is reported without echoing it', async () => {
    const localpart = uniqueLocalpart('pwlogin');
    await registerUser(hs, localpart, 'right-password-1');
    const creds = await loginWithPassword(hs.url, localpart, 'right-password-1', 'trellis test');
    assert.equal(creds.userId, `@${localpart}:${hs.serverName}`);
    assert.ok(creds.accessToken && creds.deviceId);

    await assert.rejects(loginWithPassword(hs.url, localpart, 'wrong-password-1'), (err: unknown) => {
      assert.ok(err instanceof MatrixAuthError, String(err));
      assert.match(err.message, /wrong username or password/);
      assert.ok(!err.message.includes('wrong-password-1'));
      return true;
    });
  });

  test('loginWithToken adopts a token and rejects a bad one', async () => {
    const bot = await newBot();
    const creds = await loginWithToken(`${hs.url}/`, bot.accessToken);
    assert.deepEqual(creds, bot);
    await assert.rejects(loginWithToken(hs.url, 'syt_bogus_token'), (err: unknown) => {
      assert.ok(err instanceof MatrixAuthError, String(err));
      assert.match(err.message, /access token was rejected.*M_UNKNOWN_TOKEN/);
      assert.ok(!err.message.includes('syt_bogus_token'));
      return true;
    });
  });
});

describe('MatrixClient', () => {
  test('sendEvent with the same txn id twice yields one event', async () => {
    const creds = await newBot();
    const bot = new MatrixClient(creds);
    const roomId = await bot.createRoom({ preset: 'private_chat' });
    const first = await bot.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'once' }, 'txn-fixed-1');
    const second = await bot.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'once' }, 'txn-fixed-1');
    assert.equal(second, first);
    const viewer = new TestUser(hs.url, { userId: creds.userId, accessToken: creds.accessToken });
    const onceMessages = (await viewer.messages(roomId)).filter((e) => e.content.body === 'once');
    assert.equal(onceMessages.length, 1);
  });

  test('media upload and download round-trip; media config is readable', async () => {
    const bot = new MatrixClient(await newBot());
    const data = new Uint8Array(4096).map((_, i) => (i * 7) % 256);
    const mxc = await bot.uploadMedia(data, { contentType: 'application/octet-stream', filename: 'blob.bin' });
    assert.match(mxc, /^mxc:\/\/localhost\//);
    const downloaded = await bot.downloadMedia(mxc);
    assert.deepEqual(downloaded.data, data);
    assert.equal(downloaded.contentType, 'application/octet-stream');
    const config = await bot.getMediaConfig();
    assert.equal(config['m.upload.size'], 50 * 1024 * 1024);
  });

  test('rooms, state, members, profile and redaction', async () => {
    const botCreds = await newBot();
    const bot = new MatrixClient(botCreds);
    const other = await TestUser.create(hs, 'human');
    const roomId = await other.createRoom({ invite: [bot.userId] });
    assert.equal(await bot.joinRoom(roomId), roomId);
    assert.ok((await bot.joinedRooms()).includes(roomId));
    assert.deepEqual(Object.keys(await bot.joinedMembers(roomId)).sort(), [bot.userId, other.userId].sort());

    assert.equal(await bot.getStateEvent(roomId, 'org.trellis.test', 'k'), null);
    await other.sendState(roomId, 'm.room.power_levels', '', {
      users: { [bot.userId]: 50 },
      state_default: 50,
      events_default: 0,
      redact: 50,
    });
    await bot.sendState(roomId, 'org.trellis.test', 'k/with:odd chars', { n: 1 });
    assert.deepEqual(await bot.getStateEvent(roomId, 'org.trellis.test', 'k/with:odd chars'), { n: 1 });

    await bot.setDisplayName('Test Bot');
    const avatar = await bot.uploadMedia(new Uint8Array([1, 2, 3]), { contentType: 'image/png' });
    await bot.setAvatarUrl(avatar);
    assert.deepEqual(await bot.getProfile(bot.userId), { displayname: 'Test Bot', avatar_url: avatar });

    const eventId = await bot.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'to be redacted' });
    const redaction = await bot.redact(roomId, eventId, 'test');
    assert.match(redaction, /^\$/);
    const redacted = (await other.messages(roomId)).find((e) => e.event_id === eventId);
    assert.deepEqual(redacted?.content, {});

    await bot.invite(roomId, (await newBot('invitee')).userId);
    await bot.leaveRoom(roomId);
    assert.ok(!(await bot.joinedRooms()).includes(roomId));
  });
});

/**
 * A loopback reverse proxy to the real Synapse that lets a test answer some
 * requests itself: the faults a proxy or an overloaded homeserver produce.
 */
async function faultyProxy(
  intercept: (req: IncomingMessage, body: Buffer, forward: () => Promise<{ status: number; body: string }>) => Promise<{ status: number; body: string; headers?: Record<string, string> } | undefined>,
): Promise<{ url: string; close(): void }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = async (): Promise<{ status: number; body: string }> => {
        const headers: Record<string, string> = {};
        for (const name of ['authorization', 'content-type']) {
          const v = req.headers[name];
          if (typeof v === 'string') headers[name] = v;
        }
        const upstream = await fetch(hs.url + (req.url ?? '/'), {
          method: req.method ?? 'GET',
          headers,
          body: body.length > 0 ? body : undefined,
        });
        return { status: upstream.status, body: await upstream.text() };
      };
      void (async () => {
        const answer: { status: number; body: string; headers?: Record<string, string> } = (await intercept(req, body, forward)) ?? (await forward());
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(answer.body);
      })().catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

describe('MatrixHttp retries', () => {
  test('a send whose response was lost is retried with the same txn id and lands once', async () => {
    const creds = await newBot();
    const roomId = await new MatrixClient(creds).createRoom({ preset: 'private_chat' });
    const sendPaths: string[] = [];
    const proxy = await faultyProxy(async (req, _body, forward) => {
      if (req.method !== 'PUT' || !req.url?.includes('/send/')) return undefined;
      sendPaths.push(req.url);
      if (sendPaths.length === 1) {
        await forward(); // the homeserver stores the event, but the bot never hears back
        return { status: 502, body: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } };
      }
      return undefined;
    });
    try {
      const bot = new MatrixClient({ ...creds, homeserverUrl: proxy.url });
      const eventId = await bot.sendEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'lost answer' });
      assert.equal(sendPaths.length, 2);
      assert.equal(sendPaths[1], sendPaths[0], 'the retry used another transaction id');
      const viewer = new TestUser(hs.url, { userId: creds.userId, accessToken: creds.accessToken });
      const sent = (await viewer.messages(roomId)).filter((e) => e.content.body === 'lost answer');
      assert.deepEqual(
        sent.map((e) => e.event_id),
        [eventId],
      );
    } finally {
      proxy.close();
    }
  });

  test('429 is honoured with retry_after_ms', async () => {
    const creds = await newBot();
    let limited = 0;
    const proxy = await faultyProxy(async (req) => {
      if (req.url?.endsWith('/joined_rooms') && limited === 0) {
        limited++;
        return { status: 429, body: JSON.stringify({ errcode: 'M_LIMIT_EXCEEDED', error: 'Too many requests', retry_after_ms: 400 }) };
      }
      return undefined;
    });
    try {
      const bot = new MatrixClient({ ...creds, homeserverUrl: proxy.url });
      const started = Date.now();
      assert.deepEqual(await bot.joinedRooms(), []);
      const took = Date.now() - started;
      assert.equal(limited, 1);
      assert.ok(took >= 400, `retried after ${took} ms, before retry_after_ms`);
    } finally {
      proxy.close();
    }
  });

  test('a 4xx is not retried', async () => {
    const creds = await newBot();
    let calls = 0;
    const proxy = await faultyProxy(async (req) => {
      if (req.url?.includes('/send/')) calls++;
      return undefined;
    });
    try {
      const bot = new MatrixClient({ ...creds, homeserverUrl: proxy.url });
      await assert.rejects(bot.sendEvent('!missing:localhost', 'm.room.message', { body: 'x' }), (err: unknown) => {
        assert.match(String(err), /HTTP 403 M_FORBIDDEN/);
        return true;
      });
      assert.equal(calls, 1);
    } finally {
      proxy.close();
    }
  });
});

interface Recorder {
  batches: Array<{ resp: SyncResponse; initial: boolean }>;
  saved: string[];
  order: string[];
}

type LoopOptions = ConstructorParameters<typeof SyncLoop>[0];

/** A loop that records batches and saved tokens; `handle` runs after recording (and may throw or block). */
function recordingLoop(creds: Credentials, overrides: Partial<LoopOptions> = {}, handle?: (resp: SyncResponse) => Promise<void>): { loop: SyncLoop; rec: Recorder; statuses: SyncStatus[] } {
  const rec: Recorder = { batches: [], saved: [], order: [] };
  const statuses: SyncStatus[] = [];
  const loop = new SyncLoop({
    client: new MatrixClient(creds),
    timeoutMs: 5_000,
    loadToken: async () => rec.saved.at(-1) ?? null,
    saveToken: async (token) => {
      rec.order.push(`save:${token}`);
      rec.saved.push(token);
    },
    onSync: async (resp, info) => {
      rec.order.push(`sync:${resp.next_batch}`);
      rec.batches.push({ resp, initial: info.initial });
      await handle?.(resp);
    },
    onStateChange: (s) => statuses.push(s),
    ...overrides,
  });
  return { loop, rec, statuses };
}

function findMessage(rec: Recorder, roomId: string, body: string): { resp: SyncResponse; initial: boolean } | undefined {
  return rec.batches.find((b) => timelineEvents(b.resp, roomId).some((e) => bodyOf(e) === body));
}

describe('SyncLoop', () => {
  test('first sync is initial; messages from another user arrive; the token is saved after onSync', async () => {
    const creds = await newBot();
    const other = await TestUser.create(hs, 'human');
    const roomId = await other.createRoom({ invite: [creds.userId] });
    await new MatrixClient(creds).joinRoom(roomId);
    await other.sendText(roomId, 'old history');

    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    let handlingSlowBatch = false;
    const { loop: slowLoop, rec } = recordingLoop(creds, {}, async (resp) => {
      if (timelineEvents(resp, roomId).some((e) => bodyOf(e) === 'hello bot')) {
        handlingSlowBatch = true;
        await gate;
      }
    });
    slowLoop.start();
    try {
      await waitFor('the initial sync', () => rec.saved.length >= 1);
      assert.equal(rec.batches[0]?.initial, true);
      assert.equal(rec.batches.filter((b) => b.initial).length, 1);

      await other.sendText(roomId, 'hello bot');
      await waitFor('the message batch', () => handlingSlowBatch);
      const batch = findMessage(rec, roomId, 'hello bot');
      assert.ok(batch);
      assert.equal(batch.initial, false);
      const sender = timelineEvents(batch.resp, roomId).find((e) => bodyOf(e) === 'hello bot')?.sender;
      assert.equal(sender, other.userId);
      // While onSync is still running, its batch's token must not be saved.
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!rec.saved.includes(batch.resp.next_batch), 'token saved before onSync resolved');
      release?.();
      await waitFor('the token save', () => rec.saved.includes(batch.resp.next_batch));
      const syncAt = rec.order.indexOf(`sync:${batch.resp.next_batch}`);
      const saveAt = rec.order.indexOf(`save:${batch.resp.next_batch}`);
      assert.ok(syncAt >= 0 && saveAt > syncAt);
      assert.ok(!rec.batches.some((b) => !b.initial && findMessage({ ...rec, batches: [b] }, roomId, 'old history')), 'old history arrived as new');
    } finally {
      release?.();
      await slowLoop.stop();
    }
    assert.equal(slowLoop.status.state, 'stopped');
  });

  test('a restart resumes from the saved token without redelivering or skipping', async () => {
    const creds = await newBot();
    const other = await TestUser.create(hs, 'human');
    const roomId = await other.createRoom({ invite: [creds.userId] });
    await new MatrixClient(creds).joinRoom(roomId);
    const first = recordingLoop(creds);
    first.loop.start();
    await waitFor('the initial sync', () => first.rec.saved.length >= 1);
    await other.sendText(roomId, 'before stop');
    await waitFor('the first message', () => findMessage(first.rec, roomId, 'before stop'));
    await first.loop.stop();
    await other.sendText(roomId, 'while stopped');

    const second = recordingLoop(creds, { loadToken: async () => first.rec.saved.at(-1) ?? null });
    second.loop.start();
    try {
      const batch = await waitFor('the message sent while stopped', () => findMessage(second.rec, roomId, 'while stopped'));
      assert.equal(batch.initial, false);
      assert.ok(!findMessage(second.rec, roomId, 'before stop'), 'a handled message was delivered again');
    } finally {
      await second.loop.stop();
    }
  });

  test('a failing onSync handles the same batch again until it succeeds: never skipped, token saved only after', async () => {
    const creds = await newBot();
    const other = await TestUser.create(hs, 'human');
    const roomId = await other.createRoom({ invite: [creds.userId] });
    await new MatrixClient(creds).joinRoom(roomId);
    const attempts = new Map<string, number>();
    const errors: string[] = [];
    let savedWhileFailing = 0;
    const { loop: flaky, rec } = recordingLoop(creds, { backoff: { initialMs: 20, maxMs: 100 }, logger: { info() {}, warn() {}, error: (msg) => errors.push(msg) } }, async (resp) => {
      for (const ev of timelineEvents(resp, roomId)) {
        const body = bodyOf(ev) ?? '';
        const n = (attempts.get(body) ?? 0) + 1;
        attempts.set(body, n);
        if (body === 'flaky' && n === 1) throw new Error('transient handler failure');
        // Fails five times (longer than the old skip-after-3 rule), then works: nothing may be skipped.
        if (body === 'stubborn' && n <= 5) {
          savedWhileFailing = rec.saved.length;
          throw new Error('this event breaks the handler for a while');
        }
      }
    });
    flaky.start();
    try {
      await waitFor('the initial sync', () => rec.saved.length >= 1);
      await other.sendText(roomId, 'flaky');
      await waitFor('the flaky message to succeed', () => (attempts.get('flaky') ?? 0) >= 2);
      await other.sendText(roomId, 'stubborn');
      await waitFor('the stubborn batch to succeed', () => (attempts.get('stubborn') ?? 0) >= 6);
      const savedAfterFailures = savedWhileFailing;
      await other.sendText(roomId, 'after stubborn');
      await waitFor('the message after the stubborn batch', () => attempts.get('after stubborn'));
      assert.equal(attempts.get('flaky'), 2);
      assert.equal(attempts.get('stubborn'), 6, 'handled until it worked, not skipped');
      assert.equal(attempts.get('after stubborn'), 1);
      assert.ok(rec.saved.length > savedAfterFailures, 'the token moved on only after the batch was handled');
      assert.ok(errors.some((m) => /handling a sync batch failed; handling it again/.test(m)));
    } finally {
      await flaky.stop();
    }
  });

  test('a rejected access token fails the loop with an actionable message', async () => {
    const creds = await newBot('loggedout');
    await new MatrixClient(creds).logout();
    const { loop, statuses } = recordingLoop(creds);
    loop.start();
    try {
      await waitFor('the failed state', () => loop.status.state === 'failed');
      assert.match(loop.status.lastError ?? '', new RegExp(`access token for ${creds.userId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was rejected \\(M_UNKNOWN_TOKEN\\); log the client in again`));
      assert.ok(statuses.some((s) => s.state === 'failed'));
      assert.ok(!(loop.status.lastError ?? '').includes(creds.accessToken));
    } finally {
      await loop.stop();
    }
    assert.equal(loop.status.state, 'failed');
  });

  test('stop() aborts the long poll promptly', async () => {
    const creds = await newBot();
    const { loop, rec } = recordingLoop(creds, { timeoutMs: 30_000 });
    loop.start();
    await waitFor('the initial sync', () => rec.saved.length >= 1);
    await new Promise((r) => setTimeout(r, 300)); // now inside a 30 s long poll
    const started = Date.now();
    await loop.stop();
    const took = Date.now() - started;
    assert.ok(took < 1500, `stop took ${took} ms`);
    assert.equal(loop.status.state, 'stopped');
  });

  test('resumes after the homeserver restarts', async (t) => {
    const creds = await newBot();
    const other = await TestUser.create(hs, 'human');
    const roomId = await other.createRoom({ invite: [creds.userId] });
    await new MatrixClient(creds).joinRoom(roomId);
    const { loop, rec, statuses } = recordingLoop(creds);
    loop.start();
    try {
      await waitFor('the initial sync', () => rec.saved.length >= 1);
      await hs.restart();
      const back = Date.now();
      await other.sendText(roomId, 'after restart');
      await waitFor('the message after the restart', () => findMessage(rec, roomId, 'after restart'), 15_000);
      const resumedMs = Date.now() - back;
      t.diagnostic(`delivered ${resumedMs} ms after the homeserver answered again`);
      console.log(`# matrix-layer: sync resumed ${resumedMs} ms after the homeserver restart`);
      assert.ok(
        statuses.some((s) => s.state === 'backoff'),
        'the outage was never noticed',
      );
      assert.ok(resumedMs < 15_000);
      assert.equal(loop.status.consecutiveFailures, 0);
      assert.equal(loop.status.state, 'syncing');
    } finally {
      await loop.stop();
    }
  });
});
