/**
 * `npm run release`: the release bundle, trellis-<version>-linux-x64.tar.gz —
 * compiled JavaScript (dist/), the built console, the production
 * dependencies, the pinned Node binary (the npm package `node`, which
 * bin/trellis runs) and bin/trellis, so it runs on a machine with nothing
 * else installed: unpack, `bin/trellis init`, `bin/trellis start`.
 * Python tools stay optional: yt-dlp on PATH or `yt_dlp_path`; maubot plugins
 * need `npm run setup:maubot`-style .venv-maubot beside it.
 *
 *   npm run release [-- --out <folder>]     (default: release/)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeConsoleDist } from '../src/api/console.ts';
import { buildServer } from './build-server.ts';

const REPO = resolve(import.meta.dirname, '..');
/** What the bundle carries from the checkout, beside node_modules. */
const CONTENTS = ['bin', 'dist', 'console/dist', 'package.json', 'package-lock.json', 'README.md', 'docs', 'deploy'];

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status}): ${(result.stderr || result.stdout || String(result.error)).trim().slice(-2000)}`);
}

export async function buildRelease(outDir: string): Promise<string> {
  const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  const name = `trellis-${version}-linux-x64`;
  const stage = join(outDir, name);
  const archive = join(outDir, `${name}.tar.gz`);
  if (!existsSync(join(REPO, 'node_modules', 'node', 'bin', 'node'))) throw new Error('node_modules/node/bin/node is missing: run npm install first');

  await buildServer();
  await writeConsoleDist();
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const entry of CONTENTS) cpSync(join(REPO, entry), join(stage, entry), { recursive: true, verbatimSymlinks: true });
  // The installed tree, then without the development packages (biome, typescript, playwright…): the same
  // versions the tests ran with, and no network or install scripts needed.
  cpSync(join(REPO, 'node_modules'), join(stage, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  run('npm', ['prune', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], stage);
  if (!existsSync(join(stage, 'node_modules', '.bin', 'node'))) throw new Error('the pruned bundle lost node_modules/.bin/node');
  // gzip -1: the Node binary is most of the bytes and compresses about as well either way.
  run('tar', ['-I', 'gzip -1', '-cf', archive, '-C', outDir, name], REPO);
  rmSync(stage, { recursive: true, force: true });
  return archive;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const outDir = resolve(values.out ?? join(REPO, 'release'));
  mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const archive = await buildRelease(outDir);
  console.log(`release: ${archive} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
