/**
 * deploy/systemd/trellis.service: `systemd-analyze verify` has nothing to say
 * (a misspelled value only warns, on stderr), `systemd-analyze security`
 * scores its exposure at 2.0 or less, and it keeps the settings the daemon
 * relies on. Run where systemd-analyze exists (Debian's systemd package);
 * the unit's /opt/trellis paths point at this checkout for the check.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const UNIT = readFileSync(join(REPO, 'deploy/systemd/trellis.service'), 'utf8');
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'trellis-unit-'));
const unitFile = join(dir, 'trellis.service');
writeFileSync(unitFile, UNIT.replaceAll('/opt/trellis', REPO));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The unit's settings: key → values (a key may repeat). */
function settings(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of UNIT.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

describe('the systemd unit', () => {
  test('is Type=notify with a watchdog, reload by SIGHUP, restart on failure, a state directory and credentials', () => {
    const s = settings();
    assert.deepEqual(s.get('Type'), ['notify']);
    assert.deepEqual(s.get('NotifyAccess'), ['all'], 'the daemon notifies through systemd-notify, a child process');
    assert.ok(s.get('WatchdogSec'));
    assert.deepEqual(s.get('Restart'), ['on-failure']);
    assert.deepEqual(s.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(s.get('StateDirectory'), ['trellis']);
    assert.ok((s.get('LoadCredential') ?? []).length > 0);
    assert.ok(s.get('ExecStartPre')?.[0]?.includes('--check-config'));
    assert.equal(s.get('MemoryDenyWriteExecute'), undefined, "V8's JIT and WebAssembly need W+X memory");
    assert.ok(s.get('MemoryMax'));
  });

  test('systemd-analyze verify finds nothing to say', { skip: !hasAnalyze && 'systemd-analyze is not installed' }, () => {
    const result = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.trim(), '', 'no warnings');
  });

  test('systemd-analyze security scores its exposure at 2.0 or less', { skip: !hasAnalyze && 'systemd-analyze is not installed' }, () => {
    const result = spawnSync('systemd-analyze', ['security', '--offline=true', unitFile], { encoding: 'utf8' });
    const score = /Overall exposure level for trellis\.service: ([\d.]+)/.exec(result.stdout)?.[1];
    assert.ok(score, `no score in:\n${result.stdout}\n${result.stderr}`);
    assert.ok(Number(score) <= 2.0, `exposure ${score}`);
  });
});
