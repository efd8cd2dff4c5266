/**
 * Posts WARN/ERROR records to the admin room, once per distinct message within
 * a window.
 */
import type { LogEntry } from './logging.ts';
import { escapeHtml } from '../sdk/index.ts';

export interface NotifierOptions {
  adminRoom: string;
  clientId: string;
  minLevel: 'warn' | 'error' | 'critical';
  dedupeSeconds: number;
  maxPerMinute: number;
}

export type NoticeSender = (clientId: string, roomId: string, text: string, html: string) => Promise<void>;

const RANK: Record<string, number> = { debug: 0, info: 1, warn: 2, error: 3, critical: 4 };

/**
 * Posts ERROR/CRITICAL log entries to the admin room (seed FR-014). The same
 * message from the same source is posted once per dedupe window, and a burst
 * is capped per minute, so a crash loop cannot flood the room.
 */
export class AdminNotifier {
  readonly #options: NotifierOptions;
  readonly #send: NoticeSender;
  readonly #lastPosted = new Map<string, number>();
  #windowStart = 0;
  #inWindow = 0;
  #suppressed = 0;

  constructor(options: NotifierOptions, send: NoticeSender) {
    this.#options = options;
    this.#send = send;
  }

  /** Returns whether the entry was posted (for tests and metrics). */
  async handle(entry: LogEntry, now = Date.now()): Promise<boolean> {
    if ((RANK[entry.level] ?? 0) < RANK[this.#options.minLevel]) return false;
    // The sender logs its own failures with component=notifier; never notify about those (no loops).
    if (entry.context?.component === 'notifier') return false;
    const key = `${entry.instanceId ?? ''}|${entry.level}|${entry.message}`;
    const last = this.#lastPosted.get(key);
    if (last !== undefined && now - last < this.#options.dedupeSeconds * 1000) return false;
    if (now - this.#windowStart >= 60_000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#options.maxPerMinute) {
      this.#suppressed++;
      return false;
    }
    this.#inWindow++;
    this.#lastPosted.set(key, now);
    if (this.#lastPosted.size > 1000) this.#lastPosted.delete(this.#lastPosted.keys().next().value as string);
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    const source = entry.instanceId ? `instance ${entry.instanceId}` : entry.clientId ? `client ${entry.clientId}` : 'daemon';
    const when = new Date(entry.time).toISOString();
    const detail = entry.context?.err && typeof entry.context.err === 'object' ? String((entry.context.err as { message?: unknown }).message ?? '') : '';
    const extra = suppressed ? ` (${suppressed} more suppressed by the rate limit)` : '';
    const text = `[${entry.level.toUpperCase()}] ${source}: ${entry.message}${detail ? ` — ${detail}` : ''} (${when})${extra}`;
    const html = `<b>[${entry.level.toUpperCase()}]</b> ${escapeHtml(source)}: ${escapeHtml(entry.message)}${detail ? ` — <code>${escapeHtml(detail)}</code>` : ''} <i>(${when})</i>${escapeHtml(extra)}`;
    await this.#send(this.#options.clientId, this.#options.adminRoom, text, html);
    return true;
  }
}
