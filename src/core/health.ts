/**
 * The `/health` report: accounts syncing, instances not running, errors in
 * the last 5 minutes, storage writable.
 */
import type { Storage } from '../storage/database.ts';
import type { Supervisor } from './supervisor.ts';

export interface HealthReport {
  status: 'ok' | 'degraded';
  /** Why it is degraded, in words an operator can act on; empty when ok. */
  reasons: string[];
  uptime_seconds: number;
  instances: {
    enabled: number;
    running: number;
    not_running: Array<{ id: string; state: string; last_error: string | null }>;
    /** Enabled instances with an empty room allowlist: they react in no room (not a degradation: it may be wanted, see instances_default_rooms). */
    hearing_no_room: string[];
  };
  clients: Array<{ id: string; state: string; last_sync_age_seconds: number | null; last_error: string | null }>;
  errors_last_5m: number;
}

/**
 * A client whose last good sync is older than this, while it is not busy
 * handling a batch, cannot be answering: long polls return every 30 s and a
 * hung connection is given up 5 s after that, so 60 s means several misses.
 */
const STALE_SYNC_SECONDS = 60;
/** After start, a client that has not synced yet is given this long before it counts as down. */
const STARTUP_GRACE_SECONDS = 60;

export class ErrorCounter {
  #times: number[] = [];
  record(now = Date.now()): void {
    this.#times.push(now);
    if (this.#times.length > 10_000) this.#times = this.#times.slice(-5_000);
  }
  since(ms: number, now = Date.now()): number {
    this.#times = this.#times.filter((t) => now - t < Math.max(ms, 3600_000));
    return this.#times.filter((t) => now - t < ms).length;
  }
}

export async function healthReport(deps: { storage: Storage; supervisor: Supervisor; errors: ErrorCounter; startedAt: number }): Promise<HealthReport> {
  const now = Date.now();
  const reasons: string[] = [];
  const storageFailure = deps.supervisor.storageGuard.failure;
  if (storageFailure) reasons.push(`storage cannot be written since ${new Date(storageFailure.since).toISOString()} (${storageFailure.what}): ${storageFailure.error}`);
  // Reading the instance list needs the database; when it is locked or gone, the health check still answers.
  const instances = await deps.storage.instances.list().catch((err: Error) => {
    reasons.push(`storage cannot be read: ${err.message}`);
    return [];
  });
  const enabled = instances.filter((i) => i.enabled);
  const notRunning = enabled
    .map((i) => ({ id: i.id, status: deps.supervisor.instanceStatus(i.id) }))
    .filter((i) => i.status?.state !== 'running')
    .map((i) => ({ id: i.id, state: i.status?.state ?? 'unknown', last_error: i.status?.lastError ?? null }));
  if (notRunning.length > 0) reasons.push(`${notRunning.length} enabled instance(s) not running: ${notRunning.map((i) => `${i.id} (${i.state})`).join(', ')}`);
  const inGrace = now - deps.startedAt < STARTUP_GRACE_SECONDS * 1000;
  const clients = [...deps.supervisor.clients.values()]
    .filter((c) => c.record.enabled)
    .map((c) => {
      const s = c.status;
      const age = s.lastSuccessAt ? Math.round((now - s.lastSuccessAt) / 100) / 10 : null;
      const busy = s.handlingSince !== null && s.handlingSince !== undefined;
      if (s.state === 'failed') reasons.push(`${c.userId} stopped syncing: ${s.lastError ?? 'unknown error'}`);
      else if (age === null ? !inGrace : age > STALE_SYNC_SECONDS && !busy) {
        reasons.push(`${c.userId} has not synced ${age === null ? 'since start' : `for ${Math.round(age)} s`}${s.lastError ? `: ${s.lastError}` : ''}`);
      }
      return { id: c.userId, state: s.state, last_sync_age_seconds: age, last_error: s.lastError };
    });
  return {
    status: reasons.length === 0 ? 'ok' : 'degraded',
    reasons,
    uptime_seconds: Math.round((now - deps.startedAt) / 1000),
    instances: {
      enabled: enabled.length,
      running: enabled.length - notRunning.length,
      not_running: notRunning,
      hearing_no_room: enabled.filter((i) => i.rooms.length === 0).map((i) => i.id),
    },
    clients,
    errors_last_5m: deps.errors.since(5 * 60_000, now),
  };
}
