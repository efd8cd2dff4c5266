/**
 * maubot's own management web app (the build shipped in maubot 0.6.0's PyPI
 * package) against Trellis's API, in headless Chromium: served as maubot
 * serves it (test/harness/maubot-webapp.ts, same origin, API and log
 * websocket passed through to a real daemon on a real Synapse), it logs in,
 * lists instances and clients, creates an instance, edits its YAML config,
 * shows live logs, and does the rest of what the app offers (avatars through
 * the media proxy, new client, plugin upload, database view); no API request
 * of the app fails but the expected ones. Screenshots: maubot-webapp-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'yaml';
import { buildPlugin } from '../../src/plugin-package/build.ts';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser } from '../harness/matrix-user.ts';
import { ADMIN_PASSWORD, FIXTURE_PLUGINS, TestDaemon } from '../harness/daemon.ts';
import { launchChromium, screenshot } from '../harness/browser.ts';
import { maubotWebAppDir } from '../harness/maubot.ts';
import { API_PATH, type MaubotWebApp, serveMaubotWebApp } from '../harness/maubot-webapp.ts';

type Json = Record<string, unknown>;

const WIDE = { width: 1366, height: 900 };
/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

describe("maubot's web app against Trellis, in headless Chromium", () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let app: MaubotWebApp;
  let browser: Browser;
  let page: Page;
  let bot: TestUser;
  let bot2: TestUser;
  let human: TestUser;
  let room: string;
  let faultyArchive: Buffer;
  /** Every API answer the app got: method, path and status. */
  const answers: { method: string; path: string; status: number }[] = [];
  /** The websockets the app opened. */
  const sockets: string[] = [];
  /** Console errors and uncaught exceptions of the page. */
  const pageErrors: string[] = [];

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    daemon = await TestDaemon.create(hs);
    bot = await TestUser.create(hs, 'mbwebbot');
    bot2 = await TestUser.create(hs, 'mbwebnew');
    human = await TestUser.create(hs, 'mbwebhuman');
    const work = await mkdtemp(join(tmpdir(), 'trellis-mbweb-'));
    try {
      faultyArchive = await readFile((await buildPlugin(join(FIXTURE_PLUGINS, 'faulty'), { outFile: join(work, 'faulty.zip') })).file);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const client = await daemon.api('POST', '/client/new', { homeserver: hs.url, access_token: bot.accessToken, device_id: bot.deviceId });
    assert.equal(client.status, 201, client.text);
    await daemon.uploadFixture('hello');
    const existing = await daemon.api('PUT', '/instance/existing-hello', { type: 'org.example.hello', primary_user: bot.userId, config: 'greeting: hey\n' });
    assert.equal(existing.status, 201, existing.text);
    // A plugin with storage, for the database view.
    const wordle = await daemon.api('PUT', '/instance/wordle', { type: 'org.trellis.wordle', primary_user: bot.userId, config: 'seed: maubot-webapp\n' });
    assert.equal(wordle.status, 201, wordle.text);

    app = await serveMaubotWebApp(daemon.url, maubotWebAppDir());
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: WIDE })).newPage();
    page.setDefaultTimeout(15_000);
    page.on('response', (res) => {
      const url = new URL(res.url());
      if (url.pathname.startsWith(API_PATH)) answers.push({ method: res.request().method(), path: url.pathname, status: res.status() });
    });
    page.on('websocket', (ws) => sockets.push(new URL(ws.url()).pathname));
    page.on('console', (msg) => msg.type() === 'error' && pageErrors.push(msg.text()));
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await daemon?.dispose();
    await hs?.release();
  });

  it('serves the app, paths.json and the API on one origin, as maubot does', async () => {
    const index = await fetch(app.url);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /<title>Maubot Manager<\/title>/);
    assert.deepEqual(await (await fetch(`${app.url}paths.json`)).json(), { api_path: API_PATH });
    const deep = await fetch(`${app.url}some/client/route`);
    assert.match(await deep.text(), /Maubot Manager/, 'unknown paths under the base are the app');
    assert.equal((await fetch(`${app.origin}${API_PATH}/instances`)).status, 401, 'the API is passed through');
  });

  it("logs in through maubot's login form", async () => {
    // A stored token Trellis does not know (expired, revoked): the app asks for a login again.
    await page.goto(app.url);
    // Mounted first (no token: the login form, no request): a slow first load would otherwise read
    // the token set below and ping with it once more than the reload does.
    await page.locator('form.login').waitFor();
    await page.evaluate("localStorage.accessToken = 'not-a-trellis-token'");
    await page.reload();
    await page.locator('form.login input[name="username"]').fill('admin');
    await page.locator('form.login input[name="password"]').fill('wrong password');
    await page.locator('form.login button[type="submit"]').click();
    await page.locator('form.login .error').filter({ hasText: 'wrong username or password' }).waitFor();
    await screenshot(page, 'maubot-webapp-login-refused');
    await page.locator('form.login input[name="password"]').fill(ADMIN_PASSWORD);
    await page.locator('form.login button[type="submit"]').click();
    await page.locator('.dashboard .user').filter({ hasText: 'admin' }).waitFor();
    await screenshot(page, 'maubot-webapp-dashboard');
    // The token in localStorage is checked with POST /auth/ping after a reload.
    await page.reload();
    await page.locator('.dashboard .user').filter({ hasText: 'admin' }).waitFor();
  });

  it('lists the instances, clients and plugins', async () => {
    await page.locator('.instances.list a.instance.entry').filter({ hasText: 'existing-hello' }).waitFor();
    const client = page.locator(`.clients.list a.client.entry[href="#/client/${bot.userId}"]`);
    await client.waitFor();
    await page.locator('.plugins.list').getByText('org.example.hello').waitFor();
    await client.click();
    assert.equal(await page.locator('.client input.id').inputValue(), bot.userId, "the client's page shows its user id");
    await screenshot(page, 'maubot-webapp-client');
    await page.locator('.instances.list a.instance.entry').filter({ hasText: 'existing-hello' }).click();
    assert.equal(await page.locator('.instance input[name="id"]').inputValue(), 'existing-hello');
    await page.locator('.instance .ace_content').filter({ hasText: 'greeting: hey' }).waitFor();
    await screenshot(page, 'maubot-webapp-instance');
  });

  it("uploads the client's avatar through the media proxy and saves it; the list shows it", async () => {
    await page.locator(`.clients.list a.client.entry[href="#/client/${bot.userId}"]`).click();
    await page.locator('.client input.file-selector').setInputFiles({ name: 'avatar.png', mimeType: 'image/png', buffer: PNG });
    const preview = page.locator('.client .avatar-container img.avatar');
    await preview.waitFor();
    await page.locator('.client .buttons button.save').click();
    const listed = page.locator(`.clients.list a.client.entry[href="#/client/${bot.userId}"] img.avatar`);
    await listed.waitFor();
    // Loaded through the proxy (<img src="…/proxy/…/download/…?access_token=…">): the 1×1 PNG.
    await page.waitForFunction("(() => { const img = document.querySelector('.clients.list img.avatar'); return img !== null && img.complete && img.naturalWidth === 1; })()");
    await screenshot(page, 'maubot-webapp-client-avatar');
    const saved = await daemon.api<Json>('GET', `/client/${encodeURIComponent(bot.userId)}`);
    assert.match(String(saved.body.avatar_url), /^mxc:\/\//);
    assert.equal(saved.body.displayname, 'disable', 'the display name stays unmanaged');
  });

  it('adds a client with an access token in the new-client form; it starts and syncs', async () => {
    await page.locator('.clients.list .title a').click();
    await page.locator('.client input[name="id"]').fill(bot2.userId);
    await page.locator('.client .select').click();
    await page.locator('[id*="-option-"]').filter({ hasText: 'main' }).click();
    await page.locator('.client input[name="access_token"]').fill(bot2.accessToken);
    await page.locator('.client input[name="device_id"]').fill(bot2.deviceId);
    await screenshot(page, 'maubot-webapp-new-client');
    await page.locator('.client .buttons button.save').click();
    await page.waitForURL(new RegExp(`#/client/${bot2.userId.replace(/[.]/g, '\\.')}$`));
    await page.locator(`.clients.list a.client.entry[href="#/client/${bot2.userId}"]`).waitFor();
    const created = await daemon.waitFor('the new client syncing', async () => {
      const c = (await daemon.api<Json>('GET', `/client/${encodeURIComponent(bot2.userId)}`)).body;
      return c.sync_ok === true ? c : undefined;
    });
    assert.equal(created.homeserver, hs.url);
    assert.equal(created.device_id, bot2.deviceId);
    assert.equal(created.enabled, true);
    await page.locator('.client .started-container').filter({ hasText: 'Started' }).waitFor();
    await screenshot(page, 'maubot-webapp-client-added');
  });

  it('stops and starts a client with its button, clears its cache, and deletes it', async () => {
    const path = `/client/${encodeURIComponent(bot2.userId)}`;
    const status = page.locator('.client .started-container');
    await page.locator('.client .sidebar button.save').filter({ hasText: 'Stop' }).click();
    await status.filter({ hasText: 'Stopped' }).waitFor();
    assert.equal((await daemon.api<Json>('GET', path)).body.started, false);
    await page.locator('.client .sidebar button.save').filter({ hasText: 'Start' }).click();
    await status.filter({ hasText: 'Started' }).waitFor();
    await daemon.waitFor('the client syncing again', async () => (await daemon.api<Json>('GET', path)).body.sync_ok === true || undefined);
    const cleared = page.waitForResponse((res) => res.url().endsWith('/clearcache'));
    await page.locator('.client .sidebar button.clearcache').click();
    assert.deepEqual(await (await cleared).json(), { success: true });
    assert.equal(await page.locator('.client .error').first().textContent(), '');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('.client button.delete').click();
    await page.waitForURL(/#\/$/);
    await page.locator(`.clients.list a.client.entry[href="#/client/${bot2.userId}"]`).waitFor({ state: 'detached' });
    assert.equal((await daemon.api('GET', path)).status, 404);
  });

  it('uploads a plugin archive in the plugin view', async () => {
    await page.locator('.plugins.list .title a').click();
    await page.locator('.plugin input.file-selector').setInputFiles({ name: 'faulty.zip', mimeType: 'application/zip', buffer: faultyArchive });
    await page.waitForURL(/#\/plugin\/org\.example\.faulty$/);
    await page.locator('.plugins.list a.plugin.entry').filter({ hasText: 'org.example.faulty' }).waitFor();
    assert.equal(await page.locator('.plugin input.id').inputValue(), 'org.example.faulty');
    await screenshot(page, 'maubot-webapp-plugin-uploaded');
    assert.equal((await daemon.api('GET', '/plugin/org.example.faulty')).status, 200);
  });

  it('creates an instance (plugin, primary user, id) and edits its YAML config', async () => {
    await page.locator('.instances.list .title a').click();
    await page.locator('.instance input[name="id"]').fill('webapp-hello');
    await page.locator('.instance .select').nth(0).click();
    await page
      .locator('[id*="-option-"]')
      .filter({ hasText: bot.userId.slice(1, bot.userId.indexOf(':')) })
      .first()
      .click();
    await page.locator('.instance .select').nth(1).click();
    await page.locator('[id*="-option-"]').filter({ hasText: 'org.example.hello' }).click();
    await screenshot(page, 'maubot-webapp-new-instance');
    await page.locator('.instance button.save').click();
    await page.waitForURL(/#\/instance\/webapp-hello$/);
    await page.locator('.instances.list a.instance.entry').filter({ hasText: 'webapp-hello' }).waitFor();
    const created = await daemon.api<Json>('GET', '/instance/webapp-hello');
    assert.equal(created.status, 200, created.text);
    assert.equal(created.body.type, 'org.example.hello');
    assert.equal(created.body.primary_user, bot.userId);

    // As in maubot, `config` is what the instance runs with: the plugin's defaults, the stored config stays empty.
    assert.deepEqual(parse(String(created.body.config)), { greeting: 'hi' });
    assert.deepEqual(created.body.config_object, {});
    // The config editor (Ace) shows the plugin's options; replace them and save.
    const editor = page.locator('.instance .ace_editor');
    await editor.locator('.ace_content').filter({ hasText: 'greeting: hi' }).waitFor();
    // A config the plugin refuses: the app shows the server's error under the form.
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('greeting: [1, 2]\n');
    await page.locator('.instance button.save').click();
    const refused = page.locator('.instance .error');
    await refused.filter({ hasText: /./ }).waitFor();
    assert.match((await refused.textContent()) ?? '', /^instance webapp-hello is invalid: config\.greeting: /, 'the error names the problem');
    assert.deepEqual((await daemon.api<Json>('GET', '/instance/webapp-hello')).body.config_object, {}, 'nothing saved');
    await screenshot(page, 'maubot-webapp-config-refused');
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('greeting: Howdy from maubot\n');
    await page.locator('.instance button.save').click();
    await page.locator('.instance button.save').filter({ hasText: 'Save' }).waitFor();
    assert.equal(await page.locator('.instance .error').textContent(), '', 'no error under the form');
    await screenshot(page, 'maubot-webapp-config-saved');
    const saved = await daemon.api<Json>('GET', '/instance/webapp-hello');
    assert.deepEqual(saved.body.config_object, { greeting: 'Howdy from maubot' });
    assert.deepEqual(parse(String(saved.body.config)), { greeting: 'Howdy from maubot' });
  });

  it('stops an instance with the Running switch and deletes one', async () => {
    await page.locator('.instances.list a.instance.entry').filter({ hasText: 'webapp-hello' }).click();
    await page.locator('.instance .switch').nth(1).click();
    await page.locator('.instance button.save').click();
    await daemon.waitFor('webapp-hello stopped', async () => (await daemon.api<Json>('GET', '/instance/webapp-hello')).body.state === 'stopped' || undefined);
    await page.locator('.instance .switch').nth(1).click();
    await page.locator('.instance button.save').click();
    await daemon.waitFor('webapp-hello running', async () => (await daemon.api<Json>('GET', '/instance/webapp-hello')).body.state === 'running' || undefined);
    assert.equal(await page.locator('.instance .error').textContent(), '');

    await page.locator('.instances.list a.instance.entry').filter({ hasText: 'existing-hello' }).click();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('.instance button.delete').click();
    await page.waitForURL(/#\/$/);
    await page.locator('.instances.list a.instance.entry').filter({ hasText: 'existing-hello' }).waitFor({ state: 'detached' });
    assert.equal((await daemon.api('GET', '/instance/existing-hello')).status, 404);
  });

  it('shows live log records in the log view', async () => {
    await page.locator('nav.sidebar button.open-log').click();
    const rows = page.locator('.modal .log .row');
    // The history: the instance created in the app, with a link to its page.
    const started = rows.filter({ hasText: 'instance started' }).filter({ has: page.locator('a[href="#/instance/webapp-hello"]') });
    await started.first().waitFor();
    const before = await started.count();
    // Something that logs while the view is open: the instance restarted through the API.
    assert.equal((await daemon.api('PUT', '/instance/webapp-hello', { started: false })).status, 200);
    assert.equal((await daemon.api('PUT', '/instance/webapp-hello', { started: true })).status, 200);
    await started.nth(before).waitFor({ timeout: 15_000 });
    assert.match((await rows.last().textContent()) ?? '', /INFO.*instance/, 'the new record is at the bottom');
    await screenshot(page, 'maubot-webapp-logs');
  });

  it("browses an instance's storage in the database view (the read-only kv table), sorted by a column", async () => {
    room = await human.createRoom({ name: 'maubot web app', invite: [bot.userId] });
    await human.waitForMembership(room, bot.userId, 'join', 20_000);
    await daemon.waitFor('wordle running', async () => (await daemon.api<Json>('GET', '/instance/wordle')).body.state === 'running' || undefined);
    await human.sendText(room, '!wordle');
    const stored = await daemon.waitFor('a stored row', async () => {
      const res = await daemon.api<{ rows: unknown[][] }>('POST', '/instance/wordle/database/query', { query: 'SELECT key FROM kv' });
      return res.body.rows.length > 0 ? res.body.rows : undefined;
    });

    // The log view closes with a click beside it (wide window).
    await page.mouse.click(5, 5);
    await page.locator('.modal .log').waitFor({ state: 'detached' });
    await page.locator('.instances.list a.instance.entry').filter({ hasText: 'wordle' }).click();
    await page.locator('.instance a.open-database').click();
    await page.locator('.instance-database .tables a').filter({ hasText: 'kv' }).click();
    const table = page.locator('.instance-database .table table');
    await table.locator('tbody tr').first().waitFor();
    assert.deepEqual(await table.locator('thead td strong').allTextContents(), ['key', 'value', 'updated_at']);
    assert.equal(await table.locator('tbody tr').count(), stored.length);
    await table.locator('thead td span').filter({ hasText: 'key' }).click();
    await page.locator('.instance-database .query input[name="query"]').and(page.locator('[value*="ORDER BY key DESC"]')).waitFor();
    const keys = await table.locator('tbody tr td:first-child').allTextContents();
    assert.deepEqual(keys, [...keys].sort().reverse(), 'sorted by key, descending');
    assert.equal(await page.locator('.instance-database .error').count(), 0);
    await screenshot(page, 'maubot-webapp-database');
  });

  it('shows an error of a failing handler with its stack trace in the log view', async () => {
    const put = await daemon.api('PUT', '/instance/ping-fail', { type: 'org.example.faulty', primary_user: bot.userId, rooms: [room], config: { fail_on: 'ping' } });
    assert.equal(put.status, 201, put.text);
    await daemon.waitFor('ping-fail running', async () => (await daemon.api<Json>('GET', '/instance/ping-fail')).body.state === 'running' || undefined);
    await page.locator('nav.sidebar button.open-log').click();
    await human.sendText(room, '!ping');
    const error = page.locator('.modal .log .row.error').filter({ hasText: 'ping failed on purpose' });
    await error.first().waitFor();
    assert.match((await error.first().locator('.logger').textContent()) ?? '', /^instance\/ping-fail$/);
    // The stack trace is the row after it.
    const trace = page.locator('.modal .log .row.error').filter({ hasText: /Error: ping failed on purpose[\s\S]*\bat\b/ });
    await trace.first().waitFor();
    await screenshot(page, 'maubot-webapp-log-error');
    await page.mouse.click(5, 5);
  });

  it('no API request of the app failed, and the page logged no error', () => {
    const called = new Set(answers.map((a) => `${a.method} ${a.path.replace(/^\/_matrix\/maubot\/v1/, '').replace(/\/proxy\/[^/]+\/.*\/(upload|download)(\/.*)?$/, '/proxy/…/$1')}`));
    for (const route of [
      'GET /features',
      'POST /auth/login',
      'POST /auth/ping',
      'GET /instances',
      'GET /clients',
      'GET /plugins',
      'GET /client/auth/servers',
      'GET /debug/open',
      'POST /proxy/…/upload',
      'GET /proxy/…/download',
      'PUT /instance/webapp-hello',
      'POST /plugins/upload',
      'DELETE /instance/existing-hello',
      `DELETE /client/${bot2.userId}`,
      `POST /client/${bot2.userId}/clearcache`,
      'GET /instance/wordle/database',
      'POST /instance/wordle/database/query',
    ]) {
      assert.ok(called.has(route), `the app called ${route} (called: ${[...called].join(', ')})`);
    }
    const expected = [`POST ${API_PATH}/auth/ping 401`, `POST ${API_PATH}/auth/login 401`, `PUT ${API_PATH}/instance/webapp-hello 400`];
    const failed = answers.filter((a) => a.status >= 400 && !expected.includes(`${a.method} ${a.path} ${a.status}`));
    assert.deepEqual(failed, [], 'API answers of 400 and above (expected: the unknown token, the wrong password, the refused config)');
    assert.deepEqual(
      answers.filter((a) => a.status >= 400).map((a) => `${a.method} ${a.path} ${a.status}`),
      expected,
      'each expected failure once, in this order',
    );
    assert.deepEqual([...new Set(sockets)], [`${API_PATH}/logs`], 'the log websocket went through');
    assert.deepEqual(
      // Chromium logs each 4xx answer as "Failed to load resource"; those are checked above.
      pageErrors.filter((e) => !e.startsWith('Failed to load resource: the server responded with a status of 4')),
      [],
      'console errors',
    );
  });
});
