/**
 * A maubot plugin's `dependencies` (maubot itself ignores them, maubot#10):
 * installed with pip at upload into the plugin's own folder (`.deps`, put on
 * the host's sys.path first), so plugins never share or fight over packages.
 * Wheels shipped inside the .mbp are used offline (`--no-index`); otherwise
 * pip asks the package index the machine is configured for (PIP_INDEX_URL…).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PluginValidationError } from '../plugin-package/manifest.ts';

export const DEPS_DIR = '.deps';
const PIP_TIMEOUT_MS = 5 * 60_000;

/** Folders of the extracted plugin that hold wheels (`*.whl`). */
function wheelFolders(root: string): string[] {
  const found = new Set<string>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === DEPS_DIR) continue;
      if (entry.isDirectory()) visit(join(dir, entry.name));
      else if (entry.name.endsWith('.whl')) found.add(dir);
    }
  };
  visit(root);
  return [...found];
}

/** Installs `dependencies` into `<pluginDir>/.deps`; throws a PluginValidationError quoting pip when it cannot. */
export async function installDependencies(python: string, pluginDir: string, dependencies: readonly string[]): Promise<void> {
  if (dependencies.length === 0) return;
  if (!existsSync(python)) {
    throw new PluginValidationError([`dependencies: maubot plugins need Python with maubot (${python} is missing); run npm run setup:maubot`]);
  }
  const wheels = wheelFolders(pluginDir);
  const source = wheels.length > 0 ? ['--no-index', ...wheels.flatMap((dir) => ['--find-links', dir])] : [];
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--no-cache-dir', '--quiet', '--target', join(pluginDir, DEPS_DIR), ...source, '--', ...dependencies];
  const output = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(python, args, { cwd: pluginDir, stdio: ['ignore', 'pipe', 'pipe'], timeout: PIP_TIMEOUT_MS });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', (err) => resolve({ code: -1, text: err.message }));
    child.on('close', (code) => resolve({ code, text }));
  });
  if (output.code === 0) return;
  const where = wheels.length > 0 ? `from the wheels in ${wheels.map((w) => relative(pluginDir, w) || '.').join(', ')}` : 'from the package index';
  const pip = output.text.trim().split('\n').slice(-6).join(' | ');
  throw new PluginValidationError([`dependencies: pip could not install ${dependencies.join(', ')} ${where}: ${pip}`]);
}
