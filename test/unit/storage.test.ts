import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import type { AccountRecord } from '../../src/storage/clients.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-storage-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function withMemory<T>(fn: (s: Storage) => Promise<T>, keepLogRecords?: number): Promise<T> {
  const storage = await openStorage({ type: 'sqlite', path: ':memory:', keepLogRecords });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

function client(overrides: Partial<AccountRecord> = {}): Omit<AccountRecord, 'syncToken'> & { syncToken?: string | null } {
  return {
    id: '@bot:example.org',
    homeserver: 'main',
    homeserverUrl: 'http://127.0.0.1:8008',
    accessToken: 'token-1',
    deviceId: 'DEV1',
    displayName: 'Bot',
    avatarUrl: null,
    autojoin: true,
    autojoinAllow: ['@admin:example.org'],
    enabled: true,
    managedBy: 'api',
    ...overrides,
  };
}

describe('openStorage', () => {
  test('applies every migration to a new database', async () => {
    await withMemory(async (s) => {
      const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`.execute(s.db);
      const names = tables.rows.map((r) => r.name);
      for (const t of ['clients', 'plugins', 'instances', 'plugin_storage', 'handled_events', 'log_records', 'revoked_tokens']) assert.ok(names.includes(t), `${t} missing: ${names}`);
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(s.db);
      assert.deepEqual(
        applied.rows.map((r) => r.name),
        ['0001_initial', '0002_client_encryption', '0003_revoked_tokens', '0004_instance_plugin_version', '0005_api_tokens', '0006_instance_senders'],
      );
    });
  });

  test('re-opening a file database keeps the data and does not re-run migrations', async () => {
    const path = join(root, 'nested', 'dir', 'trellis.db');
    const first = await openStorage({ type: 'sqlite', path });
    await first.clients.upsert(client({ syncToken: 's42' }));
    await first.pluginStorage.set('inst', 'k', '"v"');
    await first.close();
    assert.equal((await stat(path)).mode & 0o777, 0o600, 'the database holds access tokens and must be private');

    const second = await openStorage({ type: 'sqlite', path });
    try {
      const c = await second.clients.get('@bot:example.org');
      assert.equal(c?.syncToken, 's42');
      assert.equal(c?.accessToken, 'token-1');
      assert.equal(await second.pluginStorage.get('inst', 'k'), '"v"');
      const applied = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(second.db);
      assert.equal(Number(applied.rows[0].n), 6);
    } finally {
      await second.close();
    }
  });

  test('postgres is refused with an actionable message', async () => {
    await assert.rejects(openStorage({ type: 'postgres', url: 'postgres://x' }), /not supported yet; use "sqlite"/);
  });
});

describe('plugin storage', () => {
  test('two instances with the same key see only their own value', async () => {
    await withMemory(async (s) => {
      const repo = s.pluginStorage;
      await repo.set('a', 'score', '1');
      await repo.set('b', 'score', '2');
      assert.equal(await repo.get('a', 'score'), '1');
      assert.equal(await repo.get('b', 'score'), '2');
      assert.equal(await repo.get('c', 'score'), undefined);

      await repo.set('a', 'score', '10');
      assert.equal(await repo.get('a', 'score'), '10');
      assert.equal(await repo.get('b', 'score'), '2');

      assert.equal(await repo.delete('a', 'score'), true);
      assert.equal(await repo.delete('a', 'score'), false);
      assert.equal(await repo.get('b', 'score'), '2');
    });
  });

  test('list with a prefix returns only own rows with that prefix, in key order', async () => {
    await withMemory(async (s) => {
      const repo = s.pluginStorage;
      // Keys beyond the ASCII range sort after 'b' in SQLite's binary (code point) order and must still match.
      for (const key of ['user:bob', 'user:alice', 'room:1', 'users', 'user:😀', 'user:\uffffx']) await repo.set('a', key, JSON.stringify(key));
      await repo.set('b', 'user:mallory', '"other instance"');
      const keys = (await repo.list('a', 'user:')).map((r) => r.key);
      assert.deepEqual(keys, ['user:alice', 'user:bob', 'user:\uffffx', 'user:😀']);
      assert.deepEqual(
        (await repo.list('a')).map((r) => r.key),
        ['room:1', 'user:alice', 'user:bob', 'user:\uffffx', 'user:😀', 'users'],
      );
      assert.deepEqual(
        (await repo.list('a', 'user:😀')).map((r) => r.key),
        ['user:😀'],
      );
      assert.deepEqual(
        (await repo.list('a', 'user:\uffff')).map((r) => r.key),
        ['user:\uffffx'],
      );
      assert.deepEqual(
        (await repo.list('b', 'user:')).map((r) => r.key),
        ['user:mallory'],
      );
      assert.deepEqual(await repo.list('nobody', 'user:'), []);
    });
  });

  test('% and _ in a prefix are literal characters, not wildcards', async () => {
    await withMemory(async (s) => {
      const repo = s.pluginStorage;
      for (const key of ['50%off', '50xoff', 'a_b', 'axb', '%', '_']) await repo.set('a', key, '0');
      assert.deepEqual(
        (await repo.list('a', '50%')).map((r) => r.key),
        ['50%off'],
      );
      assert.deepEqual(
        (await repo.list('a', 'a_')).map((r) => r.key),
        ['a_b'],
      );
      assert.deepEqual(
        (await repo.list('a', '%')).map((r) => r.key),
        ['%'],
      );
      assert.deepEqual(
        (await repo.list('a', '_')).map((r) => r.key),
        ['_'],
      );
    });
  });

  test('deleteAll removes one instance only', async () => {
    await withMemory(async (s) => {
      await s.pluginStorage.set('a', 'k', '1');
      await s.pluginStorage.set('b', 'k', '2');
      await s.pluginStorage.deleteAll('a');
      assert.deepEqual(await s.pluginStorage.list('a'), []);
      assert.equal(await s.pluginStorage.get('b', 'k'), '2');
    });
  });
});

describe('clients', () => {
  test('upsert keeps the stored sync token unless one is given', async () => {
    await withMemory(async (s) => {
      await s.clients.upsert(client());
      assert.equal((await s.clients.get('@bot:example.org'))?.syncToken, null);
      await s.clients.setSyncToken('@bot:example.org', 'batch_1');

      await s.clients.upsert(client({ displayName: 'Renamed', accessToken: 'token-2' }));
      let c = await s.clients.get('@bot:example.org');
      assert.equal(c?.syncToken, 'batch_1');
      assert.equal(c?.displayName, 'Renamed');
      assert.equal(c?.accessToken, 'token-2');

      await s.clients.upsert(client({ syncToken: 'batch_2' }));
      assert.equal((await s.clients.get('@bot:example.org'))?.syncToken, 'batch_2');

      await s.clients.upsert(client({ syncToken: null }));
      c = await s.clients.get('@bot:example.org');
      assert.equal(c?.syncToken, null);
    });
  });

  test('booleans and the autojoin allowlist round-trip; encryption defaults on and is kept when absent', async () => {
    await withMemory(async (s) => {
      await s.clients.upsert(client({ autojoin: false, enabled: false, autojoinAllow: [':example.org', '@x:y'], managedBy: 'config' }));
      let c = await s.clients.get('@bot:example.org');
      assert.equal(c?.autojoin, false);
      assert.equal(c?.enabled, false);
      assert.deepEqual(c?.autojoinAllow, [':example.org', '@x:y']);
      assert.equal(c?.managedBy, 'config');
      assert.equal(c?.encryption, true);

      await s.clients.upsert(client({ encryption: false }));
      assert.equal((await s.clients.get('@bot:example.org'))?.encryption, false);
      await s.clients.upsert(client());
      c = await s.clients.get('@bot:example.org');
      assert.equal(c?.encryption, false);
      assert.equal(c?.autojoin, true);
    });
  });

  test('delete removes the client and its handled-event ids', async () => {
    await withMemory(async (s) => {
      await s.clients.upsert(client());
      await s.clients.upsert(client({ id: '@other:example.org' }));
      await s.handledEvents.markHandled('@bot:example.org', '$e1');
      await s.handledEvents.markHandled('@other:example.org', '$e1');
      assert.equal(await s.clients.delete('@bot:example.org'), true);
      assert.equal(await s.clients.delete('@bot:example.org'), false);
      assert.equal(await s.clients.get('@bot:example.org'), undefined);
      assert.equal(await s.handledEvents.wasHandled('@bot:example.org', '$e1'), false);
      assert.equal(await s.handledEvents.wasHandled('@other:example.org', '$e1'), true);
      assert.deepEqual(
        (await s.clients.list()).map((c) => c.id),
        ['@other:example.org'],
      );
    });
  });
});

describe('instances and plugins', () => {
  test('instance upsert, list, update and delete', async () => {
    await withMemory(async (s) => {
      const base = {
        id: 'ping-1',
        pluginId: 'org.example.ping',
        clientId: '@bot:example.org',
        enabled: true,
        config: { prefix: '?' },
        rooms: ['!a', '!b'],
        senders: ['@other:example.org'],
        managedBy: 'api' as const,
      };
      await s.instances.upsert(base);
      await s.instances.upsert({ ...base, id: 'echo-1' });
      assert.deepEqual(await s.instances.get('ping-1'), { ...base, pluginVersion: null });
      await s.instances.upsert({ ...base, enabled: false, rooms: ['*'], config: {}, pluginVersion: '1.0.0' });
      assert.deepEqual(await s.instances.get('ping-1'), { ...base, enabled: false, rooms: ['*'], config: {}, pluginVersion: '1.0.0' });
      // Without a version the stored one is kept.
      await s.instances.upsert({ ...base, config: { prefix: '!' } });
      assert.equal((await s.instances.get('ping-1'))?.pluginVersion, '1.0.0');
      // An upgrade is stored only over the config it started from.
      assert.equal(await s.instances.replaceConfig('ping-1', { prefix: '?' }, { prefix: '#' }, '2.0.0'), false);
      assert.equal(await s.instances.replaceConfig('ping-1', { prefix: '!' }, { prefix: '#' }, '2.0.0'), true);
      assert.deepEqual(await s.instances.get('ping-1'), { ...base, config: { prefix: '#' }, pluginVersion: '2.0.0' });
      assert.deepEqual(
        (await s.instances.list()).map((i) => i.id),
        ['echo-1', 'ping-1'],
      );
      assert.equal(await s.instances.delete('ping-1'), true);
      assert.equal(await s.instances.get('ping-1'), undefined);
    });
  });

  test('plugin upsert replaces the version and manifest', async () => {
    await withMemory(async (s) => {
      await s.plugins.upsert({ id: 'org.example.ping', version: '1.0.0', source: 'bundled', dir: '/p/1', manifest: { id: 'org.example.ping' } });
      await s.plugins.upsert({ id: 'org.example.ping', version: '1.1.0', source: 'uploaded', dir: '/p/2', manifest: { id: 'org.example.ping', v: 2 } });
      assert.deepEqual(await s.plugins.list(), [{ id: 'org.example.ping', version: '1.1.0', source: 'uploaded', dir: '/p/2', manifest: { id: 'org.example.ping', v: 2 } }]);
      await s.plugins.delete('org.example.ping');
      assert.deepEqual(await s.plugins.list(), []);
    });
  });
});

describe('handled events', () => {
  test('an event id is remembered per client and marking twice is harmless', async () => {
    await withMemory(async (s) => {
      assert.equal(await s.handledEvents.wasHandled('@a:x', '$1'), false);
      await s.handledEvents.markHandled('@a:x', '$1');
      await s.handledEvents.markHandled('@a:x', '$1');
      assert.equal(await s.handledEvents.wasHandled('@a:x', '$1'), true);
      assert.equal(await s.handledEvents.wasHandled('@b:x', '$1'), false);
      assert.equal(await s.handledEvents.wasHandled('@a:x', '$2'), false);
    });
  });
});

describe('log records', () => {
  const T = 1_700_000_000_000;

  async function seed(s: Storage) {
    const rows = [
      { level: 'info', message: 'started', instanceId: null },
      { level: 'warn', message: 'slow sync 100% cpu', instanceId: 'ping-1' },
      { level: 'error', message: 'handler threw', instanceId: 'ping-1' },
      { level: 'error', message: 'handler_threw elsewhere', instanceId: 'echo-1' },
      { level: 'critical', message: 'database gone', instanceId: null },
      { level: 'warn', message: 'slow sync 100x cpu', instanceId: 'echo-1' },
    ];
    const ids: number[] = [];
    for (const [i, r] of rows.entries()) {
      ids.push(await s.logs.append({ time: T + i, clientId: null, context: i === 2 ? { err: { message: 'boom' } } : null, ...r }));
    }
    return ids;
  }

  test('query returns newest first and round-trips the fields', async () => {
    await withMemory(async (s) => {
      const ids = await seed(s);
      const all = await s.logs.query({});
      assert.deepEqual(
        all.map((r) => r.id),
        [...ids].reverse(),
      );
      const threw = all.find((r) => r.message === 'handler threw');
      assert.deepEqual(threw, { id: ids[2], time: T + 2, level: 'error', message: 'handler threw', instanceId: 'ping-1', clientId: null, context: { err: { message: 'boom' } } });
    });
  });

  test('filter by levels, instance and search', async () => {
    await withMemory(async (s) => {
      await seed(s);
      assert.deepEqual(
        (await s.logs.query({ levels: ['error', 'critical'] })).map((r) => r.message),
        ['database gone', 'handler_threw elsewhere', 'handler threw'],
      );
      assert.deepEqual(
        (await s.logs.query({ instanceId: 'ping-1' })).map((r) => r.message),
        ['handler threw', 'slow sync 100% cpu'],
      );
      assert.deepEqual(
        (await s.logs.query({ instanceId: 'ping-1', levels: ['warn'] })).map((r) => r.message),
        ['slow sync 100% cpu'],
      );
      assert.deepEqual(
        (await s.logs.query({ search: 'SLOW' })).map((r) => r.message),
        ['slow sync 100x cpu', 'slow sync 100% cpu'],
        'search is case-insensitive for ASCII',
      );
    });
  });

  test('% and _ in a search are literal', async () => {
    await withMemory(async (s) => {
      await seed(s);
      assert.deepEqual(
        (await s.logs.query({ search: '100%' })).map((r) => r.message),
        ['slow sync 100% cpu'],
      );
      assert.deepEqual(
        (await s.logs.query({ search: 'handler_' })).map((r) => r.message),
        ['handler_threw elsewhere'],
      );
      assert.deepEqual(await s.logs.query({ search: '%' + '\\' }), []);
    });
  });

  test('paging backwards with before and limit', async () => {
    await withMemory(async (s) => {
      const ids = await seed(s);
      const page1 = await s.logs.query({ limit: 2 });
      assert.deepEqual(
        page1.map((r) => r.id),
        [ids[5], ids[4]],
      );
      const page2 = await s.logs.query({ limit: 2, before: page1[1].id });
      assert.deepEqual(
        page2.map((r) => r.id),
        [ids[3], ids[2]],
      );
      const page3 = await s.logs.query({ limit: 2, before: page2[1].id });
      assert.deepEqual(
        page3.map((r) => r.id),
        [ids[1], ids[0]],
      );
      assert.deepEqual(await s.logs.query({ limit: 2, before: page3[1].id }), []);
    });
  });

  test('the table is bounded: old records are trimmed, recent ones kept', async () => {
    await withMemory(async (s) => {
      let last = 0;
      for (let i = 0; i < 250; i++) last = await s.logs.append({ time: T + i, level: 'info', message: `m${i}`, instanceId: null, clientId: null, context: null });
      const count = await sql<{ n: number }>`select count(*) as n from log_records`.execute(s.db);
      // Trimming runs every 100 inserts, so at most keep + 99 rows survive between trims.
      assert.ok(Number(count.rows[0].n) <= 10 + 99, `kept ${count.rows[0].n} rows`);
      const rows = await s.logs.query({ limit: 1000 });
      assert.equal(rows[0].id, last);
      assert.equal(rows[0].message, 'm249');
      assert.ok(!rows.some((r) => r.message === 'm0'), 'the oldest records are gone');
      assert.ok(rows.length >= 10, 'at least keep rows remain');
      assert.deepEqual(
        rows.slice(0, 10).map((r) => r.message),
        Array.from({ length: 10 }, (_, i) => `m${249 - i}`),
      );
    }, 10);
  });
});

describe('revoked tokens', () => {
  test('are kept until their token expires, then pruned', async () => {
    await withMemory(async (s) => {
      await s.revokedTokens.add('jti-a', 1000);
      await s.revokedTokens.add('jti-b', 2000);
      await s.revokedTokens.add('jti-a', 1000); // logging out twice is harmless
      assert.deepEqual(await s.revokedTokens.active(999), [
        { jti: 'jti-a', expiresAt: 1000 },
        { jti: 'jti-b', expiresAt: 2000 },
      ]);
      assert.deepEqual(await s.revokedTokens.active(1000), [{ jti: 'jti-b', expiresAt: 2000 }]);
      const rows = await sql<{ n: number }>`select count(*) as n from revoked_tokens`.execute(s.db);
      assert.equal(Number(rows.rows[0].n), 1, 'the expired one was deleted');
    });
  });
});
