/**
 * Issue 13's acceptance for the webhooks plugin, through a real Synapse and
 * real HTTP requests to the daemon's public listener: every built-in format's
 * fixture, resolving alerts, transforms (including a script that loops and
 * one that allocates without end), an encrypted room with a sender account,
 * every refusal, and the counted fault cases: 100 posts while the homeserver
 * is down, and a kill -9 right after the acknowledgements.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startSynapse, type Homeserver } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart } from '../harness/matrix-user.ts';
import { readRoomHistory, type HistoryEvent } from '../harness/echo-count.ts';
import { freePort, httpRequest, TestDaemon, withSharedSecret } from '../harness/daemon.ts';
import { E2eeUser } from '../harness/e2ee-user.ts';
import { FORMATS, type FormatName } from '../../plugins/webhooks/formats/index.ts';
import { fixture, fixtureNames, formatOf, headersOf } from '../harness/webhook-fixtures.ts';

const MIGRATED_ID = 'hookshot-migrated-0001';
const BASE_URL = 'https://matrix.example.org';

describe('webhooks plugin through a real homeserver', () => {
  let hs: Homeserver;
  let daemon: TestDaemon;
  let alice: E2eeUser;
  let bot: string;
  let sender: string;
  let plainRoom: string;
  let encryptedRoom: string;
  let publicUrl: string;
  /** Alice's access token in the tests' plain client, to read the rooms' history. */
  let reader: TestUser;

  const call = (method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) => httpRequest(`${publicUrl}${path}`, { method, body, headers });
  const postJson = (id: string, payload: unknown, headers: Record<string, string> = {}) => call('POST', `/webhook/${id}`, JSON.stringify(payload), { 'content-type': 'application/json', ...headers });
  const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => daemon.api<T>(method, `/instance/hooks/plugin${path}`, body);
  const createHook = async (fields: Record<string, unknown>): Promise<string> => {
    const res = await admin<{ id: string }>('POST', '/hooks', { room: plainRoom, ...fields });
    assert.equal(res.status, 201, res.text);
    return res.body.id;
  };

  /** The room's whole history (oldest first), paged from the homeserver as a client reads it. */
  const history = async (roomId: string): Promise<HistoryEvent[]> => (await readRoomHistory(reader, roomId)).events;
  const bodies = async (prefix: string) => (await history(plainRoom)).map((e) => String(e.content.body)).filter((b) => b.startsWith(prefix));
  const waitForBody = (what: string, match: (e: HistoryEvent) => boolean, timeoutMs = 30_000) => daemon.waitFor(what, async () => (await history(plainRoom)).find(match), timeoutMs);

  before(async () => {
    // Its own homeserver: one test stops it.
    hs = await startSynapse();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    daemon = await TestDaemon.create(hs, withSharedSecret(hs, { port, base_url: BASE_URL }));
    const register = async (prefix: string) => {
      const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
        username: uniqueLocalpart(prefix),
        password: `bot-${uniqueLocalpart('pw')}`,
        method: 'shared_secret',
      });
      assert.equal(res.status, 201, res.text);
      return res.body.id;
    };
    bot = await register('hookbot');
    sender = await register('grafana');
    alice = await E2eeUser.create(hs, 'alice');
    reader = new TestUser(hs.url, { userId: alice.userId, accessToken: alice.client.getAccessToken()! });
    plainRoom = await alice.createPlainRoom([bot, sender], 'alerts');
    encryptedRoom = await alice.createEncryptedRoom([bot, sender], 'private alerts');
    const res = await daemon.api('PUT', '/instance/hooks', {
      type: 'org.trellis.webhooks',
      primary_user: bot,
      rooms: [plainRoom, encryptedRoom],
      senders: [sender],
      config: { wait_for_delivery_ms: 1000, hooks: [{ id: MIGRATED_ID, name: 'migrated', room: plainRoom, rate_limit_per_minute: 0 }] },
    });
    assert.equal(res.status, 201, res.text);
    for (const room of [plainRoom, encryptedRoom]) for (const who of [bot, sender]) await alice.waitForJoin(room, who);
  });

  after(async () => {
    alice?.stop();
    await daemon?.dispose();
    await hs?.stop();
  });

  it('a hookshot URL kept by its id answers 200 {ok:true} after posting hookshot’s rendering', async () => {
    const res = await postJson(MIGRATED_ID, { text: 'Hello **world**' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { ok: true });
    const event = await waitForBody('the message', (e) => e.content.body === 'Hello **world**');
    assert.equal(event.sender, bot);
    assert.equal(event.content.msgtype, 'm.notice');
    assert.equal(event.content.formatted_body, '<p>Hello <strong>world</strong></p>');
    assert.deepEqual(event.content['uk.half-shot.hookshot.webhook_data'], { text: 'Hello **world**' });
  });

  it('every built-in format posts its fixture as text and HTML; a resolving alert edits the firing message and replies in its thread', async () => {
    const formats = new Set<string>();
    const hooks = new Map<FormatName, string>();
    for (const name of fixtureNames()) {
      const format = formatOf(name);
      formats.add(format);
      if (!hooks.has(format)) hooks.set(format, await createHook({ name: `${format} hook`, format }));
      const headers = headersOf(name);
      const body = fixture(name);
      const expected = FORMATS[format]({ body, headers });
      assert.ok(expected, `${name} is recognised by its format`);
      const res = await postJson(hooks.get(format)!, body, headers);
      assert.equal(res.status, 200, `${name}: ${res.text}`);
      await waitForBody(`${name} in the room`, (e) => e.content.body === expected.plain && e.content.formatted_body === expected.html);
    }
    assert.deepEqual([...formats].sort(), Object.keys(FORMATS).sort(), 'a fixture for every format');

    // Grafana's firing message was edited to its resolved form and got a thread reply.
    const events = await history(plainRoom);
    const firingPlain = FORMATS.grafana({ body: fixture('grafana-firing'), headers: {} })!.plain;
    const resolvedPlain = FORMATS.grafana({ body: fixture('grafana-resolved'), headers: {} })!.plain;
    const firing = events.find((e) => e.content.body === firingPlain && !e.content['m.relates_to'])!;
    assert.ok(firing, 'the firing message');
    const edit = events.find(
      (e) =>
        (e.content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined)?.rel_type === 'm.replace' &&
        (e.content['m.relates_to'] as { event_id: string }).event_id === firing.event_id,
    );
    assert.ok(edit, 'the firing message was edited');
    assert.equal((edit.content['m.new_content'] as { body: string }).body, resolvedPlain);
    const thread = events.find(
      (e) =>
        (e.content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined)?.rel_type === 'm.thread' &&
        (e.content['m.relates_to'] as { event_id: string }).event_id === firing.event_id,
    );
    assert.equal(thread?.content.body, resolvedPlain, 'the resolution is said in the firing message’s thread');
  });

  it('transforms: v2 with HTML and mentions, empty, webhookResponse; a syntax error is refused when saved; a loop and an allocation answer 500 while the daemon stays responsive; the failure is said once', async () => {
    const v2 = await createHook({
      name: 'v2 transform',
      transform: 'result = { version: "v2", plain: `Build ${data.build} ${data.state}`, html: `<b>Build ${data.build}</b>`, msgtype: "m.text", mentions: { user_ids: [data.who] } };',
    });
    assert.equal((await postJson(v2, { build: 42, state: 'passed', who: alice.userId })).status, 200);
    const posted = await waitForBody('the v2 transform’s message', (e) => e.content.body === 'Build 42 passed');
    assert.equal(posted.content.msgtype, 'm.text');
    assert.equal(posted.content.formatted_body, '<b>Build 42</b>');
    assert.deepEqual(posted.content['m.mentions'], { user_ids: [alice.userId] });

    const replying = await createHook({
      name: 'replying',
      transform: 'return { version: "v2", empty: true, webhookResponse: { body: "pong " + data.n, contentType: "text/plain", statusCode: 201 } };',
    });
    const answer = await postJson(replying, { n: 7 });
    assert.deepEqual([answer.status, answer.text], [201, 'pong 7']);

    const broken = await admin('POST', '/hooks', { room: plainRoom, name: 'broken', transform: 'result = {' });
    assert.equal(broken.status, 400);
    assert.match(broken.text, /transform: does not compile: SyntaxError/);

    const looping = await createHook({ name: 'looping', transform: 'while (true) {}' });
    const loop = postJson(looping, { n: 1 });
    let loopDone = false;
    void loop.then(() => (loopDone = true));
    const version = await daemon.api('GET', '/version', undefined, { auth: false });
    assert.equal(version.status, 200);
    assert.equal(loopDone, false, 'the management API answered while the transform was still running');
    const looped = await loop;
    assert.equal(looped.status, 500);
    assert.match(String(looped.json?.error), /transformation function failed: .*(interrupted|longer than)/);
    assert.equal((await postJson(looping, { n: 2 })).status, 500);

    const hungry = await createHook({ name: 'hungry', transform: 'const a = []; while (true) a.push("x".repeat(100000));' });
    const oom = await postJson(hungry, {});
    assert.equal(oom.status, 500);
    assert.match(String(oom.json?.error), /memory|longer than/);

    const notices = await daemon.waitFor('the failure notice', async () => {
      const found = (await history(plainRoom)).filter((e) => String(e.content.body).startsWith('Webhook “looping” received a request but its transformation function failed'));
      return found.length > 0 ? found : undefined;
    });
    assert.equal(notices.length, 1, 'two failures, one notice');
  });

  it('an encrypted room gets the message encrypted, from the hook’s sender account', async () => {
    const id = await createHook({ name: 'private', room: encryptedRoom, sender, format: 'uptime-kuma' });
    const body = fixture('uptime-kuma-down');
    const expected = FORMATS['uptime-kuma']({ body, headers: {} })!;
    assert.equal((await postJson(id, body)).status, 200);
    const event = await alice.waitForEvent(encryptedRoom, (e) => e.content.body === expected.plain, 30_000, 'the decrypted webhook message');
    assert.equal(event.wireType, 'm.room.encrypted');
    assert.equal(event.sender, sender);
  });

  it('bad input gets the documented 4xx, never a 5xx, and posts nothing', async () => {
    const before = (await history(plainRoom)).length;
    const expired = await createHook({ name: 'expired', expires: '2020-01-01T00:00:00Z' });
    const cases: Array<[string, Promise<{ status: number; text: string }>, number]> = [
      ['wrong content type', call('POST', `/webhook/${MIGRATED_ID}`, new Uint8Array([137, 80, 78, 71]), { 'content-type': 'image/png' }), 415],
      ['5 MiB body', call('POST', `/webhook/${MIGRATED_ID}`, 'x'.repeat(5 * 1024 * 1024), { 'content-type': 'text/plain' }), 413],
      ['malformed JSON', call('POST', `/webhook/${MIGRATED_ID}`, '{"text": ', { 'content-type': 'application/json' }), 400],
      ['unknown id', postJson('0d7b2c1e-0000-4000-8000-000000000000', { text: 'x' }), 404],
      ['expired hook', postJson(expired, { text: 'x' }), 404],
      ['GET when disabled', call('GET', `/webhook/${MIGRATED_ID}?text=x`), 405],
    ];
    for (const [what, request, status] of cases) {
      const res = await request;
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.match(res.text, /"ok":false,"error":"[^"]+"/, `${what} says why`);
    }
    // The admin API is the management API's: no token, no hooks (whatever the headers say).
    for (const headers of [{}, { authorization: 'Bearer not-a-token' }, { 'x-forwarded-for': '127.0.0.1' }]) {
      const res = await fetch(`${daemon.url}/_matrix/maubot/v1/instance/hooks/plugin/hooks`, { headers });
      assert.equal(res.status, 401);
      assert.doesNotMatch(await res.text(), /webhook\//);
    }
    const unauthenticatedCreate = await fetch(`${daemon.url}/_matrix/maubot/v1/instance/hooks/plugin/hooks`, { method: 'POST', body: JSON.stringify({ name: 'sneaky', room: plainRoom }) });
    assert.equal(unauthenticatedCreate.status, 401);
    assert.ok(!(await admin<Array<{ name: string }>>('GET', '/hooks')).body.some((h) => h.name === 'sneaky'));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await history(plainRoom)).length, before, 'nothing was posted');
  });

  it('homeserver stopped, 100 posts accepted, homeserver started: 100 messages in order, none twice', { timeout: 180_000 }, async () => {
    const run = `down-${uniqueLocalpart('r')}`;
    await hs.down();
    try {
      for (let batch = 0; batch < 4; batch++) {
        const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => postJson(MIGRATED_ID, { text: `${run} #${String(batch * 25 + i + 1).padStart(3, '0')}` })));
        for (const a of answers) assert.equal(a.status, 202, a.text);
      }
    } finally {
      await hs.up();
    }
    const seen = await daemon.waitFor(
      'all 100 messages',
      async () => {
        const found = await bodies(run);
        return found.length >= 100 ? found : undefined;
      },
      120_000,
    );
    assert.equal(new Set(seen).size, seen.length, 'none twice');
    assert.equal(seen.length, 100);
    // Concurrent requests have no arrival order between them; each batch of 25 came after the previous one.
    for (let batch = 0; batch < 4; batch++) {
      const numbers = seen.slice(batch * 25, batch * 25 + 25).map((b) => Number(b.split('#')[1]));
      assert.ok(
        numbers.every((n) => n > batch * 25 && n <= batch * 25 + 25),
        `batch ${batch + 1} posted after batch ${batch}`,
      );
    }
  });

  it('kill -9 after the acknowledgements, and again while delivering: every accepted request posted once, in order', { timeout: 150_000 }, async () => {
    const run = `kill-${uniqueLocalpart('r')}`;
    const total = 30;
    // With the homeserver away the requests are acknowledged (202) from storage alone.
    await hs.down();
    try {
      for (let batch = 0; batch < 3; batch++) {
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postJson(MIGRATED_ID, { text: `${run} #${String(batch * 10 + i + 1).padStart(3, '0')}` })));
        for (const a of answers) assert.equal(a.status, 202, a.text);
      }
      await daemon.kill9();
    } finally {
      await hs.up();
    }
    await daemon.start();
    assert.ok(
      daemon.output.some((l) => l.includes(`${total} stored webhook request(s) from before the restart`)),
      'the restarted daemon found every acknowledged request in storage',
    );
    // Killed again half-way through the delivery: a send may have reached the homeserver without being marked done.
    await daemon.waitFor('some of them posted', async () => (await bodies(run)).length >= 8, 60_000);
    await daemon.kill9();
    await daemon.start();
    const seen = await daemon.waitFor(
      `all ${total} messages`,
      async () => {
        const found = await bodies(run);
        return found.length >= total ? found : undefined;
      },
      90_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const final = await bodies(run);
    assert.deepEqual(final, seen, 'nothing more came later');
    assert.equal(new Set(final).size, final.length, 'none twice');
    assert.equal(final.length, total);
    for (let batch = 0; batch < 3; batch++) {
      const numbers = final.slice(batch * 10, batch * 10 + 10).map((b) => Number(b.split('#')[1]));
      assert.ok(
        numbers.every((n) => n > batch * 10 && n <= batch * 10 + 10),
        `batch ${batch + 1} posted after batch ${batch}`,
      );
    }
  });
});
