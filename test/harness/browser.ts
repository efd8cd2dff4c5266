/**
 * Headless Chromium (Debian's package) driven by playwright-core, for the
 * web console's end-to-end tests and benchmark. /usr/bin/chromium comes from
 * scripts/system-packages.sh; npm test never installs system packages.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.TRELLIS_CHROMIUM ?? '/usr/bin/chromium';
const REPO = resolve(fileURLToPath(import.meta.url), '../../..');
export const SCREENSHOT_DIR = join(REPO, 'test-artifacts', 'screenshots');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}; install it once with scripts/system-packages.sh (apt-get install chromium)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
}

/** Saves a full-page screenshot as test-artifacts/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Logs in through the console's form and waits for the dashboard. */
export async function loginThroughUi(page: Page, baseUrl: string, password: string): Promise<void> {
  await page.goto(baseUrl + '/');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}
