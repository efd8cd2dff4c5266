import { signal } from '@preact/signals';

/** Shapes of the management API (see /openapi.json); only what the console reads. */
export interface Instance {
  id: string;
  type: string;
  primary_user: string;
  enabled: boolean;
  started: boolean;
  state: 'disabled' | 'stopped' | 'starting' | 'running' | 'failed' | 'restarting';
  last_error: string | null;
  config: Record<string, unknown>;
  rooms: string[];
  managed_by: 'api' | 'config';
  events_handled: number;
  errors_last_hour: number;
  started_at: number | null;
}

export interface Client {
  id: string;
  homeserver: string;
  homeserver_name: string | null;
  device_id: string | null;
  displayname: string | null;
  avatar_url: string | null;
  autojoin: boolean;
  enabled: boolean;
  sync_state: string;
  last_sync_at: number | null;
  last_error: string | null;
  rooms: string[];
  encryption: boolean;
  crypto: { enabled?: boolean; state?: string; error?: string | null; [k: string]: unknown } | null;
  managed_by: 'api' | 'config';
  instances: string[];
}

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

export interface Plugin {
  id: string;
  version: string;
  name: string;
  description: string;
  source: string;
  database: boolean;
  config_schema: JsonSchema | null;
  instances: string[];
}

/** A log line as the websockets stream it. */
export interface LogEntry {
  time: number;
  level: 'debug' | 'info' | 'warn' | 'error' | 'critical';
  message: string;
  instance_id: string | null;
  client_id: string | null;
  context: Record<string, unknown> | null;
}

/** A stored log line (history). */
export interface LogRecord extends LogEntry {
  id: number;
}

export interface Health {
  status: 'ok' | 'degraded';
  instances: { enabled: number; running: number; not_running: Array<{ id: string; state: string; last_error: string | null }> };
  clients: Array<{ id: string; state: string; last_sync_age_seconds: number | null; last_error: string | null }>;
  errors_last_5m: number;
  started_at?: number;
  uptime_seconds?: number;
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
    throw new ApiError(res.status, err.error ?? `HTTP ${res.status}`, Array.isArray(err.problems) ? err.problems : []);
  }
  return data as T;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function wsUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${API}${path}`;
}
