import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KV_COLUMNS, parseKvQuery, runKvQuery, KvQueryError, type KvRow } from '../../src/api/kv-query.ts';
import { proxyAllowed } from '../../src/api/routes/proxy.ts';
import { fingerprint, schemaDefaults, withDefaults } from '../../src/api/serialize.ts';
import { defaultRooms } from '../../src/core/management.ts';

const rows: KvRow[] = [
  { key: 'b', value: '2', updated_at: 20 },
  { key: 'a', value: '"x"', updated_at: 30 },
  { key: "it's", value: 'null', updated_at: 10 },
];

describe('the read-only kv view (POST /instance/{id}/database/query)', () => {
  test("runs the SELECTs maubot's web app sends", () => {
    assert.deepEqual(
      runKvQuery(parseKvQuery('SELECT * FROM "kv" LIMIT 100'), rows),
      rows.map((r) => KV_COLUMNS.map((c) => r[c])),
    );
    assert.deepEqual(runKvQuery(parseKvQuery('SELECT * FROM "kv" ORDER BY "updated_at" DESC LIMIT 2'), rows), [
      ['a', '"x"', 30],
      ['b', '2', 20],
    ]);
    assert.deepEqual(runKvQuery(parseKvQuery("select key from kv where key = 'it''s';"), rows), [["it's"]]);
    assert.deepEqual(runKvQuery(parseKvQuery("SELECT key, updated_at FROM kv WHERE key LIKE 'a%' AND updated_at != 1"), rows), [['a', 30]]);
    assert.equal(parseKvQuery('SELECT * FROM kv LIMIT 999999').limit, 1000);
  });

  test('refuses every write as read-only, and names what it does not understand', () => {
    for (const sql of ['DELETE FROM "kv" WHERE key=\'a\'', 'INSERT INTO kv VALUES (1)', 'UPDATE kv SET value = 1', 'DROP TABLE kv', ' pragma x']) {
      assert.throws(
        () => parseKvQuery(sql),
        (err: unknown) => err instanceof KvQueryError && err.readOnly && /read-only/.test(err.message),
        sql,
      );
    }
    for (const sql of ['SELECT * FROM other', 'SELECT nope FROM kv', 'SELECT * FROM kv; DELETE FROM kv', 'SELECT * FROM kv WHERE key > 1', 'SELECT * FROM kv JOIN x']) {
      assert.throws(
        () => parseKvQuery(sql),
        (err: unknown) => err instanceof KvQueryError && !err.readOnly,
        sql,
      );
    }
  });
});

describe('the media proxy', () => {
  test("passes on only what maubot's web app needs", () => {
    assert.ok(proxyAllowed('GET', '_matrix/client/v1/media/download/example.org/abc'));
    assert.ok(proxyAllowed('GET', '_matrix/media/v3/thumbnail/example.org/abc'));
    assert.ok(proxyAllowed('GET', '_matrix/media/r0/download/example.org/abc/name.png'));
    assert.ok(proxyAllowed('POST', '_matrix/media/v3/upload'));
    assert.ok(!proxyAllowed('GET', '_matrix/client/v3/sync'));
    assert.ok(!proxyAllowed('POST', '_matrix/client/v3/rooms/x/send/m.room.message/1'));
    assert.ok(!proxyAllowed('PUT', '_matrix/media/v3/upload'));
    assert.ok(!proxyAllowed('GET', '_matrix/media/v3/download/../../client/v3/sync'));
    assert.ok(!proxyAllowed('GET', '_matrix/media/v9/download/a/b'));
  });
});

describe('maubot shapes', () => {
  test('base_config: the defaults of the config schema, nested ones too; null without properties', () => {
    assert.deepEqual(
      schemaDefaults({
        type: 'object',
        properties: { a: { type: 'string', default: 'x' }, b: { type: 'number' }, c: { type: 'object', properties: { d: { default: [1] } } }, e: { type: 'object', properties: {} } },
      }),
      { a: 'x', c: { d: [1] } },
    );
    assert.equal(schemaDefaults({ type: 'object' }), null);
  });

  test("config: the stored config with the defaults filled in, as maubot's after start (its web app's editor shows them)", () => {
    const defaults = { greeting: 'hi', nested: { port: 1, host: 'x' }, list: [1] };
    assert.deepEqual(withDefaults(defaults, {}), defaults, 'a new instance shows every option');
    assert.deepEqual(withDefaults(defaults, { greeting: 'hey', nested: { port: 2 }, list: [], extra: true }), { greeting: 'hey', nested: { port: 2, host: 'x' }, list: [], extra: true });
    assert.deepEqual(withDefaults(defaults, { nested: null }), { greeting: 'hi', nested: null, list: [1] }, 'a value given is kept, even null');
    const copy = withDefaults(defaults, {});
    (copy.list as number[]).push(2);
    assert.deepEqual(defaults.list, [1], 'the defaults are not shared');
  });

  test('fingerprint: the ed25519 key in groups of 4', () => {
    assert.equal(fingerprint('abcdEFGH1234xy'), 'abcd EFGH 1234 xy');
  });

  test('instances_default_rooms', () => {
    assert.deepEqual(defaultRooms('all'), ['*']);
    assert.deepEqual(defaultRooms('none'), []);
  });
});
