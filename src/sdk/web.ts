/**
 * HTTP endpoints of a plugin instance on the daemon's public listener
 * (maubot's plugin `webapp`): webhooks, OAuth callbacks, small web pages.
 * Types only; the daemon and the test kit implement {@link PluginWeb}.
 */
import type { JsonValue } from './index.ts';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface WebRequest {
  readonly method: HttpMethod;
  /** The path below the instance's base (or below the claimed prefix), starting with "/". */
  readonly path: string;
  /** Values of the route's `:name` segments (and `*` for a trailing wildcard). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw body (empty for none), at most the listener's `public.max_body_bytes`. */
  readonly body: Uint8Array;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON; throws a SyntaxError for invalid JSON (answered 400 unless caught). */
  json(): unknown;
}

export interface WebResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as text/plain, bytes as application/octet-stream, anything else as JSON; unless headers say otherwise. */
  body?: string | Uint8Array | JsonValue;
}

export type WebHandler = (request: WebRequest) => WebResponse | Promise<WebResponse>;

export interface PluginWeb {
  /**
   * The public URL of this instance's routes, `<public.base_url>/_matrix/maubot/plugin/<instance id>`,
   * or null when the operator has not configured a public listener (routes are then unreachable).
   */
  readonly baseUrl: string | null;
  /** The public URL of a path on the listener, e.g. of a claimed prefix; null without a public listener. */
  publicUrl(path: string): string | null;
  /**
   * Serves `path` (find-my-way syntax: `/hooks/:id`, `/files/*`) below {@link baseUrl}.
   * Removed when the instance stops. Throws if the instance already has that route.
   */
  route(method: HttpMethod | readonly HttpMethod[], path: string, handler: WebHandler): void;
  /**
   * Serves every request under a top-level prefix of the listener (e.g. "/webhook/") for all
   * methods, so URLs stay short and compatible with another tool's (hookshot's `/webhook/<id>`).
   * One instance at a time may hold a prefix; throws if another holds it. Released when the instance stops.
   */
  claimPrefix(prefix: string, handler: WebHandler): void;
  /**
   * Serves `path` on the management listener, below `/_matrix/maubot/v1/instance/<instance id>/plugin`,
   * behind the management API's token (the plugin sees only authenticated requests): the plugin's
   * own admin API, used by scripts and the console. Removed when the instance stops.
   */
  adminRoute(method: HttpMethod | readonly HttpMethod[], path: string, handler: WebHandler): void;
}
