/**
 * The import boundaries in biome.json bite: fixture files are linted with the
 * project's own Biome configuration in a temporary folder, and a plugin that
 * reaches outside `trellis/sdk` (or src/matrix/ reaching into the SDK or the
 * config) must fail `npm run lint`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIOME = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');

/** Lints `files` (path → source) with the repository's biome.json; returns the import-rule hits as `path:line`. */
function restrictedImports(files: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-boundaries-'));
  try {
    const config = JSON.parse(readFileSync(join(REPO_ROOT, 'biome.json'), 'utf8')) as Record<string, unknown>;
    delete config.$schema;
    config.vcs = { enabled: false }; // the temporary folder is no git repository
    writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    const result = spawnSync(process.execPath, [BIOME, 'lint', '--reporter=github', '--max-diagnostics=none', '.'], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(result.status, null, `biome did not run: ${result.error?.message ?? result.stderr}`);
    const hits = [...result.stdout.matchAll(/^::error title=lint\/style\/noRestrictedImports,file=([^,]+),line=(\d+)/gm)].map((m) => `${relative(dir, resolve(dir, m[1]))}:${m[2]}`);
    // Anything else failing in the fixtures would make the assertions below meaningless.
    const other = result.stdout.split('\n').filter((line) => line.startsWith('::error') && !line.includes('noRestrictedImports'));
    assert.deepEqual(other, [], 'the fixtures trip other lint rules');
    return hits.sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a plugin importing the daemon, another plugin or trellis internals fails the lint', () => {
  const hits = restrictedImports({
    'plugins/rogue/index.ts': [
      "import daemon from '../../src/daemon.ts';",
      "import { game } from '../wordle/game.ts';",
      "import internal from 'trellis/internal';",
      "import rooted from '/opt/trellis/src/sdk/index.ts';",
      "import { createTestContext } from 'trellis/sdk/testing';",
      'console.log(daemon, game, internal, rooted, createTestContext);',
      '',
    ].join('\n'),
  });
  assert.deepEqual(hits, ['plugins/rogue/index.ts:1', 'plugins/rogue/index.ts:2', 'plugins/rogue/index.ts:3', 'plugins/rogue/index.ts:4', 'plugins/rogue/index.ts:5']);
});

test('a plugin may import trellis/sdk, its own files, node: builtins and npm packages', () => {
  const hits = restrictedImports({
    'plugins/good/index.ts': [
      "import { escapeHtml } from 'trellis/sdk';",
      "import type { PluginContext } from 'trellis/sdk';",
      "import { parse } from './parse.ts';",
      "import data from './data/words.json' with { type: 'json' };",
      "import { join } from 'node:path';",
      "import { request } from 'undici';",
      'export function f(ctx: PluginContext): unknown[] {',
      '  return [escapeHtml, parse, data, join, request, ctx];',
      '}',
      '',
    ].join('\n'),
  });
  assert.deepEqual(hits, []);
});

test('src/matrix/ importing the SDK or the config fails the lint; its own modules do not', () => {
  const hits = restrictedImports({
    'src/matrix/rogue.ts': [
      "import type { MatrixEvent } from '../sdk/index.ts';",
      "import type { TrellisConfig } from '../config/schema.ts';",
      "import type { PluginContext } from 'trellis/sdk';",
      "import { encodePath } from './http.ts';",
      'export type T = [MatrixEvent, TrellisConfig, PluginContext, typeof encodePath];',
      '',
    ].join('\n'),
    'src/matrix/crypto/rogue.ts': [
      "import type { KeySharing } from '../../config/schema.ts';",
      "import type { MatrixEvent } from '../types.ts';",
      'export type T = [KeySharing, MatrixEvent];',
      '',
    ].join('\n'),
  });
  assert.deepEqual(hits, ['src/matrix/crypto/rogue.ts:1', 'src/matrix/rogue.ts:1', 'src/matrix/rogue.ts:2', 'src/matrix/rogue.ts:3']);
});
