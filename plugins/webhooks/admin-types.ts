/**
 * The shapes of the webhooks plugin's admin API (admin.ts), types only, so
 * the console can import them without the plugin's code.
 */

/** Per-hook counters (stats.ts). */
export interface HookStatView {
  delivered: number;
  last_delivery_at: number | null;
  last_event_id: string | null;
  failures: number;
  last_error: string | null;
  last_error_at: number | null;
  transform_failing: boolean;
}

/** A hook as GET /hooks lists it; secrets only as has_token / has_hmac_secret. */
export interface HookView {
  id: string;
  name: string;
  room: string;
  sender: string;
  format: string;
  transform: string;
  expires: string;
  allow_get: boolean;
  rate_limit_per_minute: number;
  source: 'config' | 'api' | 'command';
  created_by: string;
  created_at: number;
  /** `<public base>/webhook/<id>`, or null without a public listener. */
  url: string | null;
  expired: boolean;
  has_token: boolean;
  has_hmac_secret: boolean;
  /** Stored requests not yet posted. */
  queued: number;
  stats: HookStatView;
}

/** POST /hooks/<id>/test's answer. */
export interface HookTestResult {
  ok: boolean;
  /** The HTTP status a real request would have got. */
  status: number;
  answer: unknown;
  delivered: boolean;
  event_id: string | null;
}
