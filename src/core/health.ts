import type { Storage } from '../storage/database.ts';
import type { Supervisor } from './supervisor.ts';

export interface HealthReport {
  status: 'ok' | 'degraded';
  uptime_seconds: number;
  instances: { enabled: number; running: number; not_running: Array<{ id: string; state: string; last_error: string | null }> };
  clients: Array<{ id: string; state: string; last_sync_age_seconds: number | null; last_error: string | null }>;
  errors_last_5m: number;
}

/** A client whose last good sync is older than this is unhealthy (long polls last 30 s). */
const STALE_SYNC_SECONDS = 90;

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
  const instances = await deps.storage.instances.list();
  const enabled = instances.filter((i) => i.enabled);
  const notRunning = enabled
    .map((i) => ({ id: i.id, status: deps.supervisor.instanceStatus(i.id) }))
    .filter((i) => i.status?.state !== 'running')
    .map((i) => ({ id: i.id, state: i.status?.state ?? 'unknown', last_error: i.status?.lastError ?? null }));
  const clients = [...deps.supervisor.clients.values()]
    .filter((c) => c.record.enabled)
    .map((c) => {
      const s = c.status;
      return { id: c.userId, state: s.state, last_sync_age_seconds: s.lastSuccessAt ? Math.round((now - s.lastSuccessAt) / 100) / 10 : null, last_error: s.lastError };
    });
  const unhealthyClient = clients.some((c) => c.last_sync_age_seconds === null || c.last_sync_age_seconds > STALE_SYNC_SECONDS);
  return {
    status: notRunning.length === 0 && !unhealthyClient ? 'ok' : 'degraded',
    uptime_seconds: Math.round((now - deps.startedAt) / 1000),
    instances: { enabled: enabled.length, running: enabled.length - notRunning.length, not_running: notRunning },
    clients,
    errors_last_5m: deps.errors.since(5 * 60_000, now),
  };
}
