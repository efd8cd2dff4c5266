/**
 * `!ping` round trip as a person sees it: from the moment the user starts
 * sending `!ping` until the bot's reply arrives on the user's own /sync long
 * poll. Sequential pings through a real Synapse and a real daemon process.
 *
 *   npm run bench:ping [-- --count 300]     (or BENCH_COUNT=300)
 */
import { performance } from 'node:perf_hooks';
import type { TestUser } from '../test/harness/matrix-user.ts';
import { createPingInstance, heapUsedKiB, intOption, log, percentile, registerBot, rssKiB, runMain, withBenchEnv, type ApiInstance } from './lib.ts';

const WARMUP = 10;
const TOTAL_BUDGET_MS = 5 * 60_000;
const REPLY_TIMEOUT_MS = 30_000;
const LONG_POLL_MS = 30_000;

interface SyncEvent {
  type: string;
  content?: { body?: unknown; 'm.relates_to'?: { 'm.in_reply_to'?: { event_id?: unknown } } };
}
interface SyncResponse {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: SyncEvent[] } }> };
}

/**
 * One long-poll /sync loop for the user, so a reply is seen as soon as the
 * homeserver hands it out (no /messages polling, no per-ping requests).
 * Replies can arrive before the send call returns the event id, hence `seen`.
 */
interface Reply {
  /** performance.now() when the sync response carrying the reply arrived. */
  at: number;
  body: string;
}

class ReplyWatcher {
  readonly #user: TestUser;
  readonly #filter: string;
  readonly #seen = new Map<string, Reply>();
  readonly #waiters = new Map<string, (reply: Reply) => void>();
  readonly #abort = new AbortController();
  #since = '';
  #loop: Promise<void> | undefined;
  #lastError: string | undefined;

  constructor(user: TestUser, roomId: string) {
    this.#user = user;
    // Only this room's messages: the response stays small and nothing else wakes the poll.
    this.#filter = JSON.stringify({
      presence: { types: [] },
      account_data: { types: [] },
      room: {
        rooms: [roomId],
        timeline: { limit: 50, types: ['m.room.message'] },
        state: { types: [] },
        ephemeral: { types: [] },
        account_data: { types: [] },
      },
    });
  }

  async start(): Promise<void> {
    // Establishes the since-token so only events after this point are considered.
    this.#since = (await this.#sync(0)).next_batch;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  waitForReply(eventId: string, timeoutMs: number): Promise<Reply> {
    const seen = this.#seen.get(eventId);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(eventId);
        reject(new Error(`no reply to ${eventId} within ${timeoutMs} ms${this.#lastError ? ` (last sync error: ${this.#lastError})` : ''}; is the instance running and the bot in the room?`));
      }, timeoutMs);
      this.#waiters.set(eventId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  async #run(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        const res = await this.#sync(LONG_POLL_MS);
        const at = performance.now();
        this.#since = res.next_batch;
        for (const room of Object.values(res.rooms?.join ?? {})) {
          for (const ev of room.timeline?.events ?? []) {
            const target = ev.content?.['m.relates_to']?.['m.in_reply_to']?.event_id;
            if (typeof target !== 'string') continue;
            const reply = { at, body: typeof ev.content?.body === 'string' ? ev.content.body : '' };
            this.#seen.set(target, reply);
            this.#waiters.get(target)?.(reply);
            this.#waiters.delete(target);
          }
        }
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.#lastError = err instanceof Error ? err.message : String(err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  #sync(timeoutMs: number): Promise<SyncResponse> {
    const params = new URLSearchParams({ timeout: String(timeoutMs), filter: this.#filter });
    if (this.#since) params.set('since', this.#since);
    return fetch(`${this.#user.baseUrl}/_matrix/client/v3/sync?${params}`, {
      headers: { authorization: `Bearer ${this.#user.accessToken}` },
      signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(timeoutMs + 30_000)]),
    }).then(async (res) => {
      if (!res.ok) throw new Error(`GET /sync → HTTP ${res.status}`);
      return (await res.json()) as SyncResponse;
    });
  }
}

interface Sample {
  /** Send start → reply seen on the user's sync: the figure this benchmark is about. */
  roundTrip: number;
  /** Send start → the homeserver acknowledged the send (PUT returned). */
  send: number;
  /** What the ping plugin reported: homeserver timestamp of `!ping` → bot handler. */
  botSeen: number;
}

function stats(values: number[]): { p50: number; p95: number; p99: number; max: number; mean: number; min: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
    min: sorted[0]!,
  };
}

function report(samples: Sample[], elapsedMs: number): string {
  const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '—').padStart(8);
  const row = (label: string, values: number[]): string => {
    const s = stats(values);
    return `${label.padEnd(26)}${fmt(s.p50)}${fmt(s.p95)}${fmt(s.p99)}${fmt(s.max)}${fmt(s.mean)}${fmt(s.min)}`;
  };
  const botSeen = samples.map((s) => s.botSeen).filter((v) => Number.isFinite(v));
  return [
    `${'ms'.padEnd(26)}${['p50', 'p95', 'p99', 'max', 'mean', 'min'].map((h) => h.padStart(8)).join('')}`,
    row(
      'round trip',
      samples.map((s) => s.roundTrip),
    ),
    row(
      '  of which: send (PUT)',
      samples.map((s) => s.send),
    ),
    ...(botSeen.length ? [row('  bot-reported latency', botSeen)] : []),
    `pings: ${samples.length}   throughput: ${(samples.length / (elapsedMs / 1000)).toFixed(1)} pings/s (sequential, one in flight)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const count = intOption('count', 'BENCH_COUNT', 300);
  await withBenchEnv(async ({ daemon, user }) => {
    const bot = await registerBot(daemon, 'bench-pingbot');
    const roomId = await user.createRoom({ name: 'ping bench', invite: [bot.id] });
    await createPingInstance(daemon, 'bench-ping', bot.id, [roomId]);
    await daemon.waitFor('the ping instance to run', async () => (await daemon.api<ApiInstance>('GET', '/instance/bench-ping')).body.state === 'running', 60_000);
    await user.waitForMembership(roomId, bot.id, 'join', 60_000);

    const watcher = new ReplyWatcher(user, roomId);
    await watcher.start();
    const deadline = Date.now() + TOTAL_BUDGET_MS;
    const ping = async (): Promise<Sample> => {
      const t0 = performance.now();
      const eventId = await user.sendText(roomId, '!ping');
      const sent = performance.now();
      const reply = await watcher.waitForReply(eventId, Math.min(REPLY_TIMEOUT_MS, Math.max(1, deadline - Date.now())));
      const reported = /(\d+) ms$/.exec(reply.body);
      return { roundTrip: reply.at - t0, send: sent - t0, botSeen: reported ? Number(reported[1]) : Number.NaN };
    };

    const samples: Sample[] = [];
    let stoppedEarly = false;
    let elapsedMs = 0;
    try {
      log(`warming up with ${WARMUP} pings …`);
      for (let i = 0; i < WARMUP && Date.now() < deadline; i++) await ping();
      log(`measuring ${count} sequential pings …`);
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        if (Date.now() >= deadline) {
          stoppedEarly = true;
          break;
        }
        samples.push(await ping());
      }
      elapsedMs = performance.now() - started;
    } finally {
      await watcher.stop();
    }
    if (samples.length === 0) throw new Error('the 5 minute budget ran out before any measured ping');
    const rss = daemon.pid ? await rssKiB(daemon.pid) : null;
    console.log(`\n!ping round trip (user sends → reply seen on the user's /sync long poll), ${new Date().toISOString()}`);
    console.log(report(samples, elapsedMs));
    const heap = await heapUsedKiB(daemon);
    if (rss) console.log(`daemon after the run: RSS ${(rss / 1024).toFixed(1)} MiB${heap === null ? '' : `, JS heap used ${(heap / 1024).toFixed(1)} MiB`}`);
    if (stoppedEarly) console.log(`stopped after ${samples.length} of ${count} pings: 5 minute budget reached`);
  });
}

runMain(main);
