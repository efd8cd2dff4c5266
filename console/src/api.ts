/** The console's API client: fetch with the bearer token, errors, websocket URLs, and the API types (the server's). */
import { signal } from '@preact/signals';
import type { Client, HealthReport, LiveHealth } from '../../src/api/schemas.ts';

/** Shapes of the management API: the server's own schemas (src/api/schemas.ts; types only, nothing of it is bundled). */
export type { Client, Instance, LiveMessage, LogEntry, LogRecord, LogStreamMessage, LogStreamRecord, Plugin } from '../../src/api/schemas.ts';

/** maubot's `displayname` / `avatar_url` value for "not managed by Trellis": the homeserver's (`remote_*`) is what shows. */
const UNMANAGED = 'disable';

type Profile = Pick<Client, 'displayname' | 'avatar_url'> & Partial<Pick<Client, 'remote_displayname' | 'remote_avatar_url'>>;

/** The display name to show: the one Trellis manages, else the homeserver's. */
export function shownName(client: Profile): string | null {
  return client.displayname !== UNMANAGED ? client.displayname : (client.remote_displayname ?? null);
}

/** The avatar (mxc://) to show: the one Trellis manages, else the homeserver's. */
export function shownAvatar(client: Profile): string | null {
  return client.avatar_url !== UNMANAGED ? client.avatar_url : (client.remote_avatar_url ?? null);
}

/** Daemon health as GET /health (with the token) or the live socket reports it. */
export type Health = HealthReport | LiveHealth;

/** The parts of a plugin's config schema (`Plugin.config_schema`, a JSON Schema) the config form reads. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  title?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

export const API = '/_matrix/maubot/v1';
const TOKEN_KEY = 'trellis.console.token';

/** Kept in localStorage so a reload (or a second tab) stays logged in until logout or expiry. */
export const token = signal<string | null>(localStorage.getItem(TOKEN_KEY));

export function setToken(value: string | null): void {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
  token.value = value;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problems: string[];
  constructor(status: number, message: string, problems: string[]) {
    super(message);
    this.status = status;
    this.problems = problems;
  }
}

export interface RequestOptions {
  body?: unknown;
  raw?: Blob | ArrayBuffer;
  contentType?: string;
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (token.value) headers.authorization = `Bearer ${token.value}`;
  let body: BodyInit | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    headers['content-type'] = options.contentType || 'application/octet-stream';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(API + path, { method, headers, body });
  } catch {
    throw new ApiError(0, 'The Trellis daemon did not answer. Is it running?', []);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data ?? {}) as { error?: string; problems?: string[] };
    // An expired session sends the operator back to the login form.
    if (res.status === 401 && path !== '/auth/login') setToken(null);
    const problems = Array.isArray(err.problems) ? err.problems : [];
    // The API's `error` ends with the problems (for maubot's clients, which show only `error`); the console lists them.
    const suffix = problems.length ? `: ${problems.join('; ')}` : '';
    const message = err.error ?? `HTTP ${res.status}`;
    throw new ApiError(res.status, suffix && message.endsWith(suffix) ? message.slice(0, -suffix.length) : message, problems);
  }
  return data as T;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function wsUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${API}${path}`;
}
