/**
 * One instance's room events, handled one at a time in arrival order. Each
 * instance has its own queue, so a slow or hung plugin delays only itself:
 * other instances on the same bot account keep answering.
 */

export interface QueueOptions {
  /** A job running longer than this stops holding the queue (it keeps running); the next job starts. */
  releaseAfterMs: number;
  /** A job running longer than this makes the queue "stalled": the sync loop stops waiting for it. */
  stallAfterMs: number;
  onReleased(label: string, ms: number): void;
}

export interface Ticket {
  /** Settles when the job finished or was released; never rejects. */
  readonly done: Promise<void>;
  /** 'done' with `done`, or 'stalled' first when the queue is stuck on this or an earlier job; never rejects. */
  readonly settled: Promise<'done' | 'stalled'>;
}

interface Job {
  label: string;
  run: () => Promise<void>;
  finish: () => void;
  stalled: () => void;
}

export class InstanceQueue {
  readonly #options: QueueOptions;
  readonly #jobs: Job[] = [];
  #current: { job: Job; startedAt: number } | null = null;
  #stallTimer: NodeJS.Timeout | null = null;

  constructor(options: QueueOptions) {
    this.#options = options;
  }

  /** What runs now and for how long (for event-loop-lag blame). */
  get running(): { label: string; ms: number } | null {
    return this.#current ? { label: this.#current.job.label, ms: Date.now() - this.#current.startedAt } : null;
  }

  get stalled(): boolean {
    return this.#current !== null && Date.now() - this.#current.startedAt >= this.#options.stallAfterMs;
  }

  push(label: string, run: () => Promise<void>): Ticket {
    let finish!: () => void;
    let stalled!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const settled = Promise.race([done.then(() => 'done' as const), new Promise<'stalled'>((r) => (stalled = () => r('stalled')))]);
    this.#jobs.push({ label, run, finish, stalled });
    if (this.stalled) stalled();
    if (!this.#current) void this.#drain();
    return { done, settled };
  }

  async #drain(): Promise<void> {
    for (let job = this.#jobs.shift(); job; job = this.#jobs.shift()) {
      const startedAt = Date.now();
      this.#current = { job, startedAt };
      this.#stallTimer = setTimeout(() => {
        // Everything waiting behind a stalled job stops holding up the sync loop too.
        job.stalled();
        for (const waiting of this.#jobs) waiting.stalled();
      }, this.#options.stallAfterMs);
      let release: NodeJS.Timeout | undefined;
      const released = new Promise<'released'>((r) => (release = setTimeout(() => r('released'), this.#options.releaseAfterMs)));
      const outcome = await Promise.race([
        job.run().then(
          () => 'ok' as const,
          () => 'ok' as const,
        ),
        released,
      ]);
      clearTimeout(release);
      clearTimeout(this.#stallTimer);
      if (outcome === 'released') this.#options.onReleased(job.label, Date.now() - startedAt);
      this.#current = null;
      job.finish();
    }
  }
}
