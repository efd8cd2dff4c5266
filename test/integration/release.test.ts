/**
 * Issue 15's release bundle: `npm run release` makes
 * trellis-<version>-linux-x64.tar.gz; unpacked into an empty folder it runs
 * with a PATH that holds only the three tools bin/trellis's shell lines use
 * (no node, no npm, no python): `trellis init`, `trellis start`, and the API
 * answers /version.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRelease } from '../../scripts/release.ts';
import { ADMIN_PASSWORD, freePort } from '../harness/daemon.ts';

describe('the release bundle', () => {
  let work: string;
  let archive: string;
  let daemon: ChildProcess | undefined;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'trellis-release-'));
    archive = await buildRelease(join(work, 'out'));
  });

  after(() => {
    daemon?.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('unpacks into an empty folder and starts with nothing else on PATH', { timeout: 120_000 }, async () => {
    assert.match(archive, /trellis-\d+\.\d+\.\d+-linux-x64\.tar\.gz$/);
    const target = join(work, 'opt');
    mkdirSync(target);
    const untar = spawnSync('tar', ['-xzf', archive, '-C', target]);
    assert.equal(untar.status, 0, String(untar.stderr));
    const [root] = readdirSync(target);
    const home = join(target, root!);
    assert.deepEqual(readdirSync(home).sort(), ['README.md', 'bin', 'console', 'deploy', 'dist', 'docs', 'node_modules', 'package-lock.json', 'package.json']);
    assert.ok(!readdirSync(join(home, 'node_modules')).includes('typescript'), 'no development packages');

    // bin/trellis is a shell script using dirname and readlink: those, and nothing else.
    const path = join(work, 'path');
    mkdirSync(path);
    for (const tool of ['sh', 'dirname', 'readlink']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(found, join(path, tool));
    }
    const env = { PATH: path, HOME: work };
    const config = join(work, 'trellis.yaml');
    const port = await freePort();
    const init = spawnSync(join(home, 'bin', 'trellis'), ['init', '--config', config, '--admin-user', 'admin', '--admin-password', ADMIN_PASSWORD, '--port', String(port)], {
      env,
      encoding: 'utf8',
      cwd: work,
    });
    assert.equal(init.status, 0, `${init.stdout}${init.stderr}`);

    let output = '';
    daemon = spawn(join(home, 'bin', 'trellis'), ['start', '--config', config], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout!.on('data', (d: Buffer) => (output += d));
    daemon.stderr!.on('data', (d: Buffer) => (output += d));
    const deadline = Date.now() + 60_000;
    let version: { version?: string } | null = null;
    while (!version && Date.now() < deadline) {
      version = await fetch(`http://127.0.0.1:${port}/_matrix/maubot/v1/version`)
        .then((r) => (r.ok ? (r.json() as Promise<{ version?: string }>) : null))
        .catch(() => null);
      if (!version) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(version, `the bundle's daemon never answered /version:\n${output.slice(-3000)}`);
    assert.match(version.version ?? '', /^\d+\.\d+\.\d+/);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200, 'the built console is served');
    assert.doesNotMatch(output, /built from console\/src|dist missing/, 'the bundle runs its compiled code and built console');
  });
});
