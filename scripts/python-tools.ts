/**
 * Installs pinned Python tools into project-local virtualenvs without
 * touching the system Python: Synapse, so integration tests run against a
 * real homeserver, and yt-dlp for the media-preview plugin, into `.venv` at
 * the repo root; the real maubot (the framework uploaded .mbp plugins run on,
 * src/mbp/host.py, and the peer of the import tests) into its own
 * `.venv-maubot`, because its dependencies (aiohttp, attrs, …) clash with
 * Synapse's. Idempotent: a matching install is left alone.
 *
 *   node scripts/python-tools.ts          # Synapse
 *   node scripts/python-tools.ts yt-dlp   # yt-dlp (npm run setup:yt-dlp)
 *   node scripts/python-tools.ts maubot   # maubot 0.6.0 into .venv-maubot (npm run setup:maubot)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYNAPSE_VERSION = '1.163.2';
/** Instagram changes often; yt-dlp follows within days. Debian's 2023 build no longer works. */
export const YT_DLP_VERSION = '2026.10.26';
export const CERTIFI_VERSION = '2026.10.19.post1';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const VENV_DIR = join(REPO_ROOT, '.venv');
export const VENV_PYTHON = join(VENV_DIR, 'bin', 'python');

export const MAUBOT_VERSION = '0.6.0';
/** maubot's own virtualenv: its pins (aiohttp, attrs, ruamel.yaml, …) must not move Synapse's. */
export const MAUBOT_VENV_DIR = join(REPO_ROOT, '.venv-maubot');
export const MAUBOT_VENV_PYTHON = join(MAUBOT_VENV_DIR, 'bin', 'python');
/**
 * maubot 0.6.0's dependency tree, resolved once and pinned so a new release
 * of any of them cannot change what the tests run; every one installs from a
 * wheel on CPython 3.11–3.13 (no compiler; the `encryption` and `legacydb`
 * extras, which would need one, are not installed). asyncpg is one of
 * maubot 0.6.0's own dependencies: the import tests run maubot on
 * PostgreSQL with it.
 */
/** The last SQLAlchemy 1.x: legacy maubot plugins call Engine.execute(), which 2.0 removed. */
export const MAUBOT_SQLALCHEMY_VERSION = '1.4.54';

export const MAUBOT_CONSTRAINTS = [
  'mautrix==0.21.1',
  'aiohttp==3.14.5',
  'aiohappyeyeballs==2.7.1',
  'aiosignal==1.4.0',
  'aiosqlite==0.22.1',
  'asyncpg==0.32.0',
  'attrs==26.1.0',
  'bcrypt==4.3.0',
  'click==8.5.1',
  'colorama==0.4.6',
  'commonmark==0.9.2',
  'frozenlist==1.8.0',
  'idna==3.20',
  'Jinja2==3.1.6',
  'MarkupSafe==3.0.4',
  'multidict==7.2.1',
  'packaging==26.4',
  'prompt_toolkit==3.0.53',
  'propcache==0.5.4',
  'questionary==2.1.1',
  'ruamel.yaml==0.18.17',
  'ruamel.yaml.clib==0.2.15',
  'setuptools==84.2.1',
  'wcwidth==0.9.4',
  'typing_extensions==4.16.0',
  'yarl==1.25.1',
];

export interface InstallOptions {
  /** Progress lines go here; defaults to stdout. */
  log?: (line: string) => void;
  /** The virtualenv to install into (default `.venv`). */
  venvDir?: string;
  /** pip constraints (`name==version` lines) applied to the install's dependencies. */
  constraints?: string[];
}

const pythonOf = (venvDir: string): string => join(venvDir, 'bin', 'python');

/** The version of a Python distribution installed in the venv (default `.venv`), or null. */
export function installedVersion(distribution: string, venvDir: string = VENV_DIR): string | null {
  const python = pythonOf(venvDir);
  if (!existsSync(python)) return null;
  const probe = spawnSync(python, ['-c', `import importlib.metadata as m; print(m.version("${distribution}"))`], { encoding: 'utf8' });
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
 * Ensures the venv (`options.venvDir`, default `.venv`) holds
 * `distribution==version`; idempotent. Creates the venv when missing (an
 * interrupted earlier attempt can leave one without pip: --clear rebuilds
 * it). Returns the venv's python.
 */
export async function installIntoVenv(distribution: string, version: string, options: InstallOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => console.log(line));
  const venvDir = options.venvDir ?? VENV_DIR;
  const python = pythonOf(venvDir);
  const current = installedVersion(distribution, venvDir);
  if (current === version) {
    log(`${distribution} ${version} already installed in ${venvDir}`);
    return python;
  }
  const started = Date.now();
  const hasPip = existsSync(python) && spawnSync(python, ['-m', 'pip', '--version']).status === 0;
  if (!hasPip) {
    log(`creating virtualenv ${venvDir} …`);
    await run('python3', ['-m', 'venv', '--clear', venvDir], 'python3 -m venv (on Debian/Ubuntu install the python3-venv package)');
    log('upgrading pip in the virtualenv …');
    await run(python, ['-m', 'pip', 'install', '--quiet', '--upgrade', 'pip'], 'pip self-upgrade');
  } else if (current !== null) {
    log(`found ${distribution} ${current} in ${venvDir}, replacing it with ${version}`);
  }
  const pipArgs = ['-m', 'pip', 'install', '--quiet'];
  if (options.constraints?.length) {
    // Inside the venv, so it goes away with it; rewritten on every install.
    const constraintsFile = join(venvDir, 'trellis-constraints.txt');
    writeFileSync(constraintsFile, `${options.constraints.join('\n')}\n`);
    pipArgs.push('--constraint', constraintsFile);
  }
  log(`installing ${distribution}==${version} from PyPI …`);
  await run(python, [...pipArgs, `${distribution}==${version}`], `pip install ${distribution}==${version}`);
  const installed = installedVersion(distribution, venvDir);
  if (installed !== version) {
    throw new Error(`after installing, ${python} reports ${distribution} ${installed ?? '(not importable)'} instead of ${version}; delete ${venvDir} and try again`);
  }
  log(`${distribution} ${version} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return python;
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

/**
 * The real maubot 0.6.0 (`python -m maubot`, `mbc`) in `.venv-maubot`, with
 * its dependencies pinned ({@link MAUBOT_CONSTRAINTS}), and SQLAlchemy 1.4 for
 * maubot plugins' legacy databases; returns that venv's python. Uploaded
 * maubot plugins (.mbp) run on it (src/mbp/host.py); so do the maubot import
 * tests and benchmarks.
 */
export async function installMaubot(options: InstallOptions = {}): Promise<string> {
  const python = await installIntoVenv('maubot', MAUBOT_VERSION, { ...options, venvDir: MAUBOT_VENV_DIR, constraints: MAUBOT_CONSTRAINTS });
  // maubot's legacy plugin database (database_type: sqlalchemy) needs SQLAlchemy 1.x, an optional dependency of maubot.
  await installIntoVenv('SQLAlchemy', MAUBOT_SQLALCHEMY_VERSION, { ...options, venvDir: MAUBOT_VENV_DIR, constraints: [...MAUBOT_CONSTRAINTS, 'greenlet==3.5.6'] });
  return python;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const which = process.argv[2];
  const install = which === 'yt-dlp' ? installYtDlp : which === 'maubot' ? installMaubot : installSynapse;
  // --optional (npm install's prepare step): a machine without python3-venv still installs the rest.
  const optional = process.argv.includes('--optional');
  install().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (optional) {
      const needs =
        which === 'maubot'
          ? 'maubot plugins (.mbp) need maubot in .venv-maubot: fix the above and run npm run setup:maubot.'
          : 'The media-preview plugin needs yt-dlp: fix the above and run npm run setup:yt-dlp, or set yt_dlp_path in its config.';
      console.warn(`warning: ${message}\n${needs}`);
      return;
    }
    console.error(message);
    process.exit(1);
  });
}
