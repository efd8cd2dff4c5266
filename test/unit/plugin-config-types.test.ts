/**
 * A plugin's config is declared in plugin.yaml (JSON Schema) and as the type
 * it gives definePlugin<Config>; every bundled plugin's two declarations
 * agree, and so do the defaults with the schema. The checker is the one
 * `trellis plugin build` runs for third-party plugins.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkConfigTypes } from '../../src/plugin-package/config-types.ts';
import { parseManifest, schemaDefaultProblems, type JsonSchemaObject } from '../../src/plugin-package/manifest.ts';

const PLUGINS = join(import.meta.dirname, '../../plugins');
const FIXTURES = join(import.meta.dirname, '../fixtures/plugins');

describe('bundled plugins declare their config once', () => {
  const dirs = readdirSync(PLUGINS).filter((d) => readdirSync(join(PLUGINS, d)).includes('plugin.yaml'));
  const manifests = dirs.map((dir) => ({ dir, manifest: parseManifest(readFileSync(join(PLUGINS, dir, 'plugin.yaml'), 'utf8')) }));
  const results = checkConfigTypes(manifests.map(({ dir, manifest }) => ({ entry: join(PLUGINS, dir, manifest.main), schema: manifest.configSchema })));

  manifests.forEach(({ dir, manifest }, i) => {
    test(`${dir}: the Config type matches config_schema`, async () => {
      const result = (await results)[i];
      assert.ok(result.checked, `not checked: ${result.checked ? '' : result.reason}`);
      assert.deepEqual(result.problems, []);
    });
    test(`${dir}: every default matches its schema`, () => {
      assert.deepEqual(schemaDefaultProblems(manifest.configSchema), []);
    });
  });
});

describe('the config type checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-config-types-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const check = async (source: string, schema: JsonSchemaObject, name = 'index.ts') => {
    const entry = join(dir, name);
    writeFileSync(entry, source);
    return (await checkConfigTypes([{ entry, schema }]))[0];
  };

  const SCHEMA: JsonSchemaObject = {
    type: 'object',
    additionalProperties: false,
    required: ['token'],
    properties: {
      prefix: { type: 'string', default: '!' },
      token: { type: 'string' },
      note: { type: 'string' },
      limit: { type: 'integer', minimum: 1, default: 5 },
      mode: { type: 'string', enum: ['a', 'b'], default: 'a' },
      rooms: { type: 'array', items: { type: 'string' }, default: [] },
      rules: { type: 'array', default: [], items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, weight: { type: 'number' } } } },
      nested: { type: 'object', default: {}, properties: { on: { type: 'boolean', default: true }, host: { type: 'string', default: '' } } },
      anything: {},
    },
  };

  test('a type that agrees has no problems (imported types, unions with undefined, an index signature)', async () => {
    writeFileSync(join(dir, 'rules.ts'), 'export interface Rule { name: string; weight?: number }\n');
    const result = await check(
      `import { definePlugin } from 'trellis/sdk';
import type { Rule } from './rules.ts';
interface Config {
  [key: string]: unknown;
  prefix: string;
  token: string;
  note?: string;
  limit: number;
  mode: 'a' | 'b';
  rooms: string[];
  rules: Rule[];
  nested: { on: boolean; host: string };
  anything: unknown;
}
export default definePlugin<Config>({ setup() {} });
`,
      SCHEMA,
    );
    assert.deepEqual(result, { checked: true, typeName: 'Config', problems: [] });
  });

  test('names every key, optionality and kind that differs, nested too', async () => {
    const result = await check(
      `import { definePlugin } from 'trellis/sdk';
type Config = {
  prefix?: string;
  token: string;
  note: string;
  limit: string;
  mode: 'a' | 'c';
  rooms: number[];
  rules: Array<{ name: string; weight: string }>;
  nested: { on: boolean; port: number };
  anything: unknown;
  extra: boolean;
};
export default definePlugin<Config>({ setup() {} });
`,
      SCHEMA,
    );
    assert.ok(result.checked);
    assert.deepEqual(result.problems.sort(), [
      'extra: in Config but not in config_schema; add it to the schema (or remove it from the type)',
      'limit: the schema says number, Config says string',
      'mode: the schema allows "a" | "b", Config says "a" | "c"',
      'nested.host: in config_schema but not in Config.nested; add it to the type (or remove it from the schema)',
      'nested.port: in Config but not in config_schema; add it to the schema (or remove it from the type)',
      'note: always set according to Config, but the schema neither requires it nor gives it a default; mark it optional (note?:) or add a default',
      'prefix: optional (?) in Config, but the schema gives it a default, so it is always set; drop the ?',
      'rooms[]: the schema says string, Config says number',
      'rules[].weight: always set according to Config, but the schema neither requires it nor gives it a default; mark it optional (weight?:) or add a default',
      'rules[].weight: the schema says number, Config says string',
    ]);
  });

  test('the fixture plugins the integration tests build agree too', async () => {
    const dirs = readdirSync(FIXTURES).filter((d) => readdirSync(join(FIXTURES, d)).includes('plugin.yaml'));
    const manifests = dirs.map((d) => parseManifest(readFileSync(join(FIXTURES, d, 'plugin.yaml'), 'utf8')));
    const results = await checkConfigTypes(manifests.map((m, i) => ({ entry: join(FIXTURES, dirs[i], m.main), schema: m.configSchema })));
    const checked = results.flatMap((r, i) => (r.checked ? [{ plugin: dirs[i], problems: r.problems }] : []));
    assert.ok(checked.some((c) => c.plugin === 'hello'));
    assert.deepEqual(
      checked.filter((c) => c.problems.length > 0),
      [],
    );
  });

  test('a plugin without definePlugin<Config> is not checked, and says why', async () => {
    const result = await check(`import { definePlugin } from 'trellis/sdk';\nexport default definePlugin({ setup() {} });\n`, SCHEMA, 'untyped.ts');
    assert.equal(result.checked, false);
    assert.match(result.checked ? '' : result.reason, /no definePlugin<Config>/);
  });
});

describe('schema defaults', () => {
  test('a default its own schema rejects is named with its place in the schema', () => {
    const problems = schemaDefaultProblems({
      type: 'object',
      properties: {
        ok: { type: 'integer', minimum: 1, default: 1 },
        low: { type: 'integer', minimum: 1, default: 0 },
        nested: { type: 'object', default: {}, properties: { mode: { enum: ['a', 'b'], default: 'c' } } },
        list: { type: 'array', default: [], items: { type: 'object', properties: { n: { type: 'string', default: 3 } } } },
        // `default` as a property name is not a default.
        names: { type: 'object', properties: { default: { type: 'string' } } },
      },
    });
    assert.deepEqual(problems, [
      'config_schema.properties.low.default: 0 does not match its own schema (must be >= 1)',
      // The nested default fills {} with the bad mode.
      'config_schema.properties.nested.default: {} does not match its own schema (mode: must be one of "a", "b")',
      'config_schema.properties.nested.properties.mode.default: "c" does not match its own schema (must be one of "a", "b")',
      'config_schema.properties.list.items.properties.n.default: 3 does not match its own schema (must be string)',
    ]);
  });
});
