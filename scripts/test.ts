/**
 * `npm test`: installs Synapse if needed, type-checks, starts one shared
 * homeserver for the whole run and runs the unit and integration tests.
 *
 *   npm test                               # everything
 *   npm test -- test/unit/foo.test.ts      # only these files
 *   npm test -- --test-name-pattern=poll   # extra flags go to node --test
 *
 * TRELLIS_SKIP_TYPECHECK=1 skips tsc and TRELLIS_SKIP_LINT=1 skips Biome
 * (`npm run lint`) while iterating locally; CI never sets them.
 */
import { spawn } from 'node:child_process';
import { existsSync, globSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { installMaubot, installSynapse, installYtDlp, REPO_ROOT } from './python-tools.ts';
import { HOMESERVER_ENV, infoOf, startSynapse } from '../test/harness/synapse.ts';
import type { Homeserver } from '../test/harness/synapse.ts';

const DEFAULT_PATTERNS = ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'];

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: 'inherit', env });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveRun(code ?? (signal ? 128 : 1)));
  });
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

const CHROMIUM = '/usr/bin/chromium';

/** The console's browser tests drive Debian's Chromium, a system package this script never installs. */
function requireChromium(): void {
  if (existsSync(CHROMIUM)) return;
  throw new Error(`the console tests need Chromium at ${CHROMIUM}: install the system packages once with scripts/system-packages.sh (as root or with sudo), see README "Test it"`);
}

async function typecheck(): Promise<number> {
  if (process.env.TRELLIS_SKIP_TYPECHECK === '1') {
    console.log('test: type check skipped (TRELLIS_SKIP_TYPECHECK=1)');
    return 0;
  }
  const started = Date.now();
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  let code = await run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  // The console is browser code (DOM lib, JSX) with its own compiler options.
  if (code === 0) code = await run(process.execPath, [tsc, '-p', 'console/tsconfig.json']);
  console.log(code === 0 ? `test: type check passed (${seconds(started)})` : 'test: type check FAILED (see errors above)');
  return code;
}

/** `npm run lint`: Biome's formatter check and linter, including the import boundaries (biome.json). */
async function lint(): Promise<number> {
  if (process.env.TRELLIS_SKIP_LINT === '1') {
    console.log('test: lint skipped (TRELLIS_SKIP_LINT=1)');
    return 0;
  }
  const started = Date.now();
  const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
  const code = await run(process.execPath, [biome, 'check']);
  console.log(code === 0 ? `test: lint passed (${seconds(started)})` : 'test: lint FAILED (see above; `npm run format` fixes formatting)');
  return code;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const flags = args.filter((a) => a.startsWith('--'));
  const files = args.filter((a) => !a.startsWith('--'));
  const patterns = files.length > 0 ? files : DEFAULT_PATTERNS.filter((p) => globSync(p, { cwd: REPO_ROOT }).length > 0);
  if (patterns.length === 0) {
    console.error(`test: no test files match ${DEFAULT_PATTERNS.join(' or ')}`);
    return 1;
  }

  await installSynapse({ log: (line) => console.log(`test: ${line}`) });
  // The media-preview tests run the real yt-dlp.
  await installYtDlp({ log: (line) => console.log(`test: ${line}`) });
  const testFiles = patterns.flatMap((p) => globSync(p, { cwd: REPO_ROOT }));
  if (testFiles.some((f) => /console|e2e-browser|maubot-webapp/.test(f))) requireChromium();
  // The real maubot (its own .venv-maubot) only for the tests that run it: those using its harness.
  if (testFiles.some((f) => f.endsWith('.ts') && readFileSync(join(REPO_ROOT, f), 'utf8').includes('harness/maubot.ts'))) {
    await installMaubot({ log: (line) => console.log(`test: ${line}`) });
  }

  // The daemon the tests start is the compiled one, as bin/trellis runs it (test/harness/daemon.ts).
  if ((await run(process.execPath, ['scripts/build-server.ts', '--if-stale'])) !== 0) return 1;

  // Type check, lint and homeserver startup are independent; overlapping them saves seconds.
  const startedAt = Date.now();
  const hsPromise = startSynapse();
  hsPromise.catch(() => {}); // awaited below; avoids an unhandled rejection while tsc runs
  let checkCode = await typecheck();
  if (checkCode === 0) checkCode = await lint();
  let hs: Homeserver;
  try {
    hs = await hsPromise;
  } catch (err) {
    console.error(`test: could not start Synapse: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (checkCode !== 0) {
    await hs.stop();
    return checkCode;
  }
  console.log(`test: Synapse ready at ${hs.url} (${seconds(startedAt)})`);

  const stopOnSignal = (signal: NodeJS.Signals): void => {
    // The child test runner gets the same signal from the terminal; just clean up.
    void hs.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  try {
    return await run(
      process.execPath,
      // --test-force-exit: matrix-js-sdk (the test users' client) leaves timers of up to
      // 6 h behind after stopClient(); a file is done when its tests and after-hooks are.
      ['--test', '--test-concurrency=1', '--test-timeout=180000', '--test-force-exit', ...flags, ...patterns],
      { ...process.env, [HOMESERVER_ENV]: JSON.stringify(infoOf(hs)) },
    );
  } finally {
    await hs.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`test: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
