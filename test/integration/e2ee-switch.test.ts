/**
 * Switching one account's encryption off and on many times while a person
 * keeps talking to it, through a real Synapse and the real daemon: the
 * switch always settles (never stuck at `starting`), the account keeps its
 * device and store, plain rooms lose nothing, nothing is answered twice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRegistrationToken, sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { uniqueLocalpart } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { E2eeUser, type DecryptedEvent } from '../harness/e2ee-user.ts';

interface ApiClient {
  id: string;
  device_id: string | null;
  encryption: boolean;
  crypto: { state: string; device_id?: string; ed25519?: string; curve25519?: string; error?: string } | null;
}

interface RawEvent {
  event_id: string;
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

const inReplyTo = (content: Record<string, unknown>) => (content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id;
const replyTo = (eventId: string) => (ev: DecryptedEvent) => ev.type === 'm.room.message' && inReplyTo(ev.content) === eventId;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('switching encryption off and on while messages flow', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let alice: E2eeUser;
  let bot: ApiClient;
  const clientPath = () => `/client/${encodeURIComponent(bot.id)}`;
  const getClient = async () => (await daemon.api<ApiClient>('GET', clientPath())).body;
  const put = async (encryption: boolean) => {
    const res = await daemon.api<ApiClient>('PUT', clientPath(), { encryption });
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  const cryptoState = (state: string, what = `crypto ${state}`, timeoutMs = 30_000) =>
    daemon.waitFor(
      what,
      async () => {
        const c = await getClient();
        return c.crypto?.state === state ? c : undefined;
      },
      timeoutMs,
    );

  /** Every event of a room from the homeserver (not from a client's timeline, which a gappy sync may cut). */
  async function history(roomId: string): Promise<RawEvent[]> {
    const events: RawEvent[] = [];
    let from: string | undefined;
    for (;;) {
      const query = new URLSearchParams({ dir: 'f', limit: '500', ...(from ? { from } : {}) });
      const res = await fetch(`${hs.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${query}`, {
        headers: { authorization: `Bearer ${alice.client.getAccessToken()}` },
      });
      assert.equal(res.status, 200, await res.clone().text());
      const page = (await res.json()) as { chunk: RawEvent[]; end?: string };
      events.push(...page.chunk);
      if (!page.end || page.chunk.length === 0) return events;
      from = page.end;
    }
  }

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    const token = await createRegistrationToken({ url: hs.url, adminToken: hs.adminToken } as never, 1);
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.registration_token = token;
    });
    alice = await E2eeUser.create(hs, 'alice');
  });

  after(async () => {
    alice?.stop();
    await daemon?.dispose();
    await hs?.release();
  });

  it('settles at ready with the same device after 15 toggles, rapid and concurrent ones included', async () => {
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('switchbot'),
      password: 'pw-' + randomBytes(8).toString('hex'),
      method: 'token',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    const initial = (await cryptoState('ready')).crypto!;

    const encrypted = await alice.createEncryptedRoom([bot.id], 'switch encrypted');
    const plain = await alice.createPlainRoom([bot.id], 'switch plain');
    await daemon.createInstance('echo-switch', { type: 'org.trellis.ping', primary_user: bot.id, rooms: [encrypted, plain] });
    await alice.waitForJoin(encrypted, bot.id);
    await alice.waitForJoin(plain, bot.id);
    // The bot holds Alice's room key before the switching starts: messages sent while it is on stay readable.
    const warmup = await alice.sendText(encrypted, '!echo warm-up');
    assert.equal((await alice.waitForEvent(encrypted, replyTo(warmup), 30_000, 'the answer before switching')).wireType, 'm.room.encrypted');

    // A person keeps talking in both rooms during the whole switching.
    const sent = { plain: new Map<string, string>(), encrypted: new Map<string, string>() };
    let talking = true;
    const talk = (async () => {
      for (let n = 1; talking; n++) {
        sent.plain.set(await alice.sendText(plain, `!echo plain ${n}`), `plain ${n}`);
        sent.encrypted.set(await alice.sendText(encrypted, `!echo encrypted ${n}`), `encrypted ${n}`);
        await sleep(50);
      }
    })();
    talk.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled meanwhile

    let toggles = 0;
    const toggle = async (encryption: boolean) => {
      toggles++;
      return put(encryption);
    };
    try {
      // Settled toggles: each one completes before the next.
      for (let i = 0; i < 2; i++) {
        await toggle(false);
        await cryptoState('off', `crypto off after toggle ${toggles}`);
        await toggle(true);
        await cryptoState('ready', `crypto ready after toggle ${toggles}`);
      }
      // Rapid toggles: each one issued while the previous switch is still closing or opening the store.
      for (let i = 0; i < 3; i++) {
        await toggle(false);
        await toggle(true);
      }
      // Off, then on, then off again as soon as the store is reopening.
      await toggle(false);
      await cryptoState('off', `crypto off after toggle ${toggles}`);
      await toggle(true);
      await daemon.waitFor('crypto starting', async () => (await getClient()).crypto?.state !== 'off' || undefined);
      await toggle(false);
      // Concurrent PUTs from two operators: the last one the daemon applies wins.
      const raced = await Promise.all([
        daemon.api<ApiClient>('PUT', clientPath(), { encryption: true }),
        daemon.api<ApiClient>('PUT', clientPath(), { encryption: false }),
        daemon.api<ApiClient>('PUT', clientPath(), { encryption: true }),
      ]);
      for (const r of raced) assert.equal(r.status, 200, r.text);
      toggles += raced.length;
      await toggle(true);
    } finally {
      // Always stop talking, also when a toggle failed, so the test ends.
      talking = false;
    }
    assert.ok(toggles >= 15, `${toggles} toggles`);

    // The last switch settles within seconds (reopening takes well under one): ready again, with the same
    // device and identity, so the store was reopened, not recreated.
    const ready = (await cryptoState('ready', 'crypto ready after the last toggle', 15_000)).crypto!;
    assert.equal(ready.device_id, initial.device_id, 'same device');
    assert.equal(ready.ed25519, initial.ed25519, 'same identity key');
    assert.equal((await getClient()).encryption, true);
    await talk;

    // The encrypted room answers again, encrypted, from the same device.
    const last = await alice.sendText(encrypted, '!echo after the last toggle');
    const answer = await alice.waitForEvent(encrypted, replyTo(last), 30_000, 'the encrypted answer after the last toggle');
    assert.equal(answer.wireType, 'm.room.encrypted');
    assert.equal(answer.content.body, 'after the last toggle');
    const senderKey = alice.client.getRoom(encrypted)?.findEventById(answer.eventId)?.getSenderKey();
    assert.equal(senderKey, initial.curve25519, 'encrypted by the same device');

    // Every message of the plain room is answered, exactly once, whatever the switch was doing.
    const plainAnswers = async () => {
      const counts = new Map<string, number>();
      for (const ev of await history(plain)) {
        const to = ev.sender === bot.id ? inReplyTo(ev.content) : undefined;
        if (to) counts.set(to, (counts.get(to) ?? 0) + 1);
      }
      return counts;
    };
    await daemon.waitFor(
      'every plain message answered',
      async () => {
        const counts = await plainAnswers();
        return [...sent.plain.keys()].every((id) => counts.has(id)) || undefined;
      },
      60_000,
    );
    const counts = await plainAnswers();
    for (const [id, text] of sent.plain) assert.equal(counts.get(id), 1, `"${text}" answered once`);

    // Encrypted messages are never answered twice (those that arrived while it was off stay unread: documented).
    const encryptedAnswers = new Map<string, number>();
    for (const ev of await alice.events(encrypted)) {
      const to = ev.sender === bot.id && ev.type === 'm.room.message' ? inReplyTo(ev.content) : undefined;
      if (to) encryptedAnswers.set(to, (encryptedAnswers.get(to) ?? 0) + 1);
    }
    for (const [id, text] of sent.encrypted) assert.ok((encryptedAnswers.get(id) ?? 0) <= 1, `"${text}" answered at most once`);

    // No crypto store was found busy, failed to save or left half-closed along the way.
    const cryptoErrors = daemon.output.filter((l) => l.includes('"level":"error"') && /crypto|IndexedDB|encryption/i.test(l));
    assert.deepEqual(cryptoErrors, [], 'no crypto errors while switching');
  });
});
