/**
 * An instance's stored config meets a new plugin version: the plugin's
 * upgradeConfig hook runs, keys the schema no longer allows are dropped,
 * missing ones take their defaults, the result is stored (not for
 * file-managed instances), and only a config that cannot be made valid
 * fails, saying which key and what to do.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { upgradeConfig } from '../../src/core/config-upgrade.ts';
import type { Logger } from '../../src/core/logging.ts';
import { Metrics } from '../../src/core/metrics.ts';
import { PluginRegistry } from '../../src/core/plugin-registry.ts';
import { Supervisor } from '../../src/core/supervisor.ts';
import { createConfigValidator, type JsonSchemaObject } from '../../src/plugin-package/manifest.ts';
import type { ConfigUpgrade, PluginDefinition } from '../../src/sdk/index.ts';
import { openStorage, type Storage } from '../../src/storage/database.ts';
import type { InstanceRecord } from '../../src/storage/instances.ts';

/** Version 2 of a plugin: `greeting` became `salutation`, `legacy` is gone, `api_key` must be set. */
const SCHEMA: JsonSchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['api_key'],
  properties: {
    api_key: { type: 'string', minLength: 1 },
    salutation: { type: 'string', default: 'Hello' },
    shout: { type: 'boolean', default: false },
    nested: { type: 'object', additionalProperties: false, default: {}, properties: { port: { type: 'integer', default: 25575 } } },
  },
};

function pluginWith(upgrade?: PluginDefinition['upgradeConfig']) {
  const definition: PluginDefinition = { setup() {}, ...(upgrade ? { upgradeConfig: upgrade } : {}) };
  return { version: '2.0.0', manifest: { configSchema: SCHEMA } as never, loadDefinition: async () => definition, validateConfig: createConfigValidator(SCHEMA) };
}

describe('upgradeConfig (the function)', () => {
  test('a valid config already for this version is left alone, and the hook is not called', async () => {
    let calls = 0;
    const plugin = pluginWith((old) => (calls++, old));
    const result = await upgradeConfig(plugin, { config: { api_key: 'k' }, pluginVersion: '2.0.0' });
    assert.deepEqual(result, { ok: true, config: { api_key: 'k' }, value: { api_key: 'k', salutation: 'Hello', shout: false, nested: { port: 25575 } }, changed: false, hookChanges: [], dropped: [] });
    assert.equal(calls, 0);
  });

  test('the hook gets a copy of a config written for another version, with what it needs to know', async () => {
    const seen: Array<{ old: Record<string, unknown>; upgrade: ConfigUpgrade }> = [];
    const plugin = pluginWith((old, upgrade) => {
      seen.push({ old: structuredClone(old), upgrade });
      const { greeting, ...rest } = old;
      old.api_key = 'mutating the copy changes nothing stored';
      return { ...rest, salutation: greeting };
    });
    const stored = { config: { api_key: 'k', greeting: 'Hi' }, pluginVersion: '1.0.0' };
    const result = await upgradeConfig(plugin, stored);
    assert.deepEqual(seen, [
      {
        old: { api_key: 'k', greeting: 'Hi' },
        upgrade: { fromVersion: '1.0.0', toVersion: '2.0.0', problems: ['greeting: unknown key'], defaults: { salutation: 'Hello', shout: false, nested: {} } },
      },
    ]);
    assert.deepEqual(stored.config, { api_key: 'k', greeting: 'Hi' });
    assert.ok(result.ok);
    assert.deepEqual(result.config, { api_key: 'k', salutation: 'Hi' });
    assert.deepEqual(result.hookChanges, ['removed greeting', 'added salutation']);
    assert.deepEqual(result.dropped, []);
    assert.equal(result.changed, true);
  });

  test('the hook also runs when the old config still validates but was written for another version', async () => {
    const plugin = pluginWith((old, upgrade) => ({ ...old, salutation: `${upgrade.fromVersion}→${upgrade.toVersion}` }));
    const result = await upgradeConfig(plugin, { config: { api_key: 'k' }, pluginVersion: '1.5.0' });
    assert.ok(result.ok);
    assert.deepEqual(result.config, { api_key: 'k', salutation: '1.5.0→2.0.0' });
  });

  test('without a hook, unknown keys are dropped (nested too) and missing ones take their defaults, which are not stored', async () => {
    const result = await upgradeConfig(pluginWith(), { config: { api_key: 'k', greeting: 'Hi', legacy: [1], nested: { port: 1, host: 'x' } }, pluginVersion: '1.0.0' });
    assert.ok(result.ok);
    assert.deepEqual(result.dropped.sort(), ['greeting', 'legacy', 'nested.host']);
    assert.deepEqual(result.config, { api_key: 'k', nested: { port: 1 } });
    assert.deepEqual(result.value, { api_key: 'k', nested: { port: 1 }, salutation: 'Hello', shout: false });
  });

  test('a config stored before versions were recorded is upgraded only when it does not validate', async () => {
    let calls = 0;
    const plugin = pluginWith((old, upgrade) => (calls++, assert.equal(upgrade.fromVersion, null), old));
    const valid = await upgradeConfig(plugin, { config: { api_key: 'k' }, pluginVersion: null });
    assert.ok(valid.ok && !valid.changed);
    assert.equal(calls, 0);
    const stale = await upgradeConfig(plugin, { config: { api_key: 'k', legacy: true } });
    assert.ok(stale.ok);
    assert.deepEqual(stale.dropped, ['legacy']);
    assert.equal(calls, 1);
  });

  test('a config that cannot be made valid fails with every problem: a missing required key, a wrong value (never replaced)', async () => {
    const result = await upgradeConfig(pluginWith(), { config: { greeting: 'Hi', shout: 'loud' }, pluginVersion: '1.0.0' });
    assert.deepEqual(result, { ok: false, problems: ['api_key: required', 'shout: must be boolean'] });
  });

  test('a hook that throws or returns no object fails the upgrade, saying so', async () => {
    const throwing = await upgradeConfig(
      pluginWith(() => {
        throw new Error('cannot read v0 configs');
      }),
      { config: { api_key: 'k' }, pluginVersion: '0.1.0' },
    );
    assert.deepEqual(throwing, { ok: false, problems: ['upgradeConfig threw: cannot read v0 configs'] });
    const empty = await upgradeConfig(pluginWith((() => undefined) as never), { config: { api_key: 'k' }, pluginVersion: '0.1.0' });
    assert.deepEqual(empty, { ok: false, problems: ['upgradeConfig returned undefined, not a config object'] });
  });
});

describe('the supervisor upgrades stored configs before starting instances', () => {
  let dir: string;
  let storage: Storage;
  let supervisor: Supervisor;
  const lines: Array<{ level: string; message: string; instance?: string }> = [];
  const logger = (bindings: Record<string, string>): Logger => ({
    debug: () => undefined,
    info: (message) => void lines.push({ level: 'info', message, ...bindings }),
    warn: (message) => void lines.push({ level: 'warn', message, ...bindings }),
    error: (message) => void lines.push({ level: 'error', message, ...bindings }),
    critical: (message) => void lines.push({ level: 'critical', message, ...bindings }),
    child: (more) => logger({ ...bindings, ...more }),
  });
  const BOT = '@bot:unit.test';
  const instance = (id: string, config: Record<string, unknown>, pluginVersion: string | null, managedBy: 'api' | 'config' = 'api'): InstanceRecord => ({
    id,
    pluginId: 'org.example.upgraded',
    clientId: BOT,
    enabled: true,
    config,
    rooms: ['*'],
    senders: [],
    managedBy,
    pluginVersion,
  });
  const seen = () => (globalThis as { __upgradeTest?: { configs: Record<string, unknown>; hookCalls: string[] } }).__upgradeTest!;
  const of = (id: string) => lines.filter((l) => l.instance === id);

  before(async () => {
    (globalThis as { __upgradeTest?: unknown }).__upgradeTest = { configs: {}, hookCalls: [] };
    dir = await mkdtemp(join(tmpdir(), 'trellis-upgrade-'));
    const pluginDir = join(dir, 'bundled', 'upgraded');
    await mkdir(pluginDir, { recursive: true });
    await writeFile(
      join(pluginDir, 'plugin.yaml'),
      [
        'id: org.example.upgraded',
        'version: 2.0.0',
        'main: index.js',
        'config_schema:',
        '  type: object',
        '  additionalProperties: false',
        '  properties:',
        '    salutation: { type: string, default: Hello }',
        '    shout: { type: boolean, default: false }',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(pluginDir, 'index.js'),
      `export default {
  setup(ctx) { globalThis.__upgradeTest.configs[ctx.instanceId] = ctx.config; },
  upgradeConfig(old, upgrade) {
    globalThis.__upgradeTest.hookCalls.push(upgrade.fromVersion + '→' + upgrade.toVersion);
    const { greeting, ...rest } = old;
    return greeting === undefined ? rest : { ...rest, salutation: greeting };
  },
};
`,
    );
    storage = await openStorage({ type: 'sqlite', path: ':memory:' });
    const registry = new PluginRegistry({ storage, pluginsDir: join(dir, 'plugins'), bundledDir: join(dir, 'bundled'), log: logger({}) });
    await registry.loadAll();
    await storage.clients.upsert({
      id: BOT,
      homeserver: 'main',
      homeserverUrl: 'http://127.0.0.1:9',
      accessToken: 'unit-token',
      deviceId: 'DEV',
      displayName: null,
      avatarUrl: null,
      autojoin: false,
      autojoinAllow: [],
      enabled: true,
      managedBy: 'api',
    });
    await storage.instances.upsert(instance('renamed', { greeting: 'Hi', legacy: 1 }, '1.0.0'));
    await storage.instances.upsert(instance('current', { salutation: 'Hey' }, '2.0.0'));
    await storage.instances.upsert(instance('old-row', { shout: true }, null));
    await storage.instances.upsert(instance('broken', { shout: 'loud' }, '1.0.0'));
    await storage.instances.upsert(instance('filed', { greeting: 'Yo', legacy: 2 }, '1.0.0', 'config'));
    supervisor = new Supervisor({ storage, registry, log: logger({}), metrics: new Metrics(), configFile: '/etc/trellis/config.yaml' });
    await supervisor.loadAll();
  });

  after(async () => {
    await supervisor?.stopAll(0);
    await storage?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the hook runs, unknown keys are dropped with one WARN, the instance runs and the upgrade is stored and logged', async () => {
    assert.equal(supervisor.instanceStatus('renamed')?.state, 'running');
    assert.deepEqual(seen().configs.renamed, { salutation: 'Hi', shout: false });
    const stored = await storage.instances.get('renamed');
    assert.deepEqual(stored?.config, { salutation: 'Hi' });
    assert.equal(stored?.pluginVersion, '2.0.0');
    const logged = of('renamed').map((l) => `${l.level}: ${l.message}`);
    assert.deepEqual(logged.slice(0, 2), [
      "warn: config keys legacy are not known to org.example.upgraded 2.0.0 and were dropped from the instance's config",
      "info: config upgraded for org.example.upgraded 2.0.0 (it was written for 1.0.0) by the plugin's upgradeConfig: removed greeting, added salutation",
    ]);
  });

  test('a config already for this version is not touched; one stored before versions were recorded gets the version', async () => {
    assert.equal(supervisor.instanceStatus('current')?.state, 'running');
    assert.deepEqual(seen().configs.current, { salutation: 'Hey', shout: false });
    assert.deepEqual(await storage.instances.get('current'), instance('current', { salutation: 'Hey' }, '2.0.0'));
    assert.deepEqual(await storage.instances.get('old-row'), instance('old-row', { shout: true }, '2.0.0'));
    assert.deepEqual(
      of('current').map((l) => l.message),
      ['instance started (org.example.upgraded 2.0.0 on @bot:unit.test)'],
    );
    // Only the instances written for another version called the hook (old-row validated as it was).
    assert.deepEqual(seen().hookCalls.sort(), ['1.0.0→2.0.0', '1.0.0→2.0.0', '1.0.0→2.0.0']);
  });

  test('a config that cannot be made valid fails the instance, naming the key and the fix, and is not changed', async () => {
    const status = supervisor.instanceStatus('broken');
    assert.equal(status?.state, 'failed');
    assert.equal(
      status?.lastError,
      'the config does not fit org.example.upgraded 2.0.0 (it was written for 1.0.0): config.shout: must be boolean; set a valid config in the console or with PUT /instance/broken',
    );
    assert.deepEqual(await storage.instances.get('broken'), instance('broken', { shout: 'loud' }, '1.0.0'));
  });

  test('a file-managed instance runs upgraded, its stored copy of the file stays as written, and a WARN names the file entry', async () => {
    assert.equal(supervisor.instanceStatus('filed')?.state, 'running');
    assert.deepEqual(seen().configs.filed, { salutation: 'Yo', shout: false });
    assert.deepEqual(await storage.instances.get('filed'), instance('filed', { greeting: 'Yo', legacy: 2 }, '1.0.0', 'config'));
    assert.deepEqual(
      of('filed')
        .filter((l) => l.level === 'warn')
        .map((l) => l.message),
      [
        'instances.filed.config in /etc/trellis/config.yaml does not fit org.example.upgraded 2.0.0 (it was written for 1.0.0); the instance runs with it upgraded (its upgradeConfig removed greeting, added salutation; dropped legacy): update the file to match (Trellis never rewrites it)',
      ],
    );
  });

  test('re-applying the same record of a running instance keeps it running as it is (a SIGHUP with the file unchanged)', async () => {
    const started = supervisor.instanceStatus('filed')?.startedAt;
    await supervisor.updateInstanceConfig(instance('filed', { greeting: 'Yo', legacy: 2 }, '1.0.0', 'config'));
    assert.equal(supervisor.instanceStatus('filed')?.state, 'running');
    assert.equal(supervisor.instanceStatus('filed')?.startedAt, started);
  });
});
