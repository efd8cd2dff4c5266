/**
 * Compiles the daemon (src/) and the bundled plugins (plugins/) to JavaScript
 * in dist/, file for file, so `bin/trellis` runs plain JavaScript. Running the
 * TypeScript source makes Node load its type stripper (a WebAssembly build of
 * swc) and strip ≈ 150 files at every start: measured in issue 12, ≈ 50 MiB
 * RSS and 0.9 s of API-up time on an empty daemon.
 *
 * Runs from the "prepare" npm script (so `npm install` leaves a current
 * dist/), from `npm start` and from `npm test`. Under half a second: esbuild
 * only strips types, it does not type-check (`npm run typecheck` does).
 *
 *   node scripts/build-server.ts             # build dist/ (npm run build)
 *   node scripts/build-server.ts --if-stale  # only when a source changed since
 */
import { copyFileSync, globSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { parseDocument } from 'yaml';

const ROOT = join(import.meta.dirname, '..');
export const DIST = join(ROOT, 'dist');
const SOURCES = ['src', 'plugins'];
/** Written last: dist/ is complete when this file exists and is newer than every source. */
const STAMP = join(DIST, '.built');

function sourceFiles(): string[] {
  return SOURCES.flatMap((dir) =>
    globSync(`${dir}/**/*`, { cwd: ROOT, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(ROOT, join(e.parentPath, e.name))),
  );
}

/**
 * Keeps every module its own file: relative imports stay imports, with `.ts`
 * becoming `.js`; `trellis/sdk` (what bundled plugins import) points at the
 * compiled SDK, so the compiled daemon never loads a .ts file.
 */
function keepModules(): Plugin {
  return {
    name: 'keep-modules',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => (args.kind === 'entry-point' ? undefined : { path: args.path.replace(/\.ts$/, '.js'), external: true }));
      b.onResolve({ filter: /^trellis\/sdk$/ }, (args) => {
        const importer = relative(ROOT, args.importer);
        let path = relative(dirname(importer), 'src/sdk/index.js');
        if (!path.startsWith('.')) path = `./${path}`;
        return { path, external: true };
      });
    },
  };
}

/** Whether dist/ was built after the last change to src/ or plugins/ (files added, edited or removed). */
export function distIsCurrent(): boolean {
  let built: number;
  try {
    built = statSync(STAMP).mtimeMs;
  } catch {
    return false;
  }
  const stamp = readFileSync(STAMP, 'utf8');
  const files = sourceFiles();
  // A removed or renamed source changes the list even when no remaining file is newer.
  return stamp === files.join('\n') && files.every((f) => statSync(join(ROOT, f)).mtimeMs <= built);
}

export async function buildServer(): Promise<{ modules: number; assets: number }> {
  const files = sourceFiles();
  const modules = files.filter((f) => f.endsWith('.ts'));
  rmSync(DIST, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: modules,
    outdir: DIST,
    outbase: '.',
    bundle: true,
    packages: 'external',
    plugins: [keepModules()],
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'warning',
  });
  // Data files (word lists, plugin.yaml) sit beside the modules that read them.
  const assets = files.filter((f) => !f.endsWith('.ts'));
  for (const file of assets) {
    const target = join(DIST, file);
    mkdirSync(dirname(target), { recursive: true });
    if (file.endsWith('/plugin.yaml')) writeFileSync(target, compiledManifest(readFileSync(join(ROOT, file), 'utf8')));
    else copyFileSync(join(ROOT, file), target);
  }
  writeFileSync(STAMP, files.join('\n'));
  return { modules: modules.length, assets: assets.length };
}

/** A bundled plugin's manifest names its TypeScript entry; the compiled copy names the .js beside it. */
function compiledManifest(text: string): string {
  const doc = parseDocument(text);
  const main = doc.get('main');
  if (typeof main === 'string' && main.endsWith('.ts')) doc.set('main', main.replace(/\.ts$/, '.js'));
  return doc.toString();
}

if (import.meta.main) {
  const started = Date.now();
  try {
    if (process.argv.includes('--if-stale') && distIsCurrent()) process.exit(0);
    const { modules, assets } = await buildServer();
    console.log(`server: compiled ${modules} modules and copied ${assets} data files into dist/ (${Date.now() - started} ms)`);
  } catch (err) {
    console.error(`server: build failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
