/**
 * Filling a gap in a room's timeline. When more events arrived since the
 * last sync than the sync filter's timeline limit (a burst, or the daemon
 * was down), the homeserver sends only the newest ones with `limited: true`
 * and a `prev_batch` token. The events in between are fetched here, newest
 * first, back to the last event this account already handled, and handed
 * back oldest first so plugins see the room in order.
 */
import type { MatrixClient } from '../matrix/client.ts';
import type { MatrixEvent } from '../matrix/types.ts';

export interface CatchUpWindow {
  /** Events older than this are not fetched. */
  maxAgeMs: number;
  /** At most this many events are fetched per room and gap. */
  maxEvents: number;
}

export interface Gap {
  /** The missing events, oldest first. */
  events: MatrixEvent[];
  /** Events left out because they fall outside the window (a lower bound when `skippedIsLowerBound`). */
  skipped: number;
  skippedIsLowerBound: boolean;
}

/** /messages page size: big pages keep a 10 000-event catch-up to a few round trips. */
const PAGE = 500;
/** Counting what is skipped stops here: the WARN then says "at least". */
const COUNT_SKIPPED_UP_TO = 50_000;

/** The end of a gap: an event already handled, or our own join (nothing before it is ours to answer). */
export type GapEnd = (event: MatrixEvent) => Promise<boolean> | boolean;

export function isOwnJoin(event: MatrixEvent, userId: string): boolean {
  if (event.type !== 'm.room.member' || event.state_key !== userId || event.content.membership !== 'join') return false;
  // A display name or avatar change is also a join→join member event; only the real join ends history.
  const previous = (event.unsigned?.prev_content as { membership?: unknown } | undefined)?.membership;
  return previous !== 'join';
}

export async function fetchGap(options: { matrix: MatrixClient; roomId: string; prevBatch: string; window: CatchUpWindow; isEnd: GapEnd; now?: number; signal?: AbortSignal }): Promise<Gap> {
  const { matrix, roomId, window } = options;
  const oldest = (options.now ?? Date.now()) - window.maxAgeMs;
  const newestFirst: MatrixEvent[] = [];
  let skipped = 0;
  let counting = false;
  let from: string | undefined = options.prevBatch;
  while (from !== undefined) {
    const page = await matrix.roomMessages(roomId, { from, dir: 'b', limit: PAGE, filter: { lazy_load_members: true }, ...(options.signal ? { signal: options.signal } : {}) });
    for (const event of page.chunk) {
      if (await options.isEnd(event)) return done();
      if (!counting && (event.origin_server_ts < oldest || newestFirst.length >= window.maxEvents)) counting = true;
      if (counting) {
        skipped++;
        if (skipped >= COUNT_SKIPPED_UP_TO) return done(true);
      } else newestFirst.push(event);
    }
    // No `end` (or no progress): the start of the room.
    from = page.chunk.length > 0 && page.end !== from ? page.end : undefined;
  }
  return done();

  function done(lowerBound = false): Gap {
    return { events: newestFirst.reverse(), skipped, skippedIsLowerBound: lowerBound };
  }
}
