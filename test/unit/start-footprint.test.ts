/**
 * What `trellis start` loads (issue 12: start-up memory and CPU). Each check
 * runs in a fresh Node process with a resolve hook recording every module,
 * so a static import sneaking back onto the start path fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metrics } from '../../src/core/metrics.ts';
import { DIST, distIsCurrent } from '../../scripts/build-server.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `body` (module code with `seen` and `report(value)` in scope) after the hook; returns what it reported. */
function probe<T>(body: string): T {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-probe-'));
  const out = join(dir, 'report.json');
  try {
    // Reported through a file: a large write to a piped stdout can be cut short when the process exits.
    const source = `
      import { registerHooks } from 'node:module';
      import { writeFileSync } from 'node:fs';
      const seen = [];
      const report = (value) => writeFileSync(${JSON.stringify(out)}, JSON.stringify(value));
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
      ${body}`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: REPO, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(readFileSync(out, 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the compiled CLI (what bin/trellis runs) loads no TypeScript and no subcommand-only module (esbuild, the maubot import)', () => {
  assert.ok(distIsCurrent(), 'dist/ is current (npm test builds it: scripts/build-server.ts)');
  const entry = join(DIST, 'src/cli/main.js');
  const seen = probe<string[]>(`
    process.argv = [process.argv[0], ${JSON.stringify(entry)}, '--version'];
    process.on('exit', () => report(seen));
    await import(${JSON.stringify(entry)});`);
  assert.ok(
    seen.some((u) => u.endsWith('/dist/src/daemon.js')),
    'the probe saw the compiled daemon module',
  );
  // One .ts file would make Node load its type stripper: ≈ 50 MiB and 0.9 s of every start.
  assert.deepEqual(
    seen.filter((u) => u.endsWith('.ts')),
    [],
  );
  const subcommandOnly = seen.filter((u) => /\/node_modules\/esbuild\/|\/src\/plugin-package\/(build|validate-cli)\.js$|\/src\/migrate\//.test(u));
  assert.deepEqual(subcommandOnly, []);
});

test("bundled plugins are listed at boot but their code is imported only at an instance's first start", () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-footprint-'));
  try {
    const result = probe<{ listed: string[]; atBoot: string[]; afterPing: string[]; setup: string }>(`
      const { openStorage } = await import(${JSON.stringify(join(REPO, 'src/storage/database.ts'))});
      const { PluginRegistry } = await import(${JSON.stringify(join(REPO, 'src/core/plugin-registry.ts'))});
      const storage = await openStorage({ type: 'sqlite', path: ${JSON.stringify(join(dir, 'trellis.db'))} });
      const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };
      const registry = new PluginRegistry({ storage, pluginsDir: ${JSON.stringify(join(dir, 'plugins'))}, bundledDir: ${JSON.stringify(join(REPO, 'plugins'))}, log: quiet });
      await registry.loadAll();
      const pluginCode = () => seen.filter((u) => u.includes('/plugins/') && !u.includes('/node_modules/')).map((u) => u.slice(u.indexOf('/plugins/')));
      const atBoot = pluginCode();
      const definition = await registry.get('org.trellis.ping').loadDefinition();
      const afterPing = pluginCode();
      await storage.close();
      report({ listed: registry.list().map((p) => p.id), atBoot, afterPing, setup: typeof definition.setup });`);
    assert.ok(result.listed.includes('org.trellis.ping') && result.listed.includes('org.trellis.media-preview'), `listed: ${result.listed.join(', ')}`);
    assert.deepEqual(result.atBoot, []);
    assert.equal(result.setup, 'function');
    assert.ok(result.afterPing.length > 0, 'the ping module was imported');
    assert.deepEqual(
      result.afterPing.filter((u) => !u.startsWith('/plugins/ping/')),
      [],
      'no other plugin came along',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the process figures at /metrics are read at scrape time, without prom-client default collectors', async () => {
  const metrics = new Metrics();
  metrics.eventLoopLag.set(0.25);
  const text = await metrics.registry.metrics();
  const value = (name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('trellis_process_resident_memory_bytes') > 10 * 1024 * 1024, 'RSS in bytes');
  assert.ok(value('trellis_nodejs_heap_size_used_bytes') > 0);
  assert.ok(value('trellis_process_cpu_seconds_total') > 0);
  assert.equal(value('trellis_nodejs_eventloop_lag_seconds'), 0.25);
  // Names only prom-client's default collectors register (their 10 ms event-loop histogram kept an idle daemon busy).
  assert.doesNotMatch(text, /trellis_nodejs_eventloop_lag_p99_seconds|trellis_nodejs_gc_duration_seconds/);
});
