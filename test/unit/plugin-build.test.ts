import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { CommandDefinition, PluginContext, PluginDefinition } from '../../src/sdk/index.ts';
import { installPluginArchive, readPluginArchive } from '../../src/plugin-package/archive.ts';
import { buildPlugin, PluginBuildError } from '../../src/plugin-package/build.ts';
import { createConfigValidator, PluginValidationError } from '../../src/plugin-package/manifest.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'plugins', 'hello');

const temps: string[] = [];
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** Install the archive the way the daemon will and import its entry module. */
async function loadBuilt(archive: Buffer): Promise<PluginDefinition> {
  const { dir, manifest } = await installPluginArchive(archive, await tempDir('trellis-load-'));
  const module = (await import(pathToFileURL(join(dir, manifest.main)).href)) as { default: PluginDefinition };
  return module.default;
}

/** Just enough of a context to run setup() and capture what it registers. */
function captureContext(config: Record<string, unknown>): { context: PluginContext; commands: CommandDefinition[] } {
  const commands: CommandDefinition[] = [];
  const context = { config, prefix: '!', command: (definition: CommandDefinition) => commands.push(definition) };
  return { context: context as unknown as PluginContext, commands };
}

describe('buildPlugin', () => {
  test('builds the fixture into an archive that validates, installs and runs', async () => {
    const outDir = await tempDir('trellis-build-');
    const outFile = join(outDir, 'hello.zip');
    const result = await buildPlugin(FIXTURE, { outFile });
    assert.equal(result.file, outFile);
    assert.equal(result.manifest.id, 'org.example.hello');
    assert.equal(result.manifest.main, 'index.js');
    const archive = await readFile(outFile);
    assert.equal(result.bytes, archive.length);

    const { manifest, files } = await readPluginArchive(archive);
    assert.deepEqual([...files.keys()].sort(), ['data/words.txt', 'index.js', 'plugin.yaml']);
    assert.equal(manifest.main, 'index.js');
    assert.deepEqual(manifest.extraFiles, ['data/words.txt']);
    // Only `main` changes; the rest of the author's manifest (comments included) is kept.
    const yamlText = files.get('plugin.yaml')?.toString() ?? '';
    assert.match(yamlText, /^# Test fixture/);
    assert.equal(parse(yamlText).description, 'Says hello');
    const code = files.get('index.js')?.toString() ?? '';
    assert.doesNotMatch(code, /from ["']trellis\/sdk["']/, 'the SDK is bundled, not imported at run time');
    assert.doesNotMatch(code, /\.\/greet/, 'local modules are bundled');

    const plugin = await loadBuilt(archive);
    assert.equal(typeof plugin.setup, 'function');
    const validated = createConfigValidator(manifest.configSchema)({});
    assert.ok(validated.ok);
    const { context, commands } = captureContext(validated.value);
    await plugin.setup(context);
    assert.deepEqual(
      commands.map((c) => c.name),
      ['hello'],
    );
    const replies: string[] = [];
    const message = { sender: '@bob:example.org', reply: async (text: string) => (replies.push(text), '$reply') };
    await commands[0].handler({ args: {}, text: '', message } as never);
    assert.deepEqual(replies, ['hi, @bob:example.org!']);
    assert.deepEqual(result.configType, { checked: true, typeName: 'HelloConfig', problems: [] });
  });

  test('refuses a plugin whose Config type and config_schema disagree, or whose default breaks its schema', async () => {
    const source = await tempDir('trellis-config-');
    await cp(FIXTURE, source, { recursive: true });
    const manifest = await readFile(join(source, 'plugin.yaml'), 'utf8');
    await writeFile(
      join(source, 'plugin.yaml'),
      manifest.replace('greeting: { type: string, default: hi }', 'greeting: { type: string, default: hi }\n    times: { type: integer, minimum: 1, default: 0 }'),
    );
    await assert.rejects(buildPlugin(source), (error: unknown) => {
      assert.ok(error instanceof PluginBuildError);
      assert.deepEqual(error.messages, [
        'plugin.yaml: config_schema.properties.times.default: 0 does not match its own schema (must be >= 1)',
        'index.ts: times: in config_schema but not in HelloConfig; add it to the type (or remove it from the schema) (HelloConfig and config_schema in plugin.yaml must agree)',
      ]);
      return true;
    });
    await assert.rejects(stat(join(source, 'org.example.hello-v1.2.0.zip')), { code: 'ENOENT' });
  });

  test('writes <sourceDir>/<id>-v<version>.zip by default, for a plugin outside the repo', async () => {
    const source = await tempDir('trellis-src-');
    await cp(FIXTURE, source, { recursive: true });
    const result = await buildPlugin(source);
    assert.equal(result.file, join(source, 'org.example.hello-v1.2.0.zip'));
    assert.equal((await stat(result.file)).size, result.bytes);
    // Same sources, same bytes.
    const again = await buildPlugin(source, { outFile: join(source, 'again.zip') });
    assert.deepEqual(await readFile(again.file), await readFile(result.file));
  });

  test('bundles npm dependencies, including CommonJS ones that call require()', async () => {
    const source = await tempDir('trellis-npm-');
    const dep = join(source, 'node_modules', 'tiny-cjs');
    await mkdir(dep, { recursive: true });
    await writeFile(join(dep, 'package.json'), JSON.stringify({ name: 'tiny-cjs', version: '1.0.0', main: 'index.js' }));
    await writeFile(join(dep, 'index.js'), "const path = require('node:path');\nmodule.exports = { base: (p) => path.basename(p) };\n");
    await writeFile(join(source, 'plugin.yaml'), 'id: org.example.npm\nversion: 0.1.0\nmain: src/main.ts\n');
    await mkdir(join(source, 'src'));
    await writeFile(
      join(source, 'src', 'main.ts'),
      "import { definePlugin } from 'trellis/sdk';\nimport tiny from 'tiny-cjs';\n" +
        "export default definePlugin({ setup(ctx) { ctx.command({ name: tiny.base('/x/y/npm-cmd'), description: 'd', handler() {} }); } });\n",
    );
    const { file } = await buildPlugin(source);
    const archive = await readFile(file);
    const { files } = await readPluginArchive(archive);
    assert.ok(!files.has('node_modules/tiny-cjs/index.js'), 'dependencies are inside index.js, not shipped as files');
    const plugin = await loadBuilt(archive);
    const { context, commands } = captureContext({});
    await plugin.setup(context);
    assert.deepEqual(
      commands.map((c) => c.name),
      ['npm-cmd'],
    );
  });

  test('reports build errors with file and line', async () => {
    const source = await tempDir('trellis-broken-');
    await writeFile(join(source, 'plugin.yaml'), 'id: org.example.broken\nversion: 0.1.0\nmain: index.ts\n');
    await writeFile(join(source, 'index.ts'), "import { nothing } from './missing.ts';\nexport default {\n  setup( {\n};\n");
    await assert.rejects(buildPlugin(source), (error: unknown) => {
      assert.ok(error instanceof PluginBuildError);
      assert.ok(error.messages.length >= 1);
      assert.match(error.messages[0], /^index\.ts:\d+:\d+: /);
      assert.match(error.message, /index\.ts:\d+:\d+/);
      return true;
    });
    await writeFile(join(source, 'index.ts'), "import { nothing } from './missing.ts';\nexport default { setup() { return nothing; } };\n");
    await assert.rejects(buildPlugin(source), /index\.ts:1:\d+: Could not resolve "\.\/missing\.ts"/);
  });

  test('rejects a bad manifest, a missing main and a missing extra file', async () => {
    const source = await tempDir('trellis-badsrc-');
    await writeFile(join(source, 'plugin.yaml'), 'id: nope\nversion: one\nmain: index.ts\n');
    await assert.rejects(buildPlugin(source), (error: unknown) => error instanceof PluginValidationError && error.problems.length === 2);
    await writeFile(join(source, 'plugin.yaml'), 'id: org.example.x\nversion: 1.0.0\nmain: index.ts\n');
    await assert.rejects(buildPlugin(source), /main: .*index\.ts does not exist/);
    await writeFile(join(source, 'index.ts'), 'export default { setup() {} };\n');
    await writeFile(join(source, 'plugin.yaml'), 'id: org.example.x\nversion: 1.0.0\nmain: index.ts\nextra_files: [README.md]\n');
    await assert.rejects(buildPlugin(source), /extra_files: README\.md: .* does not exist/);
    await assert.rejects(stat(join(source, 'org.example.x-v1.0.0.zip')), { code: 'ENOENT' });
    await assert.rejects(buildPlugin(join(source, 'nowhere')), /plugin\.yaml: .* does not exist/);
  });
});
