/**
 * "Count every message": a person sends uniquely numbered `!echo <runId>-<N>`
 * messages (several requests in flight), and the bot's answers are counted
 * from the room's whole history as the homeserver stores it (`/messages`,
 * paginated back to the room's creation), not from what anyone's sync
 * happened to deliver. For one run id that gives: sent, answered once, lost
 * (no answer), answered twice or more, and whether the answers in each room
 * came in the order of their triggers.
 *
 * The bundled ping plugin answers `!echo <text>` with an m.notice whose body
 * is the text, so the answer to `!echo r1-17` is the bot's message `r1-17`.
 */
import type { TestUser } from './matrix-user.ts';
import { MatrixRequestError } from './matrix-user.ts';

export interface EchoSendOptions {
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Pace the sends: at most this many per second over the whole run (default: as fast as the homeserver takes them). */
  ratePerSecond?: number;
  /** Stop sending early (the numbers not sent yet are not counted as sent). */
  signal?: AbortSignal;
  /** Called after each accepted send with the number sent so far. */
  onSent?: (n: number, sentSoFar: number) => void;
}

export interface EchoRoomCounts {
  roomId: string;
  /** Triggers of this run found in the room's history. */
  triggers: number;
  /** Answers of this run (every copy) in the room's history. */
  replies: number;
  /** Whether the first answers came in the order of their triggers in the timeline. */
  inOrder: boolean;
  /** The first place where they did not (for the failure message). */
  firstDisorder: string | null;
}

export interface EchoCounts {
  runId: string;
  sent: number;
  answeredOnce: number;
  lost: number;
  /** How many N got two or more answers. */
  answeredTwice: number;
  /** Answers beyond the first, summed over all N (a triple answer counts 2). */
  extraAnswers: number;
  /** Answers whose N was never sent (should be 0). */
  unexpected: number;
  /** Every room's answers in trigger order. */
  inOrder: boolean;
  rooms: EchoRoomCounts[];
  /** Up to 20 lost / duplicated N, for failure messages. */
  lostSample: number[];
  twiceSample: Array<{ n: number; answers: number }>;
}

export interface WaitOptions {
  /** After everything is answered, wait this long and count again to catch late duplicates (default 3 s). */
  settleMs?: number;
  /** Give up early when nothing new was answered for this long (default 20 s). */
  stallMs?: number;
  /** Pause between two counts (default 1.5 s; the count itself also takes a moment). */
  pollMs?: number;
  /** Progress lines (e.g. t.diagnostic or the bench's stderr log). */
  log?: (line: string) => void;
}

export interface WaitResult extends EchoCounts {
  /** Why waiting ended. */
  outcome: 'all answered' | 'stalled' | 'timed out';
  waitedMs: number;
}

export interface HistoryEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: { body?: unknown; msgtype?: unknown; [key: string]: unknown };
}

interface MessagesPage {
  chunk: HistoryEvent[];
  start: string;
  end?: string;
}

const PAGE_LIMIT = 1000;
const SEND_ATTEMPTS = 6;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A short id that makes a run's bodies unique on a shared homeserver. */
export function newRunId(prefix = 'r'): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

const MESSAGE_FILTER = encodeURIComponent(JSON.stringify({ types: ['m.room.message'], lazy_load_members: true }));

function messagesPath(roomId: string, dir: 'b' | 'f', from: string | undefined): string {
  const base = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=${dir}&limit=${PAGE_LIMIT}&filter=${MESSAGE_FILTER}`;
  return from === undefined ? base : `${base}&from=${encodeURIComponent(from)}`;
}

export interface RoomHistory {
  /** Every m.room.message, oldest first. */
  events: HistoryEvent[];
  /** Where the history ended when it was read: reading forward from here gives what came after. */
  liveToken: string;
}

/**
 * Every m.room.message in the room, oldest first: paginates `/messages`
 * backwards from the live end until the homeserver says there is nothing
 * older (no `end` token).
 */
export async function readRoomHistory(user: TestUser, roomId: string): Promise<RoomHistory> {
  const newestFirst: HistoryEvent[] = [];
  let from: string | undefined;
  let liveToken: string | undefined;
  for (let page = 0; ; page++) {
    if (page > 10_000) throw new Error(`reading the history of ${roomId}: more than 10 000 pages, giving up`);
    const res = await user.request<MessagesPage>('GET', messagesPath(roomId, 'b', from), undefined, 120_000);
    liveToken ??= res.start;
    newestFirst.push(...res.chunk);
    // No `end` = reached the start of the room. The same token again would loop forever.
    if (res.end === undefined || res.end === from) break;
    from = res.end;
  }
  return { events: newestFirst.reverse(), liveToken: liveToken! };
}

/** Appends what the room got since `history.liveToken` (forward pagination), and moves the token on. */
export async function readRoomHistorySince(user: TestUser, roomId: string, history: RoomHistory): Promise<void> {
  for (let page = 0; page < 10_000; page++) {
    const res = await user.request<MessagesPage>('GET', messagesPath(roomId, 'f', history.liveToken), undefined, 120_000);
    history.events.push(...res.chunk);
    if (res.end !== undefined) history.liveToken = res.end;
    if (res.chunk.length === 0 || res.end === undefined) return;
  }
}

/**
 * One counted run: the numbers it sent, and its answers in the rooms' history.
 * N is sent into `rooms[(N - 1) % rooms.length]`.
 */
export class EchoRun {
  readonly runId: string;
  readonly user: TestUser;
  readonly botId: string;
  readonly rooms: string[];
  /** N → room, for every N the homeserver accepted. */
  readonly #sent = new Map<number, string>();
  #next = 1;
  /** Room histories read so far, extended by forward pagination between full reads. */
  readonly #histories = new Map<string, RoomHistory>();

  constructor(user: TestUser, botId: string, rooms: string | string[], runId = newRunId()) {
    this.user = user;
    this.botId = botId;
    this.rooms = Array.isArray(rooms) ? rooms : [rooms];
    if (this.rooms.length === 0) throw new Error('EchoRun needs at least one room');
    this.runId = runId;
  }

  get sentCount(): number {
    return this.#sent.size;
  }

  /** The body that triggers N, and the body of its answer. */
  trigger(n: number): string {
    return `!echo ${this.runId}-${n}`;
  }

  answer(n: number): string {
    return `${this.runId}-${n}`;
  }

  /**
   * Sends the next `count` numbers with up to `concurrency` PUTs in flight.
   * Each number has its own transaction id, reused if its PUT is retried
   * (network error, 5xx, 429), so a retry never creates a second trigger.
   * Resolves when all are accepted; rejects if one cannot be sent.
   */
  async send(count: number, options: EchoSendOptions = {}): Promise<void> {
    const concurrency = Math.max(1, options.concurrency ?? 8);
    const first = this.#next;
    this.#next += count;
    const numbers = Array.from({ length: count }, (_, i) => first + i);
    const started = Date.now();
    let index = 0;
    const worker = async (): Promise<void> => {
      while (index < numbers.length) {
        if (options.signal?.aborted) return;
        const i = index++;
        const n = numbers[i]!;
        if (options.ratePerSecond) {
          const due = started + (i * 1000) / options.ratePerSecond;
          if (due > Date.now()) await sleep(due - Date.now());
          if (options.signal?.aborted) return;
        }
        const roomId = this.rooms[(n - 1) % this.rooms.length]!;
        await this.#put(roomId, n);
        this.#sent.set(n, roomId);
        options.onSent?.(n, this.#sent.size);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  }

  async #put(roomId: string, n: number): Promise<void> {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(`echo-${this.runId}-${n}`)}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= SEND_ATTEMPTS; attempt++) {
      try {
        await this.user.request('PUT', path, { msgtype: 'm.text', body: this.trigger(n) }, 60_000);
        return;
      } catch (err) {
        lastError = err;
        const status = err instanceof MatrixRequestError ? err.status : 0;
        // 4xx other than 429 will not get better by retrying.
        if (status >= 400 && status < 500 && status !== 429) break;
        await sleep(250 * 2 ** attempt);
      }
    }
    throw new Error(`sending ${this.trigger(n)} failed after retries: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }

  /**
   * Counts this run's answers from the whole history of its rooms. By default
   * it reads everything again; `{ incremental: true }` (used while polling)
   * only reads what came after the previous read.
   */
  async count(options: { incremental?: boolean } = {}): Promise<EchoCounts> {
    const triggerRe = new RegExp(`^!echo ${escapeRegExp(this.runId)}-(\\d+)$`);
    const answerRe = new RegExp(`^${escapeRegExp(this.runId)}-(\\d+)$`);
    const answers = new Map<number, number>();
    const rooms: EchoRoomCounts[] = [];
    let unexpected = 0;
    for (const roomId of this.rooms) {
      let cached = options.incremental ? this.#histories.get(roomId) : undefined;
      if (cached) await readRoomHistorySince(this.user, roomId, cached);
      else this.#histories.set(roomId, (cached = await readRoomHistory(this.user, roomId)));
      const history = cached.events;
      const triggerOrder: number[] = [];
      const answerOrder: number[] = [];
      const answeredHere = new Set<number>();
      let replies = 0;
      for (const ev of history) {
        if (ev.type !== 'm.room.message' || typeof ev.content.body !== 'string') continue;
        if (ev.sender === this.user.userId) {
          const m = triggerRe.exec(ev.content.body);
          if (m) triggerOrder.push(Number(m[1]));
        } else if (ev.sender === this.botId) {
          const m = answerRe.exec(ev.content.body);
          if (!m) continue;
          const n = Number(m[1]);
          replies++;
          if (this.#sent.get(n) !== roomId) unexpected++;
          answers.set(n, (answers.get(n) ?? 0) + 1);
          if (!answeredHere.has(n)) {
            answeredHere.add(n);
            answerOrder.push(n);
          }
        }
      }
      // The answers, first copies only, must follow the triggers' order in the timeline.
      const expectedOrder = triggerOrder.filter((n) => answeredHere.has(n));
      let firstDisorder: string | null = null;
      for (let i = 0; i < expectedOrder.length; i++) {
        if (expectedOrder[i] !== answerOrder[i]) {
          firstDisorder = `answer #${i + 1} is for ${this.runId}-${answerOrder[i]}, but the trigger at that place was ${this.runId}-${expectedOrder[i]}`;
          break;
        }
      }
      rooms.push({ roomId, triggers: triggerOrder.length, replies, inOrder: firstDisorder === null, firstDisorder });
    }
    let answeredOnce = 0;
    let lost = 0;
    let answeredTwice = 0;
    let extraAnswers = 0;
    const lostSample: number[] = [];
    const twiceSample: Array<{ n: number; answers: number }> = [];
    for (const n of [...this.#sent.keys()].sort((a, b) => a - b)) {
      const k = answers.get(n) ?? 0;
      if (k === 0) {
        lost++;
        if (lostSample.length < 20) lostSample.push(n);
      } else if (k === 1) {
        answeredOnce++;
      } else {
        answeredTwice++;
        extraAnswers += k - 1;
        if (twiceSample.length < 20) twiceSample.push({ n, answers: k });
      }
    }
    return {
      runId: this.runId,
      sent: this.#sent.size,
      answeredOnce,
      lost,
      answeredTwice,
      extraAnswers,
      unexpected,
      inOrder: rooms.every((r) => r.inOrder),
      rooms,
      lostSample,
      twiceSample,
    };
  }

  /**
   * Counts until `expected` numbers (default: all sent) have at least one
   * answer, then waits `settleMs` more and counts again, so a duplicate that
   * arrives late is still seen. Never throws for missing answers: returns the
   * counts when everything is answered, when nothing moved for `stallMs`, or
   * at `timeoutMs`; the caller asserts.
   */
  async waitForAnswers(expected: number = this.sentCount, timeoutMs = 120_000, options: WaitOptions = {}): Promise<WaitResult> {
    const settleMs = options.settleMs ?? 3_000;
    const stallMs = options.stallMs ?? 20_000;
    const pollMs = options.pollMs ?? 1_500;
    const started = Date.now();
    let lastProgressAt = started;
    let lastSignature = '';
    let lastLogAt = 0;
    const answeredOf = (c: EchoCounts): number => c.answeredOnce + c.answeredTwice;
    for (;;) {
      // Cheap polls read only what is new; every verdict below comes from a full read.
      const counts = await this.count({ incremental: true });
      const now = Date.now();
      if (answeredOf(counts) >= expected) {
        options.log?.(`${this.runId}: ${answeredOf(counts)}/${expected} answered after ${Math.round((now - started) / 1000)} s; checking for late duplicates for ${settleMs / 1000} s`);
        if (settleMs > 0) await sleep(settleMs);
        const final = await this.count();
        if (answeredOf(final) >= expected) return { ...final, outcome: 'all answered', waitedMs: Date.now() - started };
        options.log?.(`${this.runId}: the full read found only ${answeredOf(final)}/${expected} answered; waiting on`);
      }
      const signature = `${answeredOf(counts)}/${counts.extraAnswers}`;
      if (signature !== lastSignature) {
        lastSignature = signature;
        lastProgressAt = now;
      }
      if (options.log && now - lastLogAt >= 10_000) {
        lastLogAt = now;
        options.log(`${this.runId}: ${answeredOf(counts)}/${expected} answered so far (${Math.round((now - started) / 1000)} s)`);
      }
      if (now - lastProgressAt >= stallMs) return { ...(await this.count()), outcome: 'stalled', waitedMs: Date.now() - started };
      if (now - started >= timeoutMs) return { ...(await this.count()), outcome: 'timed out', waitedMs: Date.now() - started };
      await sleep(pollMs);
    }
  }
}

/** One line for logs and failure messages. */
export function describeCounts(c: EchoCounts | WaitResult): string {
  const parts = [
    `run ${c.runId}: sent ${c.sent}`,
    `answered once ${c.answeredOnce}`,
    `lost ${c.lost}`,
    `answered twice+ ${c.answeredTwice} (${c.extraAnswers} extra answers)`,
    `order ${c.inOrder ? 'kept' : 'broken'}`,
  ];
  if (c.unexpected) parts.push(`${c.unexpected} answers to numbers never sent (or in the wrong room)`);
  if ('outcome' in c) parts.push(`${c.outcome} after ${Math.round(c.waitedMs / 1000)} s`);
  if (c.lostSample.length) parts.push(`lost e.g. ${c.lostSample.slice(0, 10).join(', ')}`);
  if (c.twiceSample.length)
    parts.push(
      `twice e.g. ${c.twiceSample
        .slice(0, 10)
        .map((t) => `${t.n}×${t.answers}`)
        .join(', ')}`,
    );
  const disorder = c.rooms.find((r) => r.firstDisorder);
  if (disorder) parts.push(`first disorder: ${disorder.firstDisorder}`);
  const missingTriggers = c.rooms.reduce((s, r) => s + r.triggers, 0);
  if (missingTriggers !== c.sent) parts.push(`(${missingTriggers} triggers found in the history for ${c.sent} sent)`);
  return parts.join('; ');
}
