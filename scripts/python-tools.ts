/**
 * Installs pinned Python tools into the project-local virtualenv (`.venv` at
 * the repo root) without touching the system Python: Synapse, so integration
 * tests run against a real homeserver, and yt-dlp for the media-preview
 * plugin. Idempotent: a matching install is left alone.
 *
 *   node scripts/python-tools.ts          # Synapse
 *   node scripts/python-tools.ts yt-dlp   # yt-dlp (npm run setup:yt-dlp)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYNAPSE_VERSION = '1.163.2';
/** Instagram changes often; yt-dlp follows within days. Debian's 2023 build no longer works. */
export const YT_DLP_VERSION = '2026.10.26';
export const CERTIFI_VERSION = '2026.10.19.post1';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const VENV_DIR = join(REPO_ROOT, '.venv');
export const VENV_PYTHON = join(VENV_DIR, 'bin', 'python');

export interface InstallOptions {
  /** Progress lines go here; defaults to stdout. */
  log?: (line: string) => void;
}

/** The version of a Python distribution installed in the venv, or null. */
export function installedVersion(distribution: string): string | null {
  if (!existsSync(VENV_PYTHON)) return null;
  const probe = spawnSync(VENV_PYTHON, ['-c', `import importlib.metadata as m; print(m.version("${distribution}"))`], { encoding: 'utf8' });
  if (probe.status !== 0) return null;
  return probe.stdout.trim() || null;
}

/** The Synapse version importable from the venv, or null if there is none. */
export function installedSynapseVersion(): string | null {
  return installedVersion('matrix-synapse');
}

function run(command: string, args: string[], what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // pip output is long; keep it for the error message instead of flooding the test log.
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-8000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) => reject(new Error(`${what} failed to start (${command}): ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${what} failed (exit ${code}). Last output:\n${output.trim().split('\n').slice(-25).join('\n')}`));
    });
  });
}

/**
 * Ensures `.venv` holds `distribution==version`; idempotent. Creates the
 * venv when missing (an interrupted earlier attempt can leave one without
 * pip: --clear rebuilds it).
 */
export async function installIntoVenv(distribution: string, version: string, options: InstallOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => console.log(line));
  const current = installedVersion(distribution);
  if (current === version) {
    log(`${distribution} ${version} already installed in ${VENV_DIR}`);
    return VENV_PYTHON;
  }
  const started = Date.now();
  const hasPip = existsSync(VENV_PYTHON) && spawnSync(VENV_PYTHON, ['-m', 'pip', '--version']).status === 0;
  if (!hasPip) {
    log(`creating virtualenv ${VENV_DIR} …`);
    await run('python3', ['-m', 'venv', '--clear', VENV_DIR], 'python3 -m venv (on Debian/Ubuntu install the python3-venv package)');
    log('upgrading pip in the virtualenv …');
    await run(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', '--upgrade', 'pip'], 'pip self-upgrade');
  } else if (current !== null) {
    log(`found ${distribution} ${current} in ${VENV_DIR}, replacing it with ${version}`);
  }
  log(`installing ${distribution}==${version} from PyPI …`);
  await run(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', `${distribution}==${version}`], `pip install ${distribution}==${version}`);
  const installed = installedVersion(distribution);
  if (installed !== version) {
    throw new Error(`after installing, ${VENV_PYTHON} reports ${distribution} ${installed ?? '(not importable)'} instead of ${version}; delete ${VENV_DIR} and try again`);
  }
  log(`${distribution} ${version} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return VENV_PYTHON;
}

/** Ensures `.venv` holds matrix-synapse at {@link SYNAPSE_VERSION}; returns the venv's python. */
export function installSynapse(options: InstallOptions = {}): Promise<string> {
  return installIntoVenv('matrix-synapse', SYNAPSE_VERSION, options);
}

/**
 * yt-dlp for the media-preview plugin: `.venv/bin/yt-dlp`, with certifi: its
 * default extras bring certifi, whose CA bundle it then trusts instead of the
 * system's. Installed explicitly so yt-dlp behaves the same whether or not
 * Synapse (which also brings certifi) is in the same venv.
 */
export async function installYtDlp(options: InstallOptions = {}): Promise<string> {
  const python = await installIntoVenv('yt-dlp', YT_DLP_VERSION, options);
  await installIntoVenv('certifi', CERTIFI_VERSION, options);
  return python;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const install = process.argv[2] === 'yt-dlp' ? installYtDlp : installSynapse;
  // --optional (npm install's prepare step): a machine without python3-venv still installs the rest.
  const optional = process.argv.includes('--optional');
  install().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (optional) {
      console.warn(`warning: ${message}\nThe media-preview plugin needs yt-dlp: fix the above and run npm run setup:yt-dlp, or set yt_dlp_path in its config.`);
      return;
    }
    console.error(message);
    process.exit(1);
  });
}
