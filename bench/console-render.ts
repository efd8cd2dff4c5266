/**
 * Time to first render of the console dashboard with 50 instances, in
 * headless Chromium on loopback: from navigation start to all instance rows
 * being in the DOM (a MutationObserver stamps performance.now()). Each load
 * uses a fresh browser context (empty cache), already logged in, so the
 * figure covers HTML + JS + CSS + the API calls + rendering.
 *
 *   npm run bench:console [-- --instances 50 --loads 9]
 */
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from '../test/harness/browser.ts';
import { createPingInstance, intOption, log, mapLimit, median, percentile, registerBot, runMain, withBenchEnv } from './lib.ts';

const INSTANCES_PER_BOT = 10;

/** Runs in the page before any script: stamps the moment the dashboard shows `expected` rows. */
const STAMP_SCRIPT = (expected: number) => `
  (() => {
    const check = () => {
      const list = document.querySelector('[data-testid="instance-list"]');
      if (list && list.children.length >= ${expected}) {
        window.__rendered = performance.now();
        observer.disconnect();
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(document, { childList: true, subtree: true });
  })();
`;

async function oneLoad(context: BrowserContext, url: string): Promise<number> {
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'commit' });
  // Functions, not strings: the console's CSP forbids eval, which string predicates need.
  const stamped = () => (globalThis as { __rendered?: number }).__rendered;
  await page.waitForFunction(() => (globalThis as { __rendered?: number }).__rendered !== undefined, undefined, { timeout: 30_000, polling: 50 });
  const ms = (await page.evaluate(stamped)) as number;
  await page.close();
  return ms;
}

runMain(() =>
  withBenchEnv(async ({ daemon }) => {
    const count = intOption('--instances', 'BENCH_INSTANCES', 50);
    const loads = intOption('--loads', 'BENCH_LOADS', 9);
    const bots = Math.ceil(count / INSTANCES_PER_BOT);
    log(`creating ${count} instances on ${bots} bot accounts …`);
    const botIds = await mapLimit(
      Array.from({ length: bots }, (_, i) => i),
      4,
      async (i) => (await registerBot(daemon, `bench-console${i}`)).id,
    );
    await mapLimit(
      Array.from({ length: count }, (_, i) => i),
      8,
      (i) => createPingInstance(daemon, `console-${String(i).padStart(2, '0')}`, botIds[i % bots], []),
    );
    const token = await daemon.login();

    const browser = await launchChromium();
    try {
      const cold: number[] = [];
      for (let i = 0; i < loads; i++) {
        const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
        await context.addInitScript(`localStorage.setItem('trellis.console.token', ${JSON.stringify(token)});`);
        await context.addInitScript(STAMP_SCRIPT(count));
        cold.push(await oneLoad(context, daemon.url + '/'));
        await context.close();
      }
      cold.sort((a, b) => a - b);
      const fmt = (n: number) => `${n.toFixed(0)} ms`;
      log(
        `dashboard with ${count} instances, first render (fresh context each, ${loads} loads): median ${fmt(median(cold))}, p90 ${fmt(percentile(cold, 90))}, min ${fmt(cold[0])}, max ${fmt(cold[cold.length - 1])}`,
      );
      console.log(
        JSON.stringify({ bench: 'console-render', instances: count, loads, median_ms: Math.round(median(cold)), p90_ms: Math.round(percentile(cold, 90)), samples_ms: cold.map(Math.round) }),
      );
    } finally {
      await browser.close();
    }
  }),
);
