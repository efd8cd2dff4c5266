/**
 * Notices a blocked event loop (a CPU-bound plugin handler stalls every bot
 * in the process, since they share one thread) and names the handlers that
 * were running, so the operator knows which instance to look at. The lag
 * itself is also a Prometheus metric (trellis_nodejs_eventloop_lag_seconds,
 * set through `onSample`).
 */
import type { Logger } from './logging.ts';

const CHECK_EVERY_MS = 500;
/** A timer late by more than this means something held the thread. */
const WARN_AFTER_MS = 1_000;

export function watchEventLoop(log: Logger, running: () => Array<{ instance: string; label: string; ms: number }>, onSample: (lagMs: number) => void = () => undefined): () => void {
  let expected = Date.now() + CHECK_EVERY_MS;
  const timer = setInterval(() => {
    const now = Date.now();
    const lag = now - expected;
    expected = now + CHECK_EVERY_MS;
    onSample(Math.max(0, lag));
    if (lag < WARN_AFTER_MS) return;
    const busy = running();
    const blame = busy.length > 0 ? `; handlers running: ${busy.map((h) => `${h.instance} (${h.label}, ${Math.round(h.ms / 1000)} s)`).join(', ')}` : '';
    log.warn(`event loop was blocked for ${(lag / 1000).toFixed(1)} s, so every bot paused${blame}. A plugin doing CPU-heavy work should yield or move it to a worker`, {
      lag_ms: lag,
      instances: busy.map((h) => h.instance),
    });
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
