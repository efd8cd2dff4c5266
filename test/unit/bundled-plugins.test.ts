/** Every plugin shipped under plugins/ loads, and its defaults make a valid config. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createConfigValidator, parseManifest } from '../../src/plugin-package/manifest.ts';

const PLUGINS = join(import.meta.dirname, '../../plugins');

for (const dir of readdirSync(PLUGINS)) {
  test(`bundled plugin ${dir} has a valid manifest, loads, and accepts an empty config`, async () => {
    const manifest = parseManifest(readFileSync(join(PLUGINS, dir, 'plugin.yaml'), 'utf8'));
    const mod = (await import(join(PLUGINS, dir, manifest.main))) as { default?: { setup?: unknown } };
    assert.equal(typeof mod.default?.setup, 'function');
    const validated = createConfigValidator(manifest.configSchema)({});
    assert.ok(validated.ok, JSON.stringify(validated));
  });
}
