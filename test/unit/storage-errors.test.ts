/**
 * Storage problems at start say what they are: a corrupt database is not
 * blamed on permissions, and an empty database next to existing crypto
 * stores is a lost database, not a fresh install. Checked through
 * openStorage and through `trellis start`, the way an operator meets them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { openStorage } from '../../src/storage/database.ts';
import { trellisBin } from '../harness/daemon.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'trellis-storage-errors-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(trellisBin(), args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  // A daemon that wrongly starts would run forever: stop it so the assertions report that.
  const stop = setTimeout(() => child.kill('SIGTERM'), 30_000);
  return new Promise((res) =>
    child.on('exit', (code) => {
      clearTimeout(stop);
      res({ code, output });
    }),
  );
}

/** A config written by `trellis init` in its own folder; returns the config path and its data_dir. */
async function initConfig(name: string): Promise<{ config: string; dataDir: string }> {
  const dir = join(root, name);
  const config = join(dir, 'trellis.yaml');
  const init = await cli(['init', '--config', config, '--admin-user', 'admin', '--admin-password', 'a long enough password', '--port', '29399']);
  assert.equal(init.code, 0, init.output);
  return { config, dataDir: join(dir, 'data') };
}

describe('openStorage refuses what it cannot use, saying why', () => {
  test('random bytes: not a SQLite database, restore from a backup (not a permissions hint)', async () => {
    const path = join(root, 'random.db');
    writeFileSync(path, randomBytes(8192), { mode: 0o600 });
    await assert.rejects(openStorage({ type: 'sqlite', path }), (err: Error) => {
      assert.match(err.message, /corrupt or not a SQLite database/);
      assert.match(err.message, /restore it from a backup/);
      assert.doesNotMatch(err.message, /writable|permission/i);
      return true;
    });
  });

  test('an empty database next to crypto stores is a lost database', async () => {
    const dir = join(root, 'lost');
    mkdirSync(join(dir, 'crypto'), { recursive: true });
    writeFileSync(join(dir, 'crypto', '%40bot%3Aexample.org.cryptostore'), 'store');
    const path = join(dir, 'trellis.db');
    writeFileSync(path, '');
    await assert.rejects(
      openStorage({ type: 'sqlite', path, cryptoDir: join(dir, 'crypto') }),
      /is empty \(0 bytes\) but .*crypto store\(s\) of bot accounts: the database was lost or truncated\. Restore it from a backup/,
    );
    assert.equal(statSync(path).size, 0, 'the empty file was not turned into a fresh database');
    rmSync(path);
    await assert.rejects(openStorage({ type: 'sqlite', path, cryptoDir: join(dir, 'crypto') }), /is missing but/);
  });

  test('an empty database without crypto stores is a fresh install', async () => {
    const dir = join(root, 'fresh');
    mkdirSync(join(dir, 'crypto'), { recursive: true });
    const storage = await openStorage({ type: 'sqlite', path: join(dir, 'trellis.db'), cryptoDir: join(dir, 'crypto') });
    await storage.close();
  });
});

describe('trellis start with a broken database', () => {
  test('exits non-zero naming a corrupt database', async () => {
    const { config, dataDir } = await initConfig('corrupt');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'trellis.db'), randomBytes(4096), { mode: 0o600 });
    const run = await cli(['start', '--config', config]);
    assert.notEqual(run.code, 0);
    assert.match(run.output, /trellis\.db is corrupt or not a SQLite database/);
    assert.match(run.output, /restore it from a backup/);
    assert.doesNotMatch(run.output, /writable by this user/);
  });

  test('exits non-zero when the database is empty but crypto stores exist', async () => {
    const { config, dataDir } = await initConfig('truncated');
    mkdirSync(join(dataDir, 'crypto'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'crypto', '%40bot%3Aexample.org.cryptostore'), 'store', { mode: 0o600 });
    writeFileSync(join(dataDir, 'trellis.db'), '', { mode: 0o600 });
    const run = await cli(['start', '--config', config]);
    assert.notEqual(run.code, 0);
    assert.match(run.output, /trellis\.db is empty \(0 bytes\) but .*crypto store/);
    assert.equal(statSync(join(dataDir, 'trellis.db')).size, 0, 'nothing was written into it');
  });
});
