/**
 * Which plugin instance (and which triggering event) the current code runs
 * for, carried through awaits and timers by AsyncLocalStorage. Two things
 * need it without the plugin passing anything along:
 *
 * - Idempotent answers: a send made while handling event E gets the
 *   transaction id (instance, E, handler, n-th send). When a crash replays E,
 *   the same sends carry the same ids and the homeserver returns the events
 *   it already has instead of posting them again.
 * - Blame: a throw in a plugin's own setTimeout or an un-awaited promise
 *   reaches process-level handlers; the scope names the instance, so the
 *   daemon logs and counts it there and keeps running.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';

interface Scope {
  instanceId: string;
  /** Set while a handler runs for a room event; absent in setup, timers and the like. */
  trigger?: { eventId: string; handler: string; sends: number };
}

const storage = new AsyncLocalStorage<Scope>();

/** Runs plugin code (setup, teardown, timers) attributed to an instance. */
export function runAsInstance<T>(instanceId: string, fn: () => T): T {
  return storage.run({ instanceId }, fn);
}

/** Runs one handler of an instance for one room event; its sends get replay-stable transaction ids. */
export function runForEvent<T>(instanceId: string, eventId: string, handler: string, fn: () => T): T {
  return storage.run({ instanceId, trigger: { eventId, handler, sends: 0 } }, fn);
}

/** The instance the current code runs for, if it is plugin code. */
export function currentInstance(): string | undefined {
  return storage.getStore()?.instanceId;
}

/**
 * The transaction id for the next send of the running handler, the same on
 * every replay of the same event; undefined outside a handler (then a random
 * id is right: nothing replays it).
 */
export function replayStableTxnId(): string | undefined {
  const scope = storage.getStore();
  if (!scope?.trigger) return undefined;
  const n = scope.trigger.sends++;
  const digest = createHash('sha256').update(`${scope.instanceId}\0${scope.trigger.eventId}\0${scope.trigger.handler}`).digest('base64url').slice(0, 32);
  return `trellis.r.${digest}.${n}`;
}
