/**
 * maubot's own CLI, the real `mbc` 0.6.0 (`.venv-maubot`, see
 * test/harness/maubot.ts), against a real Trellis daemon and Synapse:
 * `mbc login`, `mbc upload` of an archive `trellis plugin build` made,
 * `mbc auth` (list, register, login, with and without -c, single sign-on
 * refused, an unknown server) and `mbc logs` streaming live records.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { uniqueLocalpart } from '../harness/matrix-user.ts';
import { ADMIN_PASSWORD, TestDaemon } from '../harness/daemon.ts';
import { mbcPath } from '../harness/maubot.ts';

const HELLO = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/plugins/hello');
const SHOWCASE = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/maubot-plugins/showcase');
/** colorama's colour codes (mbc prints them even when not on a terminal). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

describe('the real mbc against Trellis', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  /** mbc's home: $XDG_CONFIG_HOME/maubot-cli.json holds its server, alias and token. */
  let home: string;
  let mbc: string;
  const running = new Set<ChildProcess>();

  const env = () => ({ ...process.env, XDG_CONFIG_HOME: home, HOME: home, PYTHONUNBUFFERED: '1' });

  /** Runs mbc to the end (stdin is not a terminal, so every option is given) and returns its output without colours. */
  const run = (args: string[]): Promise<string> =>
    new Promise((resolveRun, reject) => {
      const child = spawn(mbc, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env() });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => {
        const text = out.replace(ANSI, '');
        if (code === 0) resolveRun(text);
        else reject(new Error(`mbc ${args[0]} exited ${code}:\n${text}`));
      });
    });

  const password = 'bot-password-' + Math.random().toString(36).slice(2);
  const localpart = uniqueLocalpart('mbcbot');
  let userId: string;

  before(async () => {
    mbc = mbcPath();
    hs = await sharedOrOwnHomeserver();
    home = mkdtempSync(join(tmpdir(), 'trellis-mbc-'));
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main!.shared_secret = hs.sharedSecret;
    });
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await daemon?.dispose();
    if (home) rmSync(home, { recursive: true, force: true });
    await hs?.release();
  });

  it('mbc login stores a token for the server', async () => {
    const out = await run(['login', '-u', 'admin', '-p', ADMIN_PASSWORD, '-s', daemon.url, '-a', '']);
    assert.match(out, /Logged in successfully/, out);
    const config = JSON.parse(readFileSync(join(home, 'maubot-cli.json'), 'utf8')) as { servers: Record<string, string>; default_server: string };
    assert.equal(config.default_server, daemon.url);
    assert.ok(config.servers[daemon.url]);
  });

  it('mbc upload installs an archive built by trellis plugin build', async () => {
    const archive = join(home, 'hello.zip');
    await daemon.cli(['plugin', 'build', HELLO, '--out', archive]);
    const out = await run(['upload', archive, '-s', daemon.url]);
    assert.match(out, /Plugin org\.example\.hello v1\.2\.0 uploaded to .* successfully/, out);
    assert.equal((await daemon.api('GET', '/plugin/org.example.hello')).status, 200);
  });

  it('mbc build --upload builds a maubot plugin folder into an .mbp and installs it as a maubot plugin', async () => {
    const out = await run(['build', SHOWCASE, '--output', join(home, 'showcase.mbp'), '--upload', '-s', daemon.url]);
    assert.match(out, /Plugin org\.example\.showcase v1\.0\.0 uploaded to .* successfully/, out);
    const plugin = await daemon.api<{ kind: string }>('GET', '/plugin/org.example.showcase');
    assert.equal(plugin.body.kind, 'maubot');
  });

  it('mbc auth --list prints the configured homeservers', async () => {
    const out = await run(['auth', '--list', '-s', daemon.url]);
    assert.match(out, /Available Matrix servers/, out);
    assert.deepEqual(out.match(/^\* .*$/gm), ['* main']);
  });

  it('mbc auth --register without -c shows the new access token and saves nothing', async () => {
    const out = await run(['auth', '-r', '-h', 'main', '-u', localpart, '-p', password, '-s', daemon.url]);
    const registered = /Successfully registered (@\S+)\.\s+Access token: (\S+)\s+Device ID: (\S+)/.exec(out);
    assert.ok(registered, out);
    userId = registered[1]!;
    assert.equal(userId, `@${localpart}:${hs.serverName}`);
    const whoami = await fetch(`${hs.url}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${registered[2]}` } });
    assert.equal(((await whoami.json()) as { user_id: string }).user_id, userId, 'the token shown works');
    assert.equal((await daemon.api('GET', `/client/${encodeURIComponent(userId)}`)).status, 404, 'no bot account was added');
    assert.ok(!daemon.output.join('\n').includes(registered[2]!), 'the token is not logged');
  });

  it('mbc auth -c adds the bot account, then updates it; without -c it shows a token', async () => {
    const created = await run(['auth', '-c', '-h', 'main', '-u', localpart, '-p', password, '-n', 'mbc test', '-s', daemon.url]);
    assert.match(created, new RegExp(`Successfully created client for ${userId.replace(/\./g, '\\.')} / \\S+\\.`), created);
    assert.equal((await daemon.api('GET', `/client/${encodeURIComponent(userId)}`)).status, 200);
    const updated = await run(['auth', '-c', '-h', 'main', '-u', localpart, '-p', password, '-s', daemon.url]);
    assert.match(updated, /Successfully updated client for /, updated);
    const login = await run(['auth', '-h', 'main', '-u', localpart, '-p', password, '-s', daemon.url]);
    assert.match(login, new RegExp(`Successfully logged in as ${userId.replace(/\./g, '\\.')}\\.\\s+Access token: \\S+`), login);
  });

  it('mbc auth explains an unknown server and a wrong password, and refuses single sign-on', async () => {
    const unknown = await run(['auth', '-h', 'nowhere', '-u', localpart, '-p', password, '-s', daemon.url]);
    assert.match(unknown, /Registration target server not found/, unknown);
    const wrong = await run(['auth', '-h', 'main', '-u', localpart, '-p', 'not-the-password', '-s', daemon.url]);
    assert.match(wrong, /Failed to log in: .*wrong username or password/, wrong);
    const sso = await run(['auth', '--sso', '-h', 'main', '-s', daemon.url]);
    assert.match(sso, /Failed to log in: single sign-on is not supported/, sso);
  });

  it('mbc logs shows the recent and the live records, and ends when the daemon shuts down (1012)', async () => {
    const child = spawn(mbc, ['logs', daemon.url, '--tail', '50'], { stdio: ['ignore', 'pipe', 'pipe'], env: env() });
    running.add(child);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8').replace(ANSI, '')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8').replace(ANSI, '')));
    try {
      await daemon.waitFor('mbc logs connected', async () => out.includes('Connected to log websocket'), 15_000);
      // The history: the account saved by mbc auth -c a moment ago is among the last 50 records.
      await daemon.waitFor('the history in mbc logs', async () => /\] \[INFO@trellis\.\w+\] bot account @mbcbot\S* saved/.test(out) || undefined, 15_000);
      const put = await daemon.api('PUT', '/instance/mbc-hello', { type: 'org.example.hello', primary_user: userId, enabled: false });
      assert.equal(put.status, 201, put.text);
      await daemon.waitFor('the live record in mbc logs', async () => /\[INFO@maubot\.instance\.mbc-hello\] instance mbc-hello created/.test(out), 15_000);
      assert.match(out, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[INFO@maubot\.instance\.mbc-hello\] /m);

      // A shutdown closes the log websockets with 1012 (service restart); mbc then ends by itself.
      const ws = new WebSocket(`ws://127.0.0.1:${daemon.port}/_matrix/maubot/v1/logs`);
      const closed = new Promise<number>((r) => ws.addEventListener('close', (ev) => r(ev.code), { once: true }));
      const authenticated = new Promise<void>((r) => ws.addEventListener('message', () => r(), { once: true }));
      ws.addEventListener('open', () => ws.send(JSON.parse(readFileSync(join(home, 'maubot-cli.json'), 'utf8')).servers[daemon.url] as string), { once: true });
      await authenticated;
      await daemon.stop();
      assert.equal(await closed, 1012);
      assert.equal(await exited, 0, 'mbc logs ended by itself');
      assert.doesNotMatch(out, /Traceback|TypeError|Connection error|Failed to authenticate/, out);
    } finally {
      child.kill('SIGTERM');
      running.delete(child);
    }
  });
});
