/**
 * Installs the pinned Synapse into a project-local virtualenv (`.venv` at the
 * repo root) so integration tests run against a real homeserver without
 * touching the system Python. Idempotent: a matching install is left alone.
 *
 *   node scripts/install-synapse.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYNAPSE_VERSION = '1.163.2';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const VENV_DIR = join(REPO_ROOT, '.venv');
export const VENV_PYTHON = join(VENV_DIR, 'bin', 'python');

export interface InstallOptions {
  /** Progress lines go here; defaults to stdout. */
  log?: (line: string) => void;
}

/** The Synapse version importable from the venv, or null if there is none. */
export function installedSynapseVersion(): string | null {
  if (!existsSync(VENV_PYTHON)) return null;
  const probe = spawnSync(VENV_PYTHON, ['-c', 'import importlib.metadata as m; print(m.version("matrix-synapse"))'], { encoding: 'utf8' });
  if (probe.status !== 0) return null;
  return probe.stdout.trim() || null;
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

/** Ensures `.venv` holds matrix-synapse at {@link SYNAPSE_VERSION}; returns the venv's python. */
export async function installSynapse(options: InstallOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => console.log(line));
  const current = installedSynapseVersion();
  if (current === SYNAPSE_VERSION) {
    log(`synapse ${SYNAPSE_VERSION} already installed in ${VENV_DIR}`);
    return VENV_PYTHON;
  }
  const started = Date.now();
  // An interrupted earlier attempt can leave a venv without pip; --clear rebuilds it.
  const hasPip = existsSync(VENV_PYTHON) && spawnSync(VENV_PYTHON, ['-m', 'pip', '--version']).status === 0;
  if (!hasPip) {
    log(`creating virtualenv ${VENV_DIR} …`);
    await run(
      'python3',
      ['-m', 'venv', '--clear', VENV_DIR],
      'python3 -m venv (on Debian/Ubuntu install the python3-venv package)',
    );
  } else if (current !== null) {
    log(`found synapse ${current} in ${VENV_DIR}, replacing it with ${SYNAPSE_VERSION}`);
  }
  log('upgrading pip in the virtualenv …');
  await run(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', '--upgrade', 'pip'], 'pip self-upgrade');
  log(`installing matrix-synapse==${SYNAPSE_VERSION} from PyPI (takes a minute) …`);
  await run(
    VENV_PYTHON,
    ['-m', 'pip', 'install', '--quiet', `matrix-synapse==${SYNAPSE_VERSION}`],
    `pip install matrix-synapse==${SYNAPSE_VERSION}`,
  );
  const installed = installedSynapseVersion();
  if (installed !== SYNAPSE_VERSION) {
    throw new Error(
      `after installing, ${VENV_PYTHON} reports synapse ${installed ?? '(not importable)'} instead of ${SYNAPSE_VERSION}; ` +
        `delete ${VENV_DIR} and run node scripts/install-synapse.ts again`,
    );
  }
  log(`synapse ${SYNAPSE_VERSION} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return VENV_PYTHON;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  installSynapse().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
