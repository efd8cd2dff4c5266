/**
 * When extractions may run: a pace (requests per minute) and a concurrency
 * limit per source — each source has its own budget, so an extra source's
 * links never spend Instagram's —, a cool-down after the source rate-limits us,
 * and one FIFO queue per room served round-robin, so one room's burst of
 * links does not starve the others.
 */

export interface SchedulerSettings {
  requestsPerMinute: number;
  /** Extractions of one source running at the same time. */
  concurrency: number;
}

export interface Job {
  roomId: string;
  source: string;
  run(): Promise<void>;
}

export interface Clock {
  now(): number;
  /** Calls fn after ms; returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
}

export class Scheduler {
  #settings: SchedulerSettings;
  readonly #clock: Clock;
  readonly #queues = new Map<string, Job[]>();
  /** Rooms with queued jobs. */
  readonly #rooms: string[] = [];
  /** When each room last had a job started (a sequence number): the least recently served goes next. */
  readonly #lastServed = new Map<string, number>();
  #served = 0;
  readonly #running = new Map<string, number>();
  readonly #coolUntil = new Map<string, number>();
  /** When each source last had an extraction started. */
  readonly #lastStart = new Map<string, number>();
  #wake: (() => void) | null = null;
  /** Recent extraction durations, for the wait estimate. */
  #averageMs = 8000;
  #stopped = false;
  readonly #onChange: (queued: number) => void;

  constructor(settings: SchedulerSettings, clock: Clock, onChange: (queued: number) => void = () => undefined) {
    this.#settings = settings;
    this.#clock = clock;
    this.#onChange = onChange;
  }

  set settings(settings: SchedulerSettings) {
    this.#settings = settings;
    this.#pump();
  }

  get queued(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  get running(): number {
    let n = 0;
    for (const r of this.#running.values()) n += r;
    return n;
  }

  /** How long an extraction usually takes (recent average). */
  get typicalMs(): number {
    return Math.round(this.#averageMs);
  }

  get #intervalMs(): number {
    return 60_000 / Math.max(this.#settings.requestsPerMinute, 0.001);
  }

  /**
   * How many jobs start before a new one for this room, and roughly when it
   * would start: the jobs ahead, paced by the rate limit and the usual
   * extraction time, plus any cool-down in force.
   */
  estimate(roomId: string, source: string): { ahead: number; waitMs: number } {
    // Round-robin: a room's next job waits for its own queue and one turn of every other busy room per job.
    const own = this.#queues.get(roomId)?.length ?? 0;
    let ahead = own + this.running;
    for (const [room, q] of this.#queues) if (room !== roomId) ahead += Math.min(q.length, own + 1);
    const now = this.#clock.now();
    const perJob = Math.max(this.#intervalMs, this.#averageMs / Math.max(this.#settings.concurrency, 1));
    const paceWait = Math.max(0, this.#paceWait(source, now));
    const cool = Math.max(0, (this.#coolUntil.get(source) ?? 0) - now);
    const waitMs = Math.max(cool, ahead === 0 ? paceWait : paceWait + ahead * perJob);
    return { ahead, waitMs };
  }

  add(job: Job, front = false): void {
    if (this.#stopped) return;
    let q = this.#queues.get(job.roomId);
    if (!q) {
      q = [];
      this.#queues.set(job.roomId, q);
    }
    if (front) q.unshift(job);
    else q.push(job);
    if (!this.#rooms.includes(job.roomId)) this.#rooms.push(job.roomId);
    this.#onChange(this.queued);
    this.#pump();
  }

  /** Pauses a source until now + ms (longer pauses win). */
  coolDown(source: string, ms: number): void {
    const until = this.#clock.now() + ms;
    if (until > (this.#coolUntil.get(source) ?? 0)) this.#coolUntil.set(source, until);
  }

  coolingUntil(source: string): number | null {
    const until = this.#coolUntil.get(source) ?? 0;
    return until > this.#clock.now() ? until : null;
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
    this.#wake = null;
    this.#queues.clear();
    this.#rooms.length = 0;
  }

  /** How long until the source's pace lets its next extraction start (≤ 0: now). */
  #paceWait(source: string, now: number): number {
    return (this.#lastStart.get(source) ?? Number.NEGATIVE_INFINITY) + this.#intervalMs - now;
  }

  /** The next job allowed to start now, taken out of its queue; or the time to look again. */
  #next(): { job: Job } | { retryInMs: number } | null {
    const now = this.#clock.now();
    let soonest = Number.POSITIVE_INFINITY;
    const order = [...this.#rooms].sort((a, b) => (this.#lastServed.get(a) ?? -1) - (this.#lastServed.get(b) ?? -1));
    for (const roomId of order) {
      const q = this.#queues.get(roomId)!;
      const job = q[0]!;
      const wait = Math.max((this.#coolUntil.get(job.source) ?? 0) - now, this.#paceWait(job.source, now));
      if (wait > 0) {
        soonest = Math.min(soonest, wait);
        continue;
      }
      if ((this.#running.get(job.source) ?? 0) >= this.#settings.concurrency) continue;
      q.shift();
      this.#lastServed.set(roomId, this.#served++);
      if (q.length === 0) {
        this.#queues.delete(roomId);
        this.#rooms.splice(this.#rooms.indexOf(roomId), 1);
      }
      return { job };
    }
    return Number.isFinite(soonest) ? { retryInMs: soonest } : null;
  }

  #pump(): void {
    if (this.#stopped) return;
    this.#wake?.();
    this.#wake = null;
    for (;;) {
      const next = this.#next();
      if (!next) return;
      if ('retryInMs' in next) {
        this.#wake = this.#clock.schedule(() => {
          this.#wake = null;
          this.#pump();
        }, Math.ceil(next.retryInMs));
        return;
      }
      this.#start(next.job);
    }
  }

  #start(job: Job): void {
    const started = this.#clock.now();
    this.#lastStart.set(job.source, started);
    this.#running.set(job.source, (this.#running.get(job.source) ?? 0) + 1);
    this.#onChange(this.queued);
    void job
      .run()
      .catch(() => undefined)
      .finally(() => {
        this.#running.set(job.source, (this.#running.get(job.source) ?? 1) - 1);
        this.#averageMs = this.#averageMs * 0.7 + (this.#clock.now() - started) * 0.3;
        this.#onChange(this.queued);
        this.#pump();
      });
  }
}
