/**
 * The crypto store of one account opened and closed in quick succession, as
 * switching encryption off and on does, without a homeserver: a stand-in
 * answers the few key endpoints the machine calls. These are the races that
 * left an account at `starting` forever or lost what a closing machine did.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MatrixClient } from '../../src/matrix/client.ts';
import { BotCrypto, CryptoClosedError, CryptoStoreError, loadCryptoRuntime, type BotCryptoOptions } from '../../src/matrix/crypto/index.ts';
import { cryptoIndexedDb } from '../../src/matrix/crypto/runtime.ts';
import type { MatrixEvent, SyncResponse } from '../../src/matrix/types.ts';

/** The key endpoints, answered the way Synapse does for a bot nobody else talks to. */
const keysServer: typeof fetch = async (input) => {
  const path = new URL(String(input)).pathname;
  let body: unknown = {};
  if (path.endsWith('/keys/upload')) body = { one_time_key_counts: { signed_curve25519: 50 } };
  else if (path.endsWith('/keys/query')) body = { device_keys: {}, failures: {} };
  else if (path.endsWith('/keys/claim')) body = { one_time_keys: {}, failures: {} };
  else if (path.endsWith('/keys/signatures/upload')) body = { failures: {} };
  return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
};

let dir: string;
let accounts = 0;
const warnings: string[] = [];

/** Options for a fresh account of its own (the store registry is per process, so tests do not share one). */
function account(pickleKey = 'unit-test-pickle-key'): BotCryptoOptions {
  const userId = `@bot${++accounts}:unit.test`;
  const matrix = new MatrixClient({ homeserverUrl: 'http://homeserver.invalid', userId, accessToken: 'token', deviceId: 'DEVICE' }, { fetch: keysServer });
  return {
    matrix,
    deviceId: 'DEVICE',
    storeDir: dir,
    pickleKey,
    log: { info: () => undefined, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
  };
}

/** A sync that changes crypto state (a device list to query), so the store has something new to save. */
function syncChanges(): SyncResponse {
  return { next_batch: 's', device_lists: { changed: ['@someone:unit.test'], left: [] }, device_one_time_keys_count: { signed_curve25519: 50 } } as SyncResponse;
}

/** A Megolm message of a session nobody shared with the bot: it waits for a key that never comes. */
function undecryptable(): MatrixEvent {
  return {
    event_id: `$${randomBytes(8).toString('hex')}`,
    type: 'm.room.encrypted',
    sender: '@someone:unit.test',
    origin_server_ts: Date.now(),
    content: {
      algorithm: 'm.megolm.v1.aes-sha2',
      sender_key: randomBytes(32).toString('base64').replace(/=+$/, ''),
      device_id: 'OTHER',
      session_id: randomBytes(32).toString('base64').replace(/=+$/, ''),
      ciphertext: randomBytes(96).toString('base64').replace(/=+$/, ''),
    },
  } as MatrixEvent;
}

async function storeDatabases(userId: string): Promise<string[]> {
  return (await cryptoIndexedDb().databases()).map((d) => d.name ?? '').filter((name) => name.startsWith(`trellis:${userId}`));
}

/** Settles `promise` into a flag the test can look at without waiting for it. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: boolean } {
  const tracked = { promise, settled: false };
  promise.then(
    () => (tracked.settled = true),
    () => (tracked.settled = true),
  );
  return tracked;
}

describe('crypto store opened and closed in quick succession', { timeout: 60_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-crypto-store-'));
    await loadCryptoRuntime();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('each opening waits until the previous machine of the account saved and closed, also the third in a row', async () => {
    const opts = account();
    const first = await BotCrypto.open(opts);
    // A re-created client opens while the first machine is still open; the first then closes.
    const second = track(BotCrypto.open(opts));
    await first.close();
    const secondCrypto = await second.promise;
    // A third opening (a switch of the re-created client) must wait for the second, not start beside it.
    const third = track(BotCrypto.open(opts));
    await secondCrypto.receiveSyncChanges(syncChanges());
    // Before the fix the third opening deleted the databases the second still used, and this save hung.
    await secondCrypto.persist();
    assert.equal(third.settled, false, 'the third opening waits while the second machine is open');
    await secondCrypto.close();
    const thirdCrypto = await third.promise;
    assert.equal(thirdCrypto.status.ed25519, first.status.ed25519, 'the same device every time');
    await thirdCrypto.close();
    assert.deepEqual(await storeDatabases(opts.matrix.userId), [], 'nothing left in memory once closed');
  });

  test('close() saves what was asked of the machine before it, and refuses what comes after', async () => {
    const opts = account();
    const crypto = await BotCrypto.open(opts);
    const waiting = crypto.decrypt('!room:unit.test', undecryptable());
    await crypto.close();
    assert.equal(await waiting, null, 'the decrypt asked for before the close ran (no key: kept for later)');
    const reopened = await BotCrypto.open(opts);
    assert.equal(reopened.pendingDecryption, 1, 'the event waiting for its key was saved by the close');

    await reopened.close();
    // A sync batch still holding the closed machine must fail (and be handled again), not drop its events.
    await assert.rejects(reopened.decrypt('!room:unit.test', undecryptable()), CryptoClosedError);
    await assert.rejects(reopened.receiveSyncChanges(syncChanges()), CryptoClosedError);
    await reopened.persist();
    assert.equal(reopened.status.ed25519, crypto.status.ed25519, 'the status of a closed machine can still be read');
  });

  test('a wrong pickle key fails with a store error, and the right key opens the store afterwards', async () => {
    const opts = account();
    const crypto = await BotCrypto.open(opts);
    const identity = crypto.status.ed25519;
    await crypto.close();
    await assert.rejects(BotCrypto.open({ ...opts, pickleKey: 'another-key' }), (err: Error) => err instanceof CryptoStoreError && /pickle_key/.test(err.message));
    // Before, the failed opening left a connection that blocked the store's databases for good.
    const again = await BotCrypto.open(opts);
    assert.equal(again.status.ed25519, identity);
    await again.close();
  });

  test('twenty switches in a row, each racing the work of the machine it closes, keep the device and everything it did', async () => {
    const opts = account();
    let crypto = await BotCrypto.open(opts);
    const identity = crypto.status.ed25519;
    for (let i = 0; i < 20; i++) {
      const work = [crypto.receiveSyncChanges(syncChanges()), crypto.decrypt('!room:unit.test', undecryptable()), crypto.persist()];
      const closing = crypto.close();
      crypto = await BotCrypto.open(opts);
      await closing;
      const results = await Promise.allSettled(work);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'fulfilled'],
        `switch ${i + 1}: the work asked for before the close was done`,
      );
      assert.equal(crypto.status.ed25519, identity, `switch ${i + 1}: same identity`);
      assert.equal(crypto.pendingDecryption, i + 1, `switch ${i + 1}: every event waiting for a key was kept`);
      assert.equal((await storeDatabases(opts.matrix.userId)).length, 2, `switch ${i + 1}: one store in memory`);
    }
    await crypto.close();
    assert.deepEqual(await storeDatabases(opts.matrix.userId), []);
    assert.deepEqual(
      warnings.filter((w) => /held open|still waiting/.test(w)),
      [],
      'no database was left held open, no opening waited long',
    );
  });
});
