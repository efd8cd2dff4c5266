/**
 * Builds the web console (console/src → console/dist). Runs from the
 * "prepare" npm script, so `npm install` / `npm ci` leave a current bundle;
 * the daemon rebuilds in memory when console/dist is missing or stale.
 */
import { writeConsoleDist } from '../src/api/console.ts';

const started = Date.now();
try {
  const files = await writeConsoleDist();
  console.log(`console: built ${files.join(', ')} into console/dist (${Date.now() - started} ms)`);
} catch (err) {
  console.error(`console: build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
