/**
 * `trellis import-maubot` without a homeserver: reading maubot's config and
 * database, the checks on its schema, the plan (mapping, renames, skips) and
 * the refusals. The database is test/fixtures/maubot/maubot.db, written by
 * the real maubot 0.6.0 daemon (test/fixtures/maubot/generate.ts; only the
 * access tokens were replaced by placeholders). The PostgreSQL reader runs
 * against a real PostgreSQL (test/harness/postgres.ts) holding the same rows
 * in maubot's schema. The whole import against a real maubot (on SQLite and
 * on PostgreSQL) and Synapse is test/integration/import-maubot.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { writeInitialConfig } from '../../src/config/init.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openStorage } from '../../src/storage/database.ts';
import { createConfigValidator, parseManifest } from '../../src/plugin-package/manifest.ts';
import { databaseUrlPasswords, MaubotImportError, readMaubotConfig, readMaubotPostgres, readMaubotSqlite, safeDatabaseUrl } from '../../src/migrate/maubot-source.ts';
import { importMaubot, parseInstanceConfig, PLUGIN_EQUIVALENTS, planImport, trellisInstanceId, type TrellisState } from '../../src/migrate/maubot.ts';
import { freePort } from '../harness/daemon.ts';
import { startPostgres, type TestPostgres } from '../harness/postgres.ts';

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/maubot');
const REPO = resolve(FIXTURE, '../../..');

let root: string;
let counter = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'trellis-import-maubot-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function freshDir(): string {
  const dir = join(root, `case-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A copy of the fixture (config + database) that a test may change. */
function fixtureCopy(): { dir: string; config: string; db: string } {
  const dir = freshDir();
  copyFileSync(join(FIXTURE, 'config.yaml'), join(dir, 'config.yaml'));
  copyFileSync(join(FIXTURE, 'maubot.db'), join(dir, 'maubot.db'));
  return { dir, config: join(dir, 'config.yaml'), db: join(dir, 'maubot.db') };
}

function maubotConfig(dir: string, database: string): string {
  const path = join(dir, 'config.yaml');
  writeFileSync(path, stringify({ database, server: { hostname: '127.0.0.1', port: 29316 } }));
  return path;
}

const pingManifest = parseManifest(readFileSync(join(REPO, 'plugins/ping/plugin.yaml'), 'utf8'));
const pingPlugin = { id: 'org.trellis.ping', validateConfig: createConfigValidator(pingManifest.configSchema) };

function state(partial: Partial<TrellisState> = {}): TrellisState {
  return {
    clients: new Set(),
    instances: new Set(),
    declaredClients: new Set(),
    declaredInstances: new Set(),
    plugin: (id) => (id === 'org.trellis.ping' ? pingPlugin : undefined),
    ...partial,
  };
}

/** Damaged or foreign databases each reader refuses: [what, SQL that damages a good copy, the message]. */
const SCHEMA_REFUSALS: Array<[string, string, RegExp]> = [
  ['a newer schema', 'UPDATE version SET version = 3', /schema version 3, newer than maubot 0\.6's \(2\).*upgrade Trellis/],
  ['no schema version', 'DROP TABLE version', /no maubot schema version .*start maubot 0\.6 on it once/],
  ['an alembic (maubot 0.2) database', 'CREATE TABLE alembic_version (version_num TEXT)', /maubot 0\.2 or older .*start maubot 0\.6 on it once/],
  ["another program's database", "UPDATE database_owner SET owner = 'mautrix-telegram'", /belongs to mautrix-telegram, not maubot/],
  ['missing tables', 'DROP TABLE instance', /not maubot's database, or maubot never started on it/],
];

describe("maubot's config", () => {
  test('sqlite:maubot.db is found next to the config (maubot resolves it against its working directory)', () => {
    const info = readMaubotConfig(join(FIXTURE, 'config.yaml'), '/');
    assert.deepEqual(info.database, { kind: 'sqlite', url: 'sqlite:maubot.db', path: join(FIXTURE, 'maubot.db'), tried: [join(FIXTURE, 'maubot.db'), '/maubot.db'] });
    assert.deepEqual(info.server, { host: '127.0.0.1', port: 29316 });
  });

  test('a relative path not next to the config is looked up in the current directory', () => {
    const configDir = freshDir();
    const workDir = freshDir();
    copyFileSync(join(FIXTURE, 'maubot.db'), join(workDir, 'bots.db'));
    const info = readMaubotConfig(maubotConfig(configDir, 'sqlite:bots.db'), workDir);
    assert.equal(info.database.kind === 'sqlite' && info.database.path, join(workDir, 'bots.db'));
  });

  test('absolute paths, sqlite:/// and sqlite3: forms, and PostgreSQL URLs', () => {
    const dir = freshDir();
    const pick = (database: string) => readMaubotConfig(maubotConfig(dir, database), dir).database;
    assert.equal((pick('sqlite:/var/lib/maubot/maubot.db') as { path: string }).path, '/var/lib/maubot/maubot.db');
    assert.equal((pick('sqlite:///maubot.db') as { path: string }).path, join(dir, 'maubot.db'));
    assert.equal((pick('sqlite3:data/maubot.db?timeout=5') as { path: string }).path, join(dir, 'data/maubot.db'));
    assert.deepEqual(pick('postgresql://maubot:secret@db.example/maubot'), { kind: 'postgres', url: 'postgresql://maubot:secret@db.example/maubot' });
    assert.equal(pick('postgres://u:p@h/d').kind, 'postgres');
    assert.equal(safeDatabaseUrl('postgresql://maubot:secret@db.example/maubot'), 'postgresql://maubot:***@db.example/maubot');
    assert.equal(safeDatabaseUrl('postgresql://maubot@db.example/maubot?sslmode=require&password=s3cr%40t'), 'postgresql://maubot@db.example/maubot?sslmode=require&password=***');
    assert.equal(safeDatabaseUrl('postgresql://maubot:p%40ss@[bad/maubot'), 'postgresql://maubot:***@[bad/maubot');
    assert.deepEqual(databaseUrlPasswords('postgresql://maubot:p%40ss@db/maubot?password=other'), ['p%40ss', 'other', 'p@ss']);
    assert.deepEqual(databaseUrlPasswords('postgresql://maubot@db/maubot'), []);
  });

  test('clear errors: missing file, not YAML, not a mapping, no database line, unknown scheme', () => {
    const dir = freshDir();
    assert.throws(
      () => readMaubotConfig(join(dir, 'nope.yaml')),
      (err: Error) => err instanceof MaubotImportError && /not found; pass the file maubot runs with/.test(err.message),
    );
    writeFileSync(join(dir, 'bad.yaml'), 'database: [unclosed\n');
    assert.throws(() => readMaubotConfig(join(dir, 'bad.yaml')), /cannot read maubot config .*bad\.yaml/);
    writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n');
    assert.throws(() => readMaubotConfig(join(dir, 'list.yaml')), /is not a YAML mapping/);
    writeFileSync(join(dir, 'empty.yaml'), 'server: {port: 1}\n');
    assert.throws(() => readMaubotConfig(join(dir, 'empty.yaml')), /has no "database:" line/);
    assert.throws(() => readMaubotConfig(maubotConfig(dir, 'mysql://x/y')), /neither sqlite: nor postgres:\/\//);
  });
});

describe("maubot's database (written by the real maubot 0.6.0)", () => {
  test('reads the clients and instances with their settings', () => {
    const data = readMaubotSqlite(join(FIXTURE, 'maubot.db'));
    assert.equal(data.schemaVersion, 2);
    assert.deepEqual(
      data.clients.map((c) => [c.id, c.homeserver, c.accessToken, c.enabled, c.sync, c.autojoin, c.displayName, c.avatarUrl]),
      [
        ['@echobot:localhost', 'http://127.0.0.1:8008', 'syt_fixture_token_echobot', true, true, true, 'Echo Bot', null],
        ['@greeterbot:localhost', 'http://127.0.0.1:8008', 'syt_fixture_token_greeterbot', false, true, false, null, null],
      ],
    );
    assert.ok(
      data.clients.every((c) => /^[A-Z]{10}$/.test(c.deviceId)),
      'device ids as Synapse made them',
    );
    assert.deepEqual(
      data.instances.map((i) => [i.id, i.type, i.enabled, i.primaryUser]),
      [
        ['echo', 'xyz.maubot.echo', true, '@echobot:localhost'],
        ['echo two', 'xyz.maubot.echo', true, '@echobot:localhost'],
        ['echo-off', 'xyz.maubot.echo', false, '@echobot:localhost'],
        ['greeter', 'org.example.greeter', true, '@greeterbot:localhost'],
      ],
    );
    assert.equal(data.instances[0]!.config, '', 'echo has no config');
    assert.deepEqual(parse(data.instances[3]!.config), { greeting: 'Hi there' }, 'maubot merged the base config with what the operator set');
  });

  test('accepts schema version 1 (maubot 0.3), which lacks only a column the import does not read', () => {
    const { db } = fixtureCopy();
    const sql = new DatabaseSync(db);
    sql.exec('UPDATE version SET version = 1');
    sql.close();
    assert.equal(readMaubotSqlite(db).schemaVersion, 1);
  });

  for (const [what, sql, message] of SCHEMA_REFUSALS) {
    test(`refuses ${what} and says what to do`, () => {
      const { db } = fixtureCopy();
      const conn = new DatabaseSync(db);
      conn.exec(sql);
      conn.close();
      assert.throws(
        () => readMaubotSqlite(db),
        (err: Error) => err instanceof MaubotImportError && message.test(err.message),
      );
    });
  }

  test('a file that is not SQLite, and a missing file', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'maubot.db'), 'this is not a database, just some text that is long enough to have a header'.repeat(10));
    assert.throws(() => readMaubotSqlite(join(dir, 'maubot.db')), /cannot read maubot database .*not a database/);
    assert.throws(() => readMaubotSqlite(join(dir, 'other.db')), /not found/);
  });
});

describe('the plan', () => {
  const data = readMaubotSqlite(join(FIXTURE, 'maubot.db'));

  test('echo becomes org.trellis.ping in every room; a plugin without an equivalent is reported, not created', () => {
    const plan = planImport(data, state());
    assert.deepEqual(
      plan.clients.map((c) => c.action),
      ['create', 'create'],
    );
    const byMaubotId = Object.fromEntries(plan.instances.map((p) => [p.action === 'create' ? p.maubot.id : p.maubotId, p]));
    const echo = byMaubotId.echo!;
    assert.equal(echo.action, 'create');
    assert.ok(echo.action === 'create');
    assert.equal(echo.id, 'echo');
    assert.equal(echo.plugin, 'org.trellis.ping');
    assert.deepEqual(echo.config, {});
    const renamed = byMaubotId['echo two']!;
    assert.ok(renamed.action === 'create');
    assert.equal(renamed.id, 'echo-two');
    assert.match(renamed.notes.join(), /renamed from "echo two"/);
    const off = byMaubotId['echo-off']!;
    assert.ok(off.action === 'create' && off.maubot.enabled === false);
    const greeter = byMaubotId.greeter!;
    assert.equal(greeter.action, 'unmapped');
    assert.ok(greeter.action === 'unmapped');
    assert.match(greeter.reason, /org\.example\.greeter has no Trellis equivalent .*upload a Trellis plugin with the id org\.example\.greeter/);
  });

  test('what exists in Trellis or is declared in its config file is skipped, and says why', () => {
    const plan = planImport(
      data,
      state({ clients: new Set(['@echobot:localhost']), declaredClients: new Set(['@greeterbot:localhost']), instances: new Set(['echo']), declaredInstances: new Set(['echo-off']) }),
    );
    assert.deepEqual(
      plan.clients.map((c) => (c.action === 'skip' ? c.reason : c.action)),
      ['already a Trellis bot account', 'declared in the Trellis config file (clients:)'],
    );
    const reasons = plan.instances.map((p) => (p.action === 'skip' ? `${p.id}: ${p.reason}` : p.action));
    assert.deepEqual(reasons, ['echo: already a Trellis instance', 'create', 'echo-off: declared in the Trellis config file (instances:)', 'unmapped']);
  });

  test('a Trellis plugin installed under the maubot id gets the instance with its converted config, validated', () => {
    const greeterSchema = { type: 'object', additionalProperties: false, required: ['greeting'], properties: { greeting: { type: 'string' } } };
    const greeter = { id: 'org.example.greeter', validateConfig: createConfigValidator(greeterSchema) };
    const plan = planImport(data, state({ plugin: (id) => (id === 'org.example.greeter' ? greeter : id === 'org.trellis.ping' ? pingPlugin : undefined) }));
    const created = plan.instances.find((p) => p.action === 'create' && p.maubot.id === 'greeter');
    assert.ok(created && created.action === 'create');
    assert.equal(created.plugin, 'org.example.greeter');
    assert.deepEqual(created.config, { greeting: 'Hi there' });

    const strict = { id: 'org.example.greeter', validateConfig: createConfigValidator({ ...greeterSchema, properties: { greeting: { type: 'integer' } } }) };
    const refused = planImport(data, state({ plugin: (id) => (id === 'org.example.greeter' ? strict : undefined) })).instances.find((p) => p.action === 'skip');
    assert.ok(refused && refused.action === 'skip');
    assert.match(refused.reason, /its config does not fit org\.example\.greeter: .*greeting/);
  });

  test('the equivalent not installed is reported as such', () => {
    const plan = planImport(data, state({ plugin: () => undefined }));
    const echo = plan.instances[0]!;
    assert.ok(echo.action === 'unmapped');
    assert.match(echo.reason, /its Trellis equivalent org\.trellis\.ping is not installed/);
  });

  test('instance ids and configs', () => {
    assert.equal(trellisInstanceId('echo'), 'echo');
    assert.equal(trellisInstanceId('My Bot!'), 'my-bot');
    assert.equal(trellisInstanceId('__x'), 'x');
    assert.equal(trellisInstanceId('!!!'), 'instance');
    assert.deepEqual(parseInstanceConfig(''), { ok: true, config: {} });
    assert.deepEqual(parseInstanceConfig('# only a comment\n'), { ok: true, config: {} });
    assert.deepEqual(parseInstanceConfig('a: 1\nb: [x]\n'), { ok: true, config: { a: 1, b: ['x'] } });
    assert.equal(parseInstanceConfig('- 1\n').ok, false);
    assert.equal(parseInstanceConfig('a: [\n').ok, false);
    const echo = PLUGIN_EQUIVALENTS.find((e) => e.maubot === 'xyz.maubot.echo')!;
    assert.deepEqual(echo.convertConfig({ stray: 1 }).config, {});
    assert.match(echo.convertConfig({ stray: 1 }).notes.join(), /stray/);
  });

  test('two maubot ids that read the same in Trellis get distinct ids', () => {
    const twin = { ...data, instances: [data.instances[0]!, { ...data.instances[0]!, id: 'echo ' }].map((i) => ({ ...i })) };
    const ids = planImport(twin, state()).instances.map((p) => (p.action === 'create' ? p.id : p.action));
    assert.deepEqual(ids, ['echo', 'echo-2']);
  });
});

describe('trellis import-maubot, refusing and reporting without a homeserver', () => {
  async function trellisConfig(dir: string, port?: number): Promise<string> {
    const path = join(dir, 'trellis.yaml');
    await writeInitialConfig({ path, adminUser: 'admin', adminPassword: 'a long admin password', port: port ?? (await freePort()) });
    return path;
  }

  test('refuses to write while Trellis runs on its configured port', async () => {
    const dir = freshDir();
    const port = await freePort();
    const server: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      await assert.rejects(importMaubot({ maubotConfig: join(FIXTURE, 'config.yaml'), trellisConfig: await trellisConfig(dir, port), out: () => undefined }), /Trellis is running .*stop it first/);
    } finally {
      server.close();
    }
  });

  test('a missing Trellis config or maubot database stops it before anything is written', async () => {
    const dir = freshDir();
    await assert.rejects(importMaubot({ maubotConfig: join(FIXTURE, 'config.yaml'), trellisConfig: join(dir, 'nope.yaml'), out: () => undefined }), MaubotImportError);
    const config = await trellisConfig(dir);
    await assert.rejects(
      importMaubot({ maubotConfig: maubotConfig(freshDir(), 'sqlite:gone.db'), trellisConfig: config, out: () => undefined }),
      /maubot database not found: .* says database: sqlite:gone\.db, and there is no such file at .*run this command from there/,
    );
    const deadPort = await freePort();
    await assert.rejects(
      importMaubot({ maubotConfig: maubotConfig(freshDir(), `postgresql://maubot:hunter22@127.0.0.1:${deadPort}/maubot`), trellisConfig: config, out: () => undefined }),
      (err: Error) => {
        assert.ok(err instanceof MaubotImportError);
        assert.match(err.message, new RegExp(`cannot connect to maubot's PostgreSQL \\(127\\.0\\.0\\.1:${deadPort}, database "maubot", user "maubot"\\): connection refused`));
        assert.doesNotMatch(err.message, /hunter22/);
        return true;
      },
    );
    const loaded = await loadConfig(config);
    assert.equal(existsSync(loaded.config.database.path), false, 'Trellis was not touched');
  });

  test('an unreachable homeserver fails each account with the reason, never printing a token; a re-run is safe', async () => {
    const { dir, config: maubotConfigPath, db } = fixtureCopy();
    const deadPort = await freePort();
    const conn = new DatabaseSync(db);
    conn.exec(`UPDATE client SET homeserver = 'http://127.0.0.1:${deadPort}'`);
    conn.close();
    const trellis = await trellisConfig(dir);
    for (const dryRun of [true, false]) {
      const lines: string[] = [];
      const result = await importMaubot({ maubotConfig: maubotConfigPath, trellisConfig: trellis, dryRun, out: (l) => lines.push(l) });
      const text = lines.join('\n');
      assert.equal(result.ok, false, text);
      assert.deepEqual(result.clients, { created: 0, skipped: 0, failed: 2 }, text);
      assert.deepEqual(result.instances, { created: 0, skipped: 0, notImported: 1, failed: 3 }, text);
      assert.match(text, /FAILED {8}@echobot:localhost: .*127\.0\.0\.1/);
      assert.match(text, /FAILED {8}echo: its bot account @echobot:localhost is not in Trellis/);
      assert.match(text, /not imported {2}greeter: maubot plugin org\.example\.greeter has no Trellis equivalent/);
      assert.doesNotMatch(text, /syt_fixture_token/);
      if (dryRun) assert.match(text, /^Dry run \(nothing is changed\)/);
    }
  });
});

describe('trellis import-maubot against a loopback homeserver that knows the fixture tokens', () => {
  /** Just what the import asks a homeserver: versions, whoami (by token), setting a display name. */
  async function fakeHomeserver(devices: Record<string, string>): Promise<{ url: string; displayNames: string[]; close(): void }> {
    const displayNames: string[] = [];
    const server = createServer((req, res) => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const user = token.startsWith('syt_fixture_token_') ? `@${token.slice('syt_fixture_token_'.length)}:localhost` : '';
      const url = req.url ?? '';
      if (url === '/_matrix/client/versions') return json(200, { versions: ['v1.11'] });
      if (url === '/_matrix/client/v3/account/whoami')
        return user in devices ? json(200, { user_id: user, device_id: devices[user] }) : json(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown token' });
      if (req.method === 'PUT' && url.endsWith('/displayname')) {
        let body = '';
        req.on('data', (d: Buffer) => (body += d));
        req.on('end', () => {
          displayNames.push(`${decodeURIComponent(url.split('/')[5] ?? '')}=${(JSON.parse(body) as { displayname: string }).displayname}`);
          json(200, {});
        });
        return;
      }
      json(404, { errcode: 'M_UNRECOGNIZED', error: 'not in this fake' });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, displayNames, close: () => server.close() };
  }

  test('creates the accounts and the mapped instances as maubot had them; a second run skips them all', async () => {
    const { dir, config: maubotConfigPath, db } = fixtureCopy();
    const devices = Object.fromEntries(readMaubotSqlite(db).clients.map((c) => [c.id, c.deviceId]));
    const hs = await fakeHomeserver(devices);
    try {
      const conn = new DatabaseSync(db);
      conn.prepare('UPDATE client SET homeserver = ?').run(hs.url);
      conn.close();
      const trellisPath = join(dir, 'trellis.yaml');
      await writeInitialConfig({ path: trellisPath, adminUser: 'admin', adminPassword: 'a long admin password', port: await freePort(), homeserverUrl: hs.url });
      const lines: string[] = [];
      const first = await importMaubot({ maubotConfig: maubotConfigPath, trellisConfig: trellisPath, out: (l) => lines.push(l) });
      const text = lines.join('\n');
      assert.equal(first.ok, true, text);
      assert.deepEqual(first.clients, { created: 2, skipped: 0, failed: 0 }, text);
      assert.deepEqual(first.instances, { created: 3, skipped: 0, notImported: 1, failed: 0 }, text);
      assert.doesNotMatch(text, /syt_fixture_token/);
      assert.match(text, /Next: make sure maubot stays stopped/);
      assert.deepEqual(hs.displayNames, ['@echobot:localhost=Echo Bot'], 'only the managed display name is set; maubot\'s "disable" leaves the profile alone');

      const loaded = await loadConfig(trellisPath);
      const storage = await openStorage({ type: 'sqlite', path: loaded.config.database.path });
      try {
        const clients = await storage.clients.list();
        assert.deepEqual(clients.map((c) => [c.id, c.homeserver, c.homeserverUrl, c.deviceId, c.displayName, c.enabled, c.autojoin, c.autojoinAllow, c.encryption, c.managedBy]).sort(), [
          ['@echobot:localhost', 'main', hs.url, devices['@echobot:localhost'], 'Echo Bot', true, true, [], false, 'api'],
          ['@greeterbot:localhost', 'main', hs.url, devices['@greeterbot:localhost'], null, false, false, [], false, 'api'],
        ]);
        const instances = await storage.instances.list();
        assert.deepEqual(instances.map((i) => [i.id, i.pluginId, i.clientId, i.enabled, i.rooms, i.config, i.managedBy]).sort(), [
          ['echo', 'org.trellis.ping', '@echobot:localhost', true, ['*'], {}, 'api'],
          ['echo-off', 'org.trellis.ping', '@echobot:localhost', false, ['*'], {}, 'api'],
          ['echo-two', 'org.trellis.ping', '@echobot:localhost', true, ['*'], {}, 'api'],
        ]);
      } finally {
        await storage.close();
      }

      const again: string[] = [];
      const second = await importMaubot({ maubotConfig: maubotConfigPath, trellisConfig: trellisPath, out: (l) => again.push(l) });
      assert.deepEqual(
        [second.clients, second.instances],
        [
          { created: 0, skipped: 2, failed: 0 },
          { created: 0, skipped: 3, notImported: 1, failed: 0 },
        ],
        again.join('\n'),
      );
    } finally {
      hs.close();
    }
  });
});

describe("maubot's database on PostgreSQL (a real server)", () => {
  const PASSWORD = 'pg-secret-Zq7w';
  let pg: TestPostgres;
  let url: string;
  let copies = 0;
  const sqlite = readMaubotSqlite(join(FIXTURE, 'maubot.db'));

  /** maubot 0.6's tables as mautrix creates them on PostgreSQL, with the fixture's rows. */
  async function loadFixture(database: string): Promise<void> {
    const text = (v: unknown) => (v === null || v === undefined ? 'NULL' : `'${String(v).replaceAll("'", "''")}'`);
    const fixture = new DatabaseSync(join(FIXTURE, 'maubot.db'), { readOnly: true });
    const clients = fixture.prepare('SELECT * FROM client').all();
    const instances = fixture.prepare('SELECT * FROM instance').all();
    fixture.close();
    await pg.sql(
      database,
      `SET ROLE maubot;
      CREATE TABLE database_owner (key INTEGER PRIMARY KEY DEFAULT 0, owner TEXT NOT NULL); INSERT INTO database_owner (owner) VALUES ('maubot');
      CREATE TABLE version (version INTEGER PRIMARY KEY); INSERT INTO version VALUES (2);
      CREATE TABLE client (id TEXT PRIMARY KEY, homeserver TEXT NOT NULL, access_token TEXT NOT NULL, device_id TEXT NOT NULL, enabled BOOLEAN NOT NULL,
        next_batch TEXT NOT NULL, filter_id TEXT NOT NULL, sync BOOLEAN NOT NULL, autojoin BOOLEAN NOT NULL, online BOOLEAN NOT NULL, displayname TEXT NOT NULL, avatar_url TEXT NOT NULL);
      CREATE TABLE instance (id TEXT PRIMARY KEY, type TEXT NOT NULL, enabled BOOLEAN NOT NULL, primary_user TEXT NOT NULL, config TEXT NOT NULL, database_engine TEXT,
        FOREIGN KEY (primary_user) REFERENCES client(id) ON DELETE RESTRICT ON UPDATE CASCADE);
      ${clients
        .map(
          (c) =>
            `INSERT INTO client VALUES (${[c.id, c.homeserver, c.access_token, c.device_id].map(text).join(', ')}, ${Boolean(c.enabled)}, ${text(c.next_batch)}, ${text(c.filter_id)}, ` +
            `${Boolean(c.sync)}, ${Boolean(c.autojoin)}, ${Boolean(c.online)}, ${text(c.displayname)}, ${text(c.avatar_url)});`,
        )
        .join('\n')}
      ${instances.map((i) => `INSERT INTO instance VALUES (${text(i.id)}, ${text(i.type)}, ${Boolean(i.enabled)}, ${text(i.primary_user)}, ${text(i.config)}, ${text(i.database_engine)});`).join('\n')}`,
    );
  }

  /** A database of its own (a copy of the loaded one) that a test may change. */
  async function copy(): Promise<{ name: string; url: string }> {
    const name = `maubot_copy_${++copies}`;
    await pg.sql('postgres', `CREATE DATABASE ${name} TEMPLATE maubot OWNER maubot`);
    return { name, url: pg.url(name, 'maubot', PASSWORD) };
  }

  before(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase('maubot', 'maubot', PASSWORD);
    await loadFixture('maubot');
  });
  after(() => pg?.stop());

  /** The error is a MaubotImportError matching `message`, and no password is in it. */
  const refusal = (message: RegExp) => (err: Error) => {
    assert.ok(err instanceof MaubotImportError, String(err));
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, new RegExp(`${PASSWORD}|${pg.superuserPassword}|wrong-pass-Zq7w`));
    return true;
  };

  test('reads the same clients and instances as from SQLite (booleans as booleans), in the URL forms maubot takes', async () => {
    // No sslmode is asyncpg's prefer: this server has no SSL, so plain TCP (as for prefer and allow).
    for (const form of [url, url.replace(/^postgresql:/, 'postgres:'), `${url}?sslmode=disable`, `${url}?sslmode=prefer&application_name=maubot`, `${url}?sslmode=allow`]) {
      const data = await readMaubotPostgres(form);
      assert.deepEqual({ ...data, source: '' }, { ...sqlite, source: '' }, form);
      assert.equal(data.source, safeDatabaseUrl(form));
      assert.doesNotMatch(data.source, new RegExp(PASSWORD));
    }
  });

  const refusals: Array<[string, string, RegExp]> = [
    ...SCHEMA_REFUSALS,
    ['a missing column', 'ALTER TABLE client DROP COLUMN autojoin', /schema version 2\) does not have the expected columns: column "autojoin" does not exist/],
  ];
  for (const [what, sql, message] of refusals) {
    test(`refuses ${what} and says what to do`, async () => {
      const db = await copy();
      await pg.sql(db.name, `SET ROLE maubot; ${sql}`);
      await assert.rejects(readMaubotPostgres(db.url), refusal(message));
    });
  }

  test('an empty database, a missing one, a wrong password, no password, a refused connection, a bad URL: each says what to do', async () => {
    await pg.sql('postgres', 'CREATE DATABASE empty OWNER maubot');
    await assert.rejects(readMaubotPostgres(pg.url('empty', 'maubot', PASSWORD)), refusal(/postgresql:\/\/maubot:\*\*\*@127\.0\.0\.1:\d+\/empty has no maubot client and instance tables/));
    await assert.rejects(
      readMaubotPostgres(pg.url('nope', 'maubot', PASSWORD)),
      refusal(/\(127\.0\.0\.1:\d+, database "nope", user "maubot"\) has no such database \(database "nope" does not exist\); check the database: line/),
    );
    await assert.rejects(readMaubotPostgres(pg.url('maubot', 'maubot', 'wrong-pass-Zq7w')), refusal(/refused the password; use the user and password of maubot's database: line/));
    await assert.rejects(readMaubotPostgres(pg.url('maubot', 'nobody-here', 'wrong-pass-Zq7w')), refusal(/refused the password/));
    await assert.rejects(readMaubotPostgres(`postgresql://maubot@127.0.0.1:${pg.port}/maubot`), refusal(/asks for a password and the URL has none/));
    await assert.rejects(readMaubotPostgres(`postgresql://maubot@127.0.0.1:${pg.port}/maubot?password=wrong-pass-Zq7w`), refusal(/refused the password/));
    assert.equal((await readMaubotPostgres(`postgresql://maubot@127.0.0.1:${pg.port}/maubot?password=${PASSWORD}`)).source, `postgresql://maubot@127.0.0.1:${pg.port}/maubot?password=***`);
    const deadPort = await freePort();
    await assert.rejects(readMaubotPostgres(`postgresql://maubot:${PASSWORD}@127.0.0.1:${deadPort}/maubot`), refusal(/connection refused\. Is PostgreSQL running and listening there\?/));
    await assert.rejects(
      readMaubotPostgres(`postgresql://maubot:${PASSWORD}@127.0.0.1:99999/maubot`),
      refusal(/database URL postgresql:\/\/maubot:\*\*\*@127\.0\.0\.1:99999\/maubot is not a PostgreSQL URL/),
    );
    await assert.rejects(
      readMaubotPostgres(`postgresql://maubot:${PASSWORD}@127.0.0.1:${pg.port}/maubot?sslmode=require`),
      refusal(/over SSL\/TLS: The server does not support SSL connections\. Check the URL's sslmode/),
    );
  });

  test('trellis import-maubot with a wrong password stops before Trellis is touched, naming no password; with the right one it reads PostgreSQL', async () => {
    const dir = freshDir();
    const trellisPath = join(dir, 'trellis.yaml');
    await writeInitialConfig({ path: trellisPath, adminUser: 'admin', adminPassword: 'a long admin password', port: await freePort() });
    const trellisDb = (await loadConfig(trellisPath)).config.database.path;
    const lines: string[] = [];
    const wrong = maubotConfig(freshDir(), pg.url('maubot', 'maubot', 'wrong-pass-Zq7w'));
    await assert.rejects(importMaubot({ maubotConfig: wrong, trellisConfig: trellisPath, out: (l) => lines.push(l) }), refusal(/refused the password/));
    assert.equal(lines.length, 0, 'nothing reported as done');
    assert.equal(existsSync(trellisDb), false, 'Trellis was not touched');

    // A dry run against the right URL reads it (the fixture's homeserver is not there: the accounts fail, nothing is written).
    const right = maubotConfig(freshDir(), url);
    const result = await importMaubot({ maubotConfig: right, trellisConfig: trellisPath, dryRun: true, out: (l) => lines.push(l) });
    const text = lines.join('\n');
    assert.match(
      text,
      /^Dry run \(nothing is changed\): importing from maubot database postgresql:\/\/maubot:\*\*\*@127\.0\.0\.1:\d+\/maubot \(schema version 2\): 2 bot account\(s\), 4 instance\(s\)/,
    );
    assert.equal(result.instances.notImported, 1, text);
    assert.doesNotMatch(text, new RegExp(`${PASSWORD}|syt_fixture_token`));
    assert.equal(existsSync(trellisDb), false, 'a dry run creates no database');
  });
});

describe("maubot's database on a PostgreSQL that requires SSL", () => {
  const PASSWORD = 'pg-ssl-secret-Kx2';
  let pg: TestPostgres;
  let url: string;

  before(async () => {
    pg = await startPostgres({ ssl: true });
    url = await pg.createDatabase('maubot', 'maubot', PASSWORD);
    await pg.sql(
      'maubot',
      "SET ROLE maubot; CREATE TABLE version (version INTEGER PRIMARY KEY); INSERT INTO version VALUES (2); CREATE TABLE client (id TEXT PRIMARY KEY, homeserver TEXT NOT NULL, access_token TEXT NOT NULL, device_id TEXT NOT NULL, enabled BOOLEAN NOT NULL, sync BOOLEAN NOT NULL, autojoin BOOLEAN NOT NULL, online BOOLEAN NOT NULL, displayname TEXT NOT NULL, avatar_url TEXT NOT NULL); CREATE TABLE instance (id TEXT PRIMARY KEY, type TEXT NOT NULL, enabled BOOLEAN NOT NULL, primary_user TEXT NOT NULL, config TEXT NOT NULL); INSERT INTO client VALUES ('@bot:example.org', 'https://matrix.example.org', 'syt_x', 'DEV', true, true, false, true, 'Bot', 'disable');",
    );
  });
  after(() => pg?.stop());

  test('no sslmode (asyncpg: prefer), prefer, require and allow connect over SSL without checking the certificate, as maubot does', async () => {
    for (const form of [url, `${url}?sslmode=prefer`, `${url}?sslmode=require`, `${url}?sslmode=allow`]) {
      const data = await readMaubotPostgres(form);
      assert.deepEqual(
        data.clients.map((c) => [c.id, c.enabled, c.autojoin, c.displayName]),
        [['@bot:example.org', true, false, 'Bot']],
        form,
      );
    }
  });

  test('verify-full refuses the self-signed certificate, disable is refused by the server: both say what to do', async () => {
    const noSecret = (message: RegExp) => (err: Error) => {
      assert.ok(err instanceof MaubotImportError, String(err));
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, new RegExp(PASSWORD));
      return true;
    };
    await assert.rejects(readMaubotPostgres(`${url}?sslmode=verify-full`), noSecret(/over SSL\/TLS: self[- ]signed certificate.*Check the URL's sslmode/));
    await assert.rejects(readMaubotPostgres(`${url}?sslmode=disable`), noSecret(/refused the login: no pg_hba\.conf entry .*no encryption.*add \?sslmode=require/));
  });
});

test('the PostgreSQL client is loaded only when a maubot database is PostgreSQL, never on the daemon start path', () => {
  // Every module the CLI entry (which imports the import command) and the daemon pull in, recorded by a resolve hook.
  const probe = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
    await import(${JSON.stringify(join(REPO, 'src/migrate/maubot.ts'))});
    await import(${JSON.stringify(join(REPO, 'src/daemon.ts'))});
    console.log(JSON.stringify(seen));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: REPO, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as string[];
  assert.ok(
    seen.some((u) => u.endsWith('/src/migrate/maubot-source.ts')),
    'the probe saw the import code',
  );
  assert.deepEqual(
    seen.filter((u) => /\/node_modules\/(pg|pg-[a-z-]+)\//.test(u)),
    [],
  );
});

describe('a SQLite copy made by hand from a PostgreSQL maubot (the export older Trellis versions documented)', () => {
  test("booleans as text '0'/'1', as psql's CSV and sqlite3's .import leave them, are read like maubot's own", () => {
    const dir = freshDir();
    const db = new DatabaseSync(join(dir, 'maubot-export.db'));
    // The old recipe's statements; the rows as \copy … CSV and sqlite3's .import leave them (booleans as 0/1).
    db.exec(`CREATE TABLE version (version INTEGER PRIMARY KEY); INSERT INTO version VALUES (2);
      CREATE TABLE client (id TEXT PRIMARY KEY, homeserver TEXT, access_token TEXT, device_id TEXT, enabled BOOLEAN, sync BOOLEAN, autojoin BOOLEAN, online BOOLEAN, displayname TEXT, avatar_url TEXT);
      CREATE TABLE instance (id TEXT PRIMARY KEY, type TEXT, enabled BOOLEAN, primary_user TEXT, config TEXT);`);
    db.prepare('INSERT INTO client VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run('@bot:example.org', 'https://matrix.example.org', 'syt_x', 'DEV', '1', '1', '0', '1', 'Bot', 'disable');
    db.prepare('INSERT INTO instance VALUES (?, ?, ?, ?, ?)').run('echo', 'xyz.maubot.echo', '0', '@bot:example.org', '');
    db.close();
    const info = readMaubotConfig(maubotConfig(dir, `sqlite:${join(dir, 'maubot-export.db')}`));
    assert.ok(info.database.kind === 'sqlite');
    const data = readMaubotSqlite(info.database.path);
    assert.deepEqual(
      data.clients.map((c) => [c.id, c.enabled, c.autojoin, c.displayName, c.avatarUrl]),
      [['@bot:example.org', true, false, 'Bot', null]],
    );
    assert.deepEqual(
      data.instances.map((i) => [i.id, i.enabled]),
      [['echo', false]],
    );
  });
});
