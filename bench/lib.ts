/**
 * Shared plumbing for the benchmark scripts: a private Synapse and a real
 * daemon process that are always torn down, bot registration through the
 * management API, and small statistics helpers.
 */
import { readFile } from 'node:fs/promises';
import { installSynapse } from '../scripts/python-tools.ts';
import { startSynapse, type Homeserver } from '../test/harness/synapse.ts';
import { TestDaemon } from '../test/harness/daemon.ts';
import { TestUser, uniqueLocalpart } from '../test/harness/matrix-user.ts';

export interface BenchEnv {
  hs: Homeserver;
  daemon: TestDaemon;
  /** The human side of the conversation. */
  user: TestUser;
}

export interface ApiClient {
  id: string;
  last_sync_at: number | string | null;
  sync_state: string;
  rooms: string[];
}

export interface ApiInstance {
  id: string;
  state: string;
  last_error: string | null;
}

export function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/**
 * Runs `body` against a fresh Synapse and daemon and stops both afterwards,
 * also on error and on Ctrl-C, so a benchmark never leaves processes behind.
 */
export async function withBenchEnv(body: (env: BenchEnv) => Promise<void>, options: { config?: (config: Record<string, unknown>) => void } = {}): Promise<void> {
  await installSynapse({ log });
  log('starting Synapse …');
  const hs = await startSynapse();
  let daemon: TestDaemon | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await daemon?.dispose().catch((err: unknown) => log(`stopping the daemon failed: ${String(err)}`));
      await hs.stop().catch((err: unknown) => log(`stopping Synapse failed: ${String(err)}`));
    })());
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping the daemon and Synapse …`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log('starting the daemon …');
    daemon = await TestDaemon.create(hs, (config) => {
      const homeservers = config.homeservers as Record<string, Record<string, unknown>>;
      homeservers.main!.shared_secret = hs.sharedSecret;
      options.config?.(config);
    });
    const user = await TestUser.create(hs, 'bench-human');
    await body({ hs, daemon, user });
  } catch (err) {
    // After Ctrl-C the failure is only the interrupted request; the daemon output would be noise.
    if (daemon && !cleaning) {
      const tail = daemon.output.slice(-20).join('\n');
      if (tail) log(`last daemon output:\n${tail}`);
    }
    throw err;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A new bot account, registered by the daemon with Synapse's shared secret; E2EE on unless `encryption: false`. */
export async function registerBot(daemon: TestDaemon, prefix: string, options: { encryption?: boolean } = {}): Promise<ApiClient> {
  const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
    username: uniqueLocalpart(prefix),
    password: `bench-${uniqueLocalpart('pw')}`,
    method: 'shared_secret',
    ...options,
  });
  if (res.status !== 201) throw new Error(`registering a bot through the daemon failed: HTTP ${res.status} ${res.text}`);
  return res.body;
}

/** Creates a ping instance limited to `rooms`; resolves once the daemon accepted it. */
export async function createPingInstance(daemon: TestDaemon, id: string, botId: string, rooms: string[]): Promise<void> {
  const res = await daemon.api('PUT', `/instance/${id}`, { type: 'org.trellis.ping', primary_user: botId, rooms });
  if (res.status !== 201 && res.status !== 200) throw new Error(`creating instance ${id} failed: HTTP ${res.status} ${res.text}`);
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `--name <value>` / `--name=<value>`, else the environment variable, else the default. */
export function intOption(flag: string, envName: string, fallback: number): number {
  const args = process.argv.slice(2);
  let raw: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${flag}`) raw = args[i + 1];
    else if (arg.startsWith(`--${flag}=`)) raw = arg.slice(flag.length + 3);
  }
  raw ??= process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${flag} / ${envName} must be a positive integer, got "${raw}"`);
  }
  return value;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Exit code and message for a failed benchmark; the message never includes request bodies. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`benchmark failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

/** Resident set size of a process in KiB, from /proc (Linux only). */
export async function rssKiB(pid: number): Promise<number> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    throw new Error(`cannot read /proc/${pid}/status (${(err as Error).message}); the memory figures need Linux and a running daemon`);
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(match[1]);
}

/** V8 heap in use according to the daemon's own /metrics, or null if it does not export it. */
export async function heapUsedKiB(daemon: TestDaemon): Promise<number | null> {
  const res = await daemon.api<string>('GET', '/metrics');
  const match = /^trellis_nodejs_heap_size_used_bytes\s+([\d.e+]+)/m.exec(res.text);
  return match ? Number(match[1]) / 1024 : null;
}
