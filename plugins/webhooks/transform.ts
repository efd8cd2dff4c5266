/**
 * JavaScript transformation functions for webhooks, compatible with
 * matrix-hookshot's: the script sees the parsed payload as `data` and sets
 * `result` (a string, the v1 API, or `{version: 'v2', plain, html, …}`).
 *
 * Scripts come from room members, so they run in QuickJS (WebAssembly, no
 * access to Node) inside a small pool of worker threads: QuickJS enforces the
 * memory limit, the stack limit and (by polling) the time limit; the host
 * terminates a worker that has not answered shortly after the time limit, as a
 * script can evade QuickJS's polling for seconds, and a worker that crashes
 * costs only the run it had in hand.
 */
import { Worker } from 'node:worker_threads';

export interface TransformLimits {
  /** Run time, enforced by QuickJS's interrupt and, a margin later, by terminating the worker. */
  timeoutMs: number;
  /** QuickJS heap, the parsed payload included. */
  memoryBytes: number;
}

/**
 * A message to post, per hookshot: `msgtype` defaults to m.notice, and with no
 * `html` hookshot renders `plain` as Markdown (v1 results and v2 alike).
 * `empty: true` means post nothing (`plain` is then '').
 */
export interface TransformResult {
  plain: string;
  html?: string;
  msgtype?: string;
  empty: boolean;
  mentions?: { room?: boolean; user_ids?: string[] };
  /** hookshot's `hints`: `showUrlPreviews: false` asks clients not to preview links (`"com.beeper.linkpreviews": []`). */
  hints?: { showUrlPreviews?: boolean };
  /** What to answer the webhook's HTTP request with, instead of `{ok: true}`. */
  webhookResponse?: { body: string; contentType?: string; statusCode?: number };
}

export type TransformOutcome = { ok: true; result: TransformResult } | { ok: false; error: string };

export interface TransformRunnerOptions {
  /** Worker threads at most (started on demand). Default 2. */
  workers?: number;
  /** An idle worker is stopped after this long (its QuickJS memory is not given back otherwise). Default 60 s. */
  idleMs?: number;
  /** Runs and checks waiting for a worker at most; more fail at once. Default 1000. */
  maxQueue?: number;
}

/** Between transform.ts and transform-worker.ts. */
export type WorkerRequest = { id: number; op: 'run'; code: string; json: string | undefined; limits: TransformLimits } | { id: number; op: 'check'; code: string; limits: TransformLimits };

/** `retire`: the sandbox itself failed, so the worker must be replaced. */
export type WorkerReply = { ready: true } | { id: number; error: string | null; result?: TransformResult; retire?: boolean };

const DEFAULT_LIMITS: TransformLimits = { timeoutMs: 500, memoryBytes: 16 * 1024 * 1024 };
/** Covers the message round trip and QuickJS's own (polled) stop, which answers with a better message. */
const HARD_STOP_MARGIN_MS = 250;
const CLOSED = 'the webhook transform runner is closed';
/** From source the worker is TypeScript (Node strips the types); from dist/, the compiled .js beside this file. */
const WORKER_URL = new URL('./transform-worker' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);

type Reply = { error: string | null; result?: TransformResult };
type Request = { op: 'run'; code: string; json: string | undefined } | { op: 'check'; code: string };

interface Job {
  id: number;
  request: Request;
  settle(reply: Reply): void;
  /** The runner closed before the job finished. */
  abandon(): void;
}

interface Slot {
  worker: Worker;
  /** QuickJS loaded: the worker takes jobs. */
  ready: boolean;
  dead: boolean;
  job?: Job;
  hardStop?: NodeJS.Timeout;
  idle?: NodeJS.Timeout;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number (got ${value})`);
  return value;
}

export class TransformRunner {
  readonly limits: TransformLimits;
  readonly #size: number;
  readonly #idleMs: number;
  readonly #maxQueue: number;
  readonly #slots = new Set<Slot>();
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;

  constructor(limits: Partial<TransformLimits> = {}, options: TransformRunnerOptions = {}) {
    this.limits = {
      timeoutMs: positive('timeoutMs', limits.timeoutMs ?? DEFAULT_LIMITS.timeoutMs),
      memoryBytes: Math.floor(positive('memoryBytes', limits.memoryBytes ?? DEFAULT_LIMITS.memoryBytes)),
    };
    this.#size = Math.max(1, Math.floor(positive('workers', options.workers ?? 2)));
    this.#idleMs = positive('idleMs', options.idleMs ?? 60_000);
    this.#maxQueue = Math.floor(positive('maxQueue', options.maxQueue ?? 1000));
  }

  /** Compiles without running; the error message (with line/column when QuickJS gives it) or null. */
  check(code: string): Promise<string | null> {
    if (this.#closed) return Promise.reject(new Error(CLOSED));
    return new Promise((resolve, reject) => {
      this.#enqueue(
        { op: 'check', code },
        (reply) => resolve(reply.error),
        () => reject(new Error(CLOSED)),
      );
    });
  }

  /** Runs `code` with global `data` = the parsed payload (JSON-cloneable). Never throws: failures become {ok:false, error}. */
  run(code: string, data: unknown): Promise<TransformOutcome> {
    if (this.#closed) return Promise.reject(new Error(CLOSED));
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (err) {
      return Promise.resolve({ ok: false, error: `the payload cannot be given to the transform: ${err instanceof Error ? err.message : String(err)}` });
    }
    return new Promise((resolve) => {
      const settle = (reply: Reply) => resolve(reply.error === null && reply.result ? { ok: true, result: reply.result } : { ok: false, error: reply.error ?? 'the transform gave no result' });
      this.#enqueue({ op: 'run', code, json }, settle, () => resolve({ ok: false, error: CLOSED }));
    });
  }

  /** Terminates the workers; later run/check reject. Runs still waiting or running fail, checks reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const jobs = this.#queue.splice(0);
    const stopping: Promise<number>[] = [];
    for (const slot of this.#slots) {
      if (slot.job) jobs.push(slot.job);
      slot.job = undefined;
      stopping.push(this.#discard(slot));
    }
    for (const job of jobs) job.abandon();
    await Promise.all(stopping);
  }

  #enqueue(request: Request, settle: (reply: Reply) => void, abandon: () => void): void {
    if (this.#queue.length >= this.#maxQueue) {
      settle({ error: `too many webhook transforms are waiting (${this.#queue.length}); this one was not run` });
      return;
    }
    let done = false;
    // A job is answered once, whichever of the worker, the hard stop, a crash or close() comes first.
    const once =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) => {
        if (done) return;
        done = true;
        fn(...args);
      };
    this.#queue.push({ id: this.#nextId++, request, settle: once(settle), abandon: once(abandon) });
    this.#pump();
  }

  /** Hands waiting jobs to idle ready workers, and starts workers (up to the pool size) for the rest. */
  #pump(): void {
    if (this.#closed) return;
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) break;
      if (slot.ready && !slot.dead && !slot.job) this.#dispatch(slot, this.#queue.shift()!);
    }
    let booting = 0;
    for (const slot of this.#slots) if (!slot.ready) booting++;
    let wanted = Math.min(this.#queue.length - booting, this.#size - this.#slots.size);
    while (wanted-- > 0) this.#spawn();
  }

  #spawn(): void {
    const slot: Slot = { worker: new Worker(WORKER_URL, { name: 'webhooks-transform' }), ready: false, dead: false };
    this.#slots.add(slot);
    slot.worker.on('message', (reply: WorkerReply) => this.#onReply(slot, reply));
    slot.worker.on('error', (err) => this.#onDeath(slot, err.message));
    slot.worker.on('exit', (code) => this.#onDeath(slot, `the worker exited with code ${code}`));
  }

  #dispatch(slot: Slot, job: Job): void {
    clearTimeout(slot.idle);
    slot.job = job;
    // Keeps the process alive while a job is in hand; an idle worker does not.
    slot.worker.ref();
    slot.worker.postMessage({ ...job.request, id: job.id, limits: this.limits } satisfies WorkerRequest);
    slot.hardStop = setTimeout(() => this.#hardStop(slot), this.limits.timeoutMs + HARD_STOP_MARGIN_MS);
  }

  #onReply(slot: Slot, reply: WorkerReply): void {
    if (slot.dead) return;
    if ('ready' in reply) {
      slot.ready = true;
      this.#pump();
      if (!slot.job) this.#rest(slot);
      return;
    }
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    clearTimeout(slot.hardStop);
    slot.job = undefined;
    job.settle(reply);
    if (reply.retire) void this.#discard(slot);
    this.#pump();
    if (!slot.dead && !slot.job) this.#rest(slot);
  }

  #hardStop(slot: Slot): void {
    const job = slot.job;
    slot.job = undefined;
    void this.#discard(slot);
    job?.settle({ error: `the transform ran longer than ${this.limits.timeoutMs} ms and was stopped` });
    this.#pump();
  }

  #onDeath(slot: Slot, why: string): void {
    if (slot.dead) return;
    const job = slot.job;
    slot.job = undefined;
    void this.#discard(slot);
    if (!slot.ready) {
      // QuickJS or the worker file failing to load will not fix itself: fail what waits rather than restart workers in a loop.
      for (const waiting of this.#queue.splice(0)) waiting.settle({ error: `the transform sandbox could not start: ${why}` });
    }
    job?.settle({ error: `the transform sandbox crashed: ${why}` });
    this.#pump();
  }

  /** An idle worker lets the process exit, and is stopped after idleMs. */
  #rest(slot: Slot): void {
    slot.worker.unref();
    clearTimeout(slot.idle);
    slot.idle = setTimeout(() => {
      if (!slot.job) void this.#discard(slot);
    }, this.#idleMs);
    slot.idle.unref();
  }

  #discard(slot: Slot): Promise<number> {
    slot.dead = true;
    clearTimeout(slot.hardStop);
    clearTimeout(slot.idle);
    this.#slots.delete(slot);
    return slot.worker.terminate().catch(() => 0);
  }
}
