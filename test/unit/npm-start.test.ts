/**
 * `npm start` is how the README starts Trellis, and service managers and
 * Ctrl-C signal npm, not the daemon below it: npm must hand SIGTERM on and
 * the daemon must stop cleanly, leaving no orphan holding the port (issue 12).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trellisBin, freePort } from '../harness/daemon.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The npm command as this run was started with it (npm test sets npm_execpath), else npm from PATH. */
function npmCommand(args: string[]): [string, string[]] {
  const cli = process.env.npm_execpath;
  return cli && existsSync(cli) ? [process.execPath, [cli, ...args]] : ['npm', args];
}

const children = (pid: number): number[] => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);

test('SIGTERM to `npm start` stops the daemon cleanly; no process is left behind', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-npm-start-'));
  let group: number | undefined;
  try {
    const config = join(dir, 'trellis.yaml');
    const port = await freePort();
    const init = spawnSync(trellisBin(), ['init', '--config', config, '--admin-user', 'admin', '--admin-password', 'a long passphrase', '--port', String(port)], {
      encoding: 'utf8',
    });
    assert.equal(init.status, 0, init.stderr);

    const [command, args] = npmCommand(['start', '--silent', '--', '--config', config]);
    const npm = spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    // Its own process group, so a failed run can remove npm and whatever it left behind.
    group = npm.pid;
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 45_000;
    while (!output.includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(output, /listening on http:\/\/127\.0\.0\.1:\d+/, output);

    // npm's child is the daemon itself (bin/trellis execs node), not a shell that would swallow the signal,
    // and it runs the compiled JavaScript, not the TypeScript source.
    const pid = npm.pid as number;
    const [daemon] = children(pid);
    assert.ok(daemon, 'npm has a child process');
    assert.match(readFileSync(`/proc/${daemon}/cmdline`, 'utf8'), /dist\/src\/cli\/main\.js\0start\0/);

    npm.kill('SIGTERM');
    await exited;
    const gone = Date.now() + 15_000;
    while (existsSync(`/proc/${daemon}`) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(`/proc/${daemon}`), false, 'the daemon is still running after npm was stopped');
    assert.match(output, /"received SIGTERM"[\s\S]*"shutting down"/);
  } finally {
    try {
      if (group) process.kill(-group, 'SIGKILL');
    } catch {
      // The group is already gone: the expected case.
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
