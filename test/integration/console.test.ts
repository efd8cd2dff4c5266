/**
 * The web console end to end: headless Chromium drives the console served
 * by a real daemon process, which runs bots on a real Synapse; a person's
 * Matrix account checks that what the operator did in the browser works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { createRegistrationToken, sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { ADMIN_PASSWORD, freePort, TestDaemon } from '../harness/daemon.ts';
import { launchChromium, loginThroughUi, screenshot } from '../harness/browser.ts';
import { buildPlugin } from '../../src/plugin-package/build.ts';

const HELLO = resolve(fileURLToPath(import.meta.url), '../../fixtures/plugins/hello');
const WIDE = { width: 1366, height: 900 };
const NARROW = { width: 390, height: 844 };

interface ApiInstance {
  id: string;
  state: string;
}

const isReplyTo = (eventId: string) => (ev: TestMatrixEvent) =>
  ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

/** Waits for an element's exact text; a timeout names the text it had instead. */
async function waitForText(locator: Locator, expected: string, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    seen = ((await locator.textContent({ timeout: 1000 }).catch(() => null)) ?? '').trim();
    if (seen === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what}: expected "${expected}", still "${seen}" after ${timeoutMs / 1000} s`);
}

describe('web console in headless Chromium', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let user: TestUser;
  let workDir: string;
  let archive: string;
  let botId: string;
  let roomId: string;
  let registrationToken: string;
  const botLocalpart = uniqueLocalpart('consolebot');

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    registrationToken = await createRegistrationToken({ url: hs.url, adminToken: hs.adminToken } as never, 2);
    // No registration token in the config: the operator types it into the console.
    const publicPort = await freePort();
    daemon = await TestDaemon.create(hs, (config) => {
      config.public = { host: '127.0.0.1', port: publicPort, base_url: 'https://hooks.example.org' };
    });
    user = await TestUser.create(hs, 'consoleuser');
    workDir = await mkdtemp(join(tmpdir(), 'trellis-console-'));
    archive = (await buildPlugin(HELLO, { outFile: join(workDir, 'hello.zip') })).file;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: WIDE });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await daemon?.dispose();
    await hs?.release();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('serves the console at / and client-side routes, leaving the API untouched', async () => {
    const index = await fetch(`${daemon.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await index.text(), /<script type="module" src="\/app.js">/);
    const deep = await fetch(`${daemon.url}/instances/anything`);
    assert.equal(deep.status, 200, 'SPA fallback serves index.html');
    const js = await fetch(`${daemon.url}/app.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${daemon.url}/_matrix/maubot/v1/instances`)).status, 401, 'API still needs the token');
    assert.equal((await fetch(`${daemon.url}/nope.js`)).status, 404);
  });

  it('refuses a wrong password visibly, logs in, and keeps the session across a reload', async () => {
    await page.goto(daemon.url + '/');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong username or password' }).waitFor();
    await loginThroughUi(page, daemon.url, ADMIN_PASSWORD);
    await page.getByText('Live', { exact: true }).waitFor();
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByText('Daemon health').waitFor();
  });

  it('adds a bot account by registration token through the form', async () => {
    await page.getByRole('link', { name: 'Bot accounts' }).click();
    await page.getByLabel('How').selectOption('register-token');
    await page.getByLabel('Homeserver').fill('main');
    await page.getByLabel('Username').fill(botLocalpart);
    await page.getByLabel('Password').fill('bot-password-' + Math.random().toString(36).slice(2));
    await page.getByLabel('Registration token').fill(registrationToken);
    await page.getByLabel('Display name (optional)').fill('Console Bot');
    await page.getByRole('button', { name: 'Add bot account' }).click();
    const added = page.getByRole('status').filter({ hasText: /^Added @/ });
    await added.waitFor({ timeout: 20_000 });
    botId = (await added.textContent())!.replace(/^Added /, '').replace(/\.$/, '');
    assert.match(botId, new RegExp(`^@${botLocalpart}:`));
    const card = page.locator(`li[data-client="${botId}"]`);
    await card.getByText('Console Bot').first().waitFor();
    assert.match((await card.locator('dd').first().textContent()) ?? '', /\S/, 'device id shown');
    const encryption = card.locator('dt:has-text("Encryption") + dd');
    await waitForText(encryption, 'ready', 'encryption status of the new account');
    await card.getByRole('button', { name: 'Turn encryption off' }).click();
    await waitForText(encryption, 'off', 'encryption status after turning it off');
    await card.getByRole('button', { name: 'Turn encryption on' }).click();
    await waitForText(encryption, 'ready', 'encryption status after turning it on again');
  });

  it('uploads a plugin archive and refuses an invalid one in plain words', async () => {
    await page.getByRole('link', { name: 'Plugins' }).click();
    await page.locator('#plugin-file').setInputFiles(archive);
    await page.getByRole('status').filter({ hasText: 'Installed org.example.hello 1.2.0.' }).waitFor();
    await page.locator('li[data-plugin="org.example.hello"]').waitFor();

    await page.locator('#plugin-file').setInputFiles({ name: 'broken.zip', mimeType: 'application/zip', buffer: Buffer.from('this is not a zip archive') });
    const alert = page.getByRole('alert').filter({ hasText: 'invalid plugin archive' });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /zip/i);
  });

  it('creates an instance with a config edited in the form; it runs and answers in Matrix', async () => {
    roomId = await user.createRoom({ name: 'Console test room', invite: [botId] });
    await user.waitForMembership(roomId, botId, 'join', 20_000);

    await page.getByRole('link', { name: 'Instances' }).click();
    await page.getByRole('link', { name: 'New instance' }).click();
    await page.getByLabel('Instance id').fill('hello-ui');
    await page.getByLabel('Plugin').selectOption('org.example.hello');
    await page.getByLabel('Bot account').selectOption(botId);
    // The allowlist offers the bot's rooms by name.
    await page.getByLabel(/Console test room/).check();
    await page.getByLabel('greeting').fill('Howdy');
    await page.getByRole('button', { name: 'Create instance' }).click();
    await page.waitForURL(/\/instances\/hello-ui$/);
    await page.getByText('running', { exact: true }).first().waitFor({ timeout: 20_000 });
    await screenshot(page, 'instance-editor-wide');

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.locator('li[data-instance="hello-ui"][data-state="running"]').waitFor({ timeout: 20_000 });
    await page.locator('li[data-instance="hello-ui"]').getByText('Console Bot').waitFor();

    const sent = await user.sendText(roomId, '!hello world');
    const answer = await user.waitForEvent(roomId, isReplyTo(sent), 20_000, 'the answer to !hello');
    assert.equal(answer.sender, botId);
    assert.match(String(answer.content.body), /Howdy, world!/);
  });

  it('shows a stop done in another tab live on the dashboard, without reload', async () => {
    const dashboard = page;
    const navigations: string[] = [];
    dashboard.on('framenavigated', (f) => f === dashboard.mainFrame() && navigations.push(f.url()));
    const other = await context.newPage();
    await other.goto(`${daemon.url}/instances/hello-ui`);
    await other.getByRole('button', { name: 'Stop' }).click();
    await dashboard.locator('li[data-instance="hello-ui"][data-state="stopped"]').waitFor({ timeout: 10_000 });
    // And back, through the API this time.
    await daemon.api('POST', '/instance/hello-ui/start');
    await dashboard.locator('li[data-instance="hello-ui"][data-state="running"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(navigations, [], 'the dashboard never reloaded');
    await other.close();
  });

  it('shows an ERROR from a failing instance live in the notifications', async () => {
    await daemon.uploadFixture('faulty');
    const res = await daemon.api<ApiInstance>('PUT', '/instance/ping-fail', { type: 'org.example.faulty', primary_user: botId, rooms: [roomId], config: { fail_on: 'ping' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await page.locator('li[data-instance="ping-fail"][data-state="running"]').waitFor({ timeout: 20_000 });
    await user.sendText(roomId, '!ping');
    const note = page.locator('[data-testid="notifications"] li').filter({ hasText: 'ping failed on purpose' }).first();
    await note.waitFor({ timeout: 20_000 });
    assert.match((await note.textContent()) ?? '', /ERROR/);
    assert.match((await note.textContent()) ?? '', /ping-fail/);
    // errors in the last hour, highlighted
    await page.locator('li[data-instance="ping-fail"] dd.warn-text').filter({ hasText: /^1$/ }).waitFor();
    await screenshot(page, 'dashboard-wide');
  });

  it('shows the server validation problems inline for an invalid config', async () => {
    await page.getByRole('link', { name: 'Instances' }).click();
    await page.getByRole('link', { name: 'New instance' }).click();
    await page.getByLabel('Instance id').fill('ping-bad');
    await page.getByLabel('Plugin').selectOption('org.trellis.ping');
    await page.getByLabel('prefix').fill('!!!!!!!!!!!!');
    await page.getByRole('button', { name: 'Create instance' }).click();
    const fieldError = page
      .locator('.field.has-error')
      .filter({ has: page.getByLabel('prefix') })
      .locator('.field-error');
    await fieldError.waitFor();
    assert.match((await fieldError.textContent()) ?? '', /more than 8 characters/);
    assert.equal((await daemon.api('GET', '/instance/ping-bad')).status, 404, 'nothing was saved');

    // The raw YAML editor reports problems too.
    await page.getByLabel('prefix').fill('');
    await page.getByRole('tab', { name: 'YAML' }).click();
    await page.getByLabel('Config (YAML)').fill('pong_text: [not, a, string]\n');
    await page.getByRole('button', { name: 'Create instance' }).click();
    await page.locator('ul.field-error').filter({ hasText: 'config.pong_text' }).waitFor();
  });

  it('tails logs with filters and shows a stack trace on demand', async () => {
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.getByLabel('Level (and above)').selectOption('error');
    await page.getByLabel('Instance').selectOption('ping-fail');
    const line = page.locator('[data-testid="log-lines"] li').filter({ hasText: 'ping failed on purpose' }).first();
    await line.waitFor();
    await line.getByText('Stack trace').click();
    await line.locator('pre').filter({ hasText: 'Error: ping failed on purpose' }).waitFor();
    // A new error arrives on the live tail.
    await user.sendText(roomId, '!ping');
    await page.locator('[data-testid="log-lines"] li').nth(1).waitFor({ timeout: 20_000 });
    await page.getByLabel('Search').fill('no such text anywhere');
    await page.getByText('No log records match.').waitFor();
    await page.getByLabel('Search').fill('');
    await line.waitFor();
    await screenshot(page, 'logs-wide');
  });

  it('browses the instance database read-only', async () => {
    await page.goto(`${daemon.url}/instances/hello-ui/database`);
    await page.getByRole('heading', { name: /kv/ }).waitFor();
  });

  it('manages webhooks: a transform that does not compile is refused, the URL is shown with a copy button, a test payload reaches the room', async () => {
    const created = await daemon.api('PUT', '/instance/hooks-ui', { type: 'org.trellis.webhooks', primary_user: botId, rooms: [roomId] });
    assert.equal(created.status, 201, created.text);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: daemon.url });
    await page.goto(`${daemon.url}/instances/hooks-ui`);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: /Webhooks of/ }).waitFor();
    await page.getByText('No hooks yet').waitFor();

    await page.getByRole('button', { name: 'New hook' }).click();
    await page.getByLabel('Name').fill('ci builds');
    await page.getByLabel('Room id').fill(roomId);
    await page.getByLabel('Transformation function').fill('result = {');
    await page.getByRole('button', { name: 'Create hook' }).click();
    await page.getByRole('alert').filter({ hasText: 'transform: does not compile' }).waitFor();
    await page.getByLabel('Transformation function').fill('result = { version: "v2", plain: "Build " + data.build + " passed" };');
    await page.getByRole('button', { name: 'Create hook' }).click();

    const hook = page.getByRole('region', { name: 'hook ci builds' });
    const url = await hook.locator('code.hook-url').textContent();
    assert.match(url ?? '', /^https:\/\/hooks\.example\.org\/webhook\/[0-9a-f-]{36}$/);
    await hook.getByRole('button', { name: 'Copy URL' }).click();
    await hook.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), url);

    await hook.getByLabel('Test payload (JSON)').fill('{"build": 99}');
    await hook.getByRole('button', { name: 'Send test payload' }).click();
    await hook
      .getByRole('status')
      .filter({ hasText: /^Posted/ })
      .waitFor({ timeout: 20_000 });
    const posted = await user.waitForEvent(roomId, (ev) => ev.content.body === 'Build 99 passed', 20_000, 'the test payload in the room');
    assert.equal(posted.sender, botId);
    await page.reload();
    await page.getByRole('region', { name: 'hook ci builds' }).getByText('(1 in all)').waitFor();
  });

  it('creates an API token shown once, which works on the API, lists it and revokes it', async () => {
    await page.goto(`${daemon.url}/tokens`);
    await page.getByText('No API tokens yet.').waitFor();
    await page.getByLabel('Name').fill('console-ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByLabel('The token console-ci');
    await shown.waitFor();
    const token = await shown.inputValue();
    assert.match(token, /^trellis_at_/);
    assert.equal((await fetch(`${daemon.url}/_matrix/maubot/v1/instances?access_token=${token}`)).status, 200);
    const row = page.locator('tr[data-token="console-ci"]');
    await row.waitFor();
    assert.ok(!((await row.textContent()) ?? '').includes(token), 'the list never shows the secret');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Yes, revoke' }).click();
    await page.getByText('No API tokens yet.').waitFor();
    assert.equal((await fetch(`${daemon.url}/_matrix/maubot/v1/instances?access_token=${token}`)).status, 401);
  });

  it('lays out for a phone (390 px) and saves screenshots', async () => {
    await page.setViewportSize(NARROW);
    await page.goto(`${daemon.url}/`);
    await page.locator('li[data-instance="hello-ui"]').waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await screenshot(page, 'dashboard-narrow');
    await page.goto(`${daemon.url}/instances/hello-ui`);
    await page.getByLabel('greeting').waitFor();
    await screenshot(page, 'instance-editor-narrow');
    await page.goto(`${daemon.url}/logs`);
    await page.locator('[data-testid="log-lines"] li').first().waitFor();
    await screenshot(page, 'logs-narrow');
    await page.setViewportSize(WIDE);
    // The theme follows the system's colour scheme.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${daemon.url}/`);
    await page.locator('li[data-instance="hello-ui"]').waitFor();
    const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    assert.equal(background, 'rgb(17, 20, 24)', 'dark background under prefers-color-scheme: dark');
    await screenshot(page, 'dashboard-dark-wide');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('logs out and stays logged out after a reload', async () => {
    await page.goto(`${daemon.url}/`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });
});
