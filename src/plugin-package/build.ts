/**
 * `trellis plugin build <dir>`: bundle a plugin's entry module and its npm
 * dependencies into one ESM file and pack it with the manifest into an archive.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { parseDocument } from 'yaml';
import yazl from 'yazl';
import { CODE_ROOT, MODULE_EXT } from '../shared/paths.ts';
import { readPluginArchive } from './archive.ts';
import { checkConfigTypes, type ConfigTypeResult } from './config-types.ts';
import { parseManifest, schemaDefaultProblems, type PluginManifest } from './manifest.ts';

const SDK_ENTRY = join(CODE_ROOT, 'src', 'sdk', `index${MODULE_EXT}`);

// Bundled CommonJS dependencies call require(); an ESM module has none, so
// give the bundle one. esbuild renames a plugin's own top-level `require`.
const REQUIRE_BANNER = "import { createRequire as __trellisCreateRequire } from 'node:module';\nconst require = __trellisCreateRequire(import.meta.url);";

// Fixed timestamp so that building the same sources twice gives the same bytes.
const ZIP_MTIME = new Date('2000-01-01T00:00:00Z');

/** esbuild rejected the plugin's sources; `messages` are "file:line:column: text". */
export class PluginBuildError extends Error {
  readonly messages: string[];

  constructor(messages: string[]) {
    super(`plugin build failed:\n${messages.map((m) => `  ${m}`).join('\n')}`);
    this.name = 'PluginBuildError';
    this.messages = messages;
  }
}

function formatEsbuildMessage(message: esbuild.Message, baseDir: string): string {
  const location = message.location;
  if (!location) return message.text;
  const file = location.file.startsWith('/') ? relative(baseDir, location.file) || location.file : location.file;
  return `${file}:${location.line}:${location.column + 1}: ${message.text}`;
}

async function bundle(sourceDir: string, entry: string): Promise<Buffer> {
  try {
    const result = await esbuild.build({
      absWorkingDir: sourceDir,
      entryPoints: [entry],
      outfile: join(sourceDir, 'index.js'),
      write: false,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      alias: { 'trellis/sdk': SDK_ENTRY },
      banner: { js: REQUIRE_BANNER },
      logLevel: 'silent',
      legalComments: 'inline',
    });
    const output = result.outputFiles.find((f) => f.path.endsWith('.js'));
    if (!output) throw new PluginBuildError(['esbuild produced no JavaScript output']);
    return Buffer.from(output.contents);
  } catch (error) {
    if (error instanceof PluginBuildError) throw error;
    const failure = error as Partial<esbuild.BuildFailure>;
    if (Array.isArray(failure.errors) && failure.errors.length > 0) {
      throw new PluginBuildError(failure.errors.map((m) => formatEsbuildMessage(m, sourceDir)));
    }
    throw error;
  }
}

function zipToBuffer(entries: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const { name, data } of entries) zip.addBuffer(data, name, { mtime: ZIP_MTIME, mode: 0o100644 });
  zip.end();
  return new Promise((resolvePromise, rejectPromise) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('error', rejectPromise);
    zip.outputStream.on('end', () => resolvePromise(Buffer.concat(chunks)));
  });
}

async function readSourceFile(sourceDir: string, path: string, what: string): Promise<Buffer> {
  const full = resolve(sourceDir, path);
  try {
    const info = await stat(full);
    if (!info.isFile()) throw new Error(`${what}: ${full} is not a regular file`);
    return await readFile(full);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${what}: ${full} does not exist`);
    throw error;
  }
}

/**
 * The config is declared twice, as `config_schema` and as the entry's
 * `definePlugin<Config>` type: they must agree, and every schema default
 * must match its own schema. Returns whether the type could be checked.
 */
async function checkConfigDeclarations(dir: string, manifest: PluginManifest): Promise<ConfigTypeResult> {
  const [result] = await checkConfigTypes([{ entry: resolve(dir, manifest.main), schema: manifest.configSchema }]);
  const problems = [
    ...schemaDefaultProblems(manifest.configSchema).map((p) => `plugin.yaml: ${p}`),
    ...(result.checked ? result.problems.map((p) => `${manifest.main}: ${p} (${result.typeName} and config_schema in plugin.yaml must agree)`) : []),
  ];
  if (problems.length > 0) throw new PluginBuildError(problems);
  return result;
}

/**
 * Build `<sourceDir>` (which holds a plugin.yaml) into a plugin archive.
 * Default output: `<sourceDir>/<id>-v<version>.zip`. `configType` says
 * whether the entry's config type was checked against the schema (a
 * mismatch fails the build), or why not.
 */
export async function buildPlugin(sourceDir: string, options: { outFile?: string } = {}): Promise<{ file: string; manifest: PluginManifest; bytes: number; configType: ConfigTypeResult }> {
  const dir = resolve(sourceDir);
  const manifestText = (await readSourceFile(dir, 'plugin.yaml', 'plugin.yaml')).toString('utf8');
  const manifest = parseManifest(manifestText);
  await readSourceFile(dir, manifest.main, 'main');
  const code = await bundle(dir, resolve(dir, manifest.main));
  const configType = await checkConfigDeclarations(dir, manifest);

  // Rewrite only `main`, keeping the author's comments and layout.
  const doc = parseDocument(manifestText);
  doc.set('main', 'index.js');
  const entries = [
    { name: 'plugin.yaml', data: Buffer.from(doc.toString(), 'utf8') },
    { name: 'index.js', data: code },
  ];
  for (const extra of manifest.extraFiles) {
    entries.push({ name: extra, data: await readSourceFile(dir, extra, `extra_files: ${extra}`) });
  }
  const archive = await zipToBuffer(entries);
  // Catch limit violations (e.g. a huge bundle) now rather than at upload time.
  const { manifest: built } = await readPluginArchive(archive);

  const file = resolve(options.outFile ?? join(dir, `${manifest.id}-v${manifest.version}.zip`));
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, archive);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return { file, manifest: built, bytes: archive.length, configType };
}
