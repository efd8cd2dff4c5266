/**
 * deploy/nixos: the module and its helpers parse (`nix-instantiate --parse`),
 * and the example settings rendered through render-config.nix — the file the
 * module renders its config with — make a config that
 * `trellis start --check-config` accepts, its secrets read as systemd
 * credentials. Run where nix-instantiate exists (Debian's nix-bin, installed
 * by scripts/system-packages.sh).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { trellisBin } from '../harness/daemon.ts';

const NIXOS = fileURLToPath(new URL('../../deploy/nixos/', import.meta.url));
const hasNix = spawnSync('nix-instantiate', ['--version']).status === 0;
const skip = !hasNix && 'nix-instantiate is not installed (Debian: nix-bin)';
const dir = mkdtempSync(join(tmpdir(), 'trellis-nixos-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function evalJson(expression: string): unknown {
  const result = spawnSync('nix-instantiate', ['--eval', '--strict', '--json', '--readonly-mode', '-E', expression], { cwd: NIXOS, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

describe('the NixOS module', () => {
  test('module.nix, render-config.nix and example-settings.nix parse', { skip }, () => {
    for (const file of ['module.nix', 'render-config.nix', 'example-settings.nix']) {
      const result = spawnSync('nix-instantiate', ['--parse', join(NIXOS, file)], { encoding: 'utf8' });
      assert.equal(result.status, 0, `${file}: ${result.stderr}`);
    }
  });

  test('renders data_dir by default and merges declarative instances into settings', { skip }, () => {
    const rendered = evalJson('import ./render-config.nix { settings = { instances.a = { type = "x"; }; }; instances.b = { type = "y"; }; }') as {
      data_dir: string;
      instances: Record<string, unknown>;
    };
    assert.equal(rendered.data_dir, '/var/lib/trellis');
    assert.deepEqual(Object.keys(rendered.instances).sort(), ['a', 'b']);
  });

  test('the example renders to a config that trellis start --check-config accepts, secrets from credentials', { skip }, () => {
    const config = evalJson(`import ./render-config.nix { settings = (import ./example-settings.nix) // { data_dir = "${join(dir, 'data')}"; }; }`);
    const file = join(dir, 'trellis.yaml');
    writeFileSync(file, JSON.stringify(config));
    const credentials = join(dir, 'credentials');
    mkdirSync(credentials);
    const check = () => spawnSync(trellisBin(), ['start', '--check-config', '--config', file], { encoding: 'utf8', env: { ...process.env, CREDENTIALS_DIRECTORY: credentials } });

    const missing = check();
    assert.equal(missing.status, 1, 'the credentials are not there yet');
    assert.match(missing.stdout + missing.stderr, /token_secret/);

    writeFileSync(join(credentials, 'token_secret'), 'a-token-secret-of-enough-length-0123456789');
    writeFileSync(join(credentials, 'homeserver_shared_secret'), 'shared-secret-0123456789');
    writeFileSync(join(credentials, 'pickle_key'), 'pickle-key-of-enough-length-0123456789');
    const valid = check();
    assert.equal(valid.status, 0, valid.stdout + valid.stderr);
    assert.match(valid.stdout, /the configuration is valid/);
  });
});
