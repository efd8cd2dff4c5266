import { stringify as stringifyYaml } from 'yaml';
import type { AccountRecord } from '../storage/clients.ts';
import type { InstanceRecord } from '../storage/instances.ts';
import type { LogRecord as StoredLogRecord } from '../storage/log-records.ts';
import type { LoadedPlugin } from '../core/plugin-registry.ts';
import type { LogEntry as HubLogEntry } from '../core/logging.ts';
import { maskSecrets, secretConfigKeys } from '../plugin-package/manifest.ts';
import type { Credentials } from '../matrix/types.ts';
import { isPlainObject } from '../config/problems.ts';
import type { ApiDeps } from './deps.ts';
import { MAUBOT_LEVELS, UNMANAGED, type Client, type Instance, type LogEntry, type LogLevel, type LogRecord, type LogStreamRecord, type MatrixLogin, type Plugin } from './schemas.ts';

/*
 * API shapes (their schemas: schemas.ts). Every field of maubot's objects is
 * there with maubot's name and type (`config` a YAML string, `instances`
 * Instance objects, `"disable"` for an unmanaged profile field); Trellis's
 * own fields come after them, snake_case like maubot's, and never rename one
 * of maubot's. Access tokens are never serialised (maubot's Client has one),
 * except by apiMatrixLogin.
 *
 * Each function is the one join of its object: the stored record with the
 * supervisor's runtime state and the plugin registry.
 */

/** Where the joins look up runtime state: the daemon's supervisor, plugin registry and config. */
export type Runtime = Pick<ApiDeps, 'supervisor' | 'registry' | 'config'>;

/** The `default`s of a config schema's properties (nested objects too), or null when it declares no properties. */
export function schemaDefaults(schema: Record<string, unknown>): Record<string, unknown> | null {
  const properties = schema.properties;
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) return null;
  const defaults: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(properties as Record<string, Record<string, unknown>>)) {
    if (sub === null || typeof sub !== 'object') continue;
    if (Object.hasOwn(sub, 'default')) defaults[key] = sub.default;
    else {
      const nested = schemaDefaults(sub);
      if (nested && Object.keys(nested).length) defaults[key] = nested;
    }
  }
  return defaults;
}

/**
 * A config with the schema defaults filled in where it has no value (nested
 * objects key by key): what the instance runs with, and what maubot's
 * `config` shows once an instance has started (its base config merged with
 * what the operator gave), so maubot's web app opens a new instance's
 * editor with the plugin's options in it. The stored config stays as given.
 */
export function withDefaults(defaults: Record<string, unknown>, config: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(defaults)) {
    if (!Object.hasOwn(config, key)) merged[key] = structuredClone(value);
    else if (isPlainObject(value) && isPlainObject(config[key])) merged[key] = withDefaults(value, config[key]);
    else merged[key] = config[key];
  }
  for (const [key, value] of Object.entries(config)) if (!Object.hasOwn(merged, key)) merged[key] = value;
  return merged;
}

/** A config as maubot shows it: a YAML document ("" for an empty one). */
function asYaml(config: Record<string, unknown>): string {
  return Object.keys(config).length ? stringifyYaml(config) : '';
}

/** The ed25519 key in groups of 4 characters, as maubot shows a device fingerprint. */
export function fingerprint(ed25519: string): string {
  return ed25519.match(/.{1,4}/g)?.join(' ') ?? ed25519;
}

export function apiPlugin(plugin: LoadedPlugin, runtime: Runtime): Plugin {
  return {
    id: plugin.id,
    version: plugin.version,
    instances: runtime.supervisor
      .instanceRecords()
      .filter((r) => r.pluginId === plugin.id)
      .map((r) => apiInstance(r, runtime)),
    path: plugin.dir,
    name: plugin.manifest.name ?? plugin.id,
    description: plugin.manifest.description ?? '',
    source: plugin.source,
    kind: plugin.manifest.kind ?? 'trellis',
    database: plugin.manifest.database,
    config_schema: plugin.manifest.configSchema,
  };
}

/** The instance with its supervisor status; its plugin's writeOnly config keys are shown masked. */
export function apiInstance(record: InstanceRecord, { supervisor, registry, config }: Runtime): Instance {
  const status = supervisor.instanceStatus(record.id);
  const plugin = registry.get(record.pluginId);
  const now = Date.now();
  const masked = maskSecrets(record.config, plugin ? secretConfigKeys(plugin.manifest.configSchema) : []);
  const defaults = plugin ? schemaDefaults(plugin.manifest.configSchema) : null;
  const database = plugin?.manifest.database ?? false;
  return {
    id: record.id,
    type: record.pluginId,
    enabled: record.enabled,
    started: status?.state === 'running',
    primary_user: record.clientId,
    config: asYaml(defaults ? withDefaults(defaults, masked) : masked),
    base_config: defaults ? stringifyYaml(defaults) : null,
    database,
    database_interface: database ? 'kv' : null,
    database_engine: database ? config().database.type : null,
    config_object: masked,
    state: status?.state ?? (record.enabled ? 'stopped' : 'disabled'),
    last_error: status?.lastError ?? null,
    rooms: record.rooms,
    hears_no_room: record.rooms.length === 0,
    senders: record.senders,
    managed_by: record.managedBy,
    events_handled: status?.eventsHandled ?? 0,
    errors_last_hour: status?.errorTimes.filter((t) => now - t < 3600_000).length ?? 0,
    started_at: status?.startedAt ?? null,
  };
}

/** The homeserver's view of an account's profile (maubot's remote_displayname / remote_avatar_url), when known. */
export interface RemoteProfile {
  displayname: string | null;
  avatar_url: string | null;
}

/** The bot account with its running state and the instances on it. */
export function apiClient(record: AccountRecord, runtime: Runtime, remote: RemoteProfile | null = null): Client {
  const { supervisor } = runtime;
  const account = supervisor.clients.get(record.id);
  const status = account?.status;
  const crypto = account?.cryptoStatus ?? null;
  const started = account?.running ?? false;
  return {
    id: record.id,
    homeserver: record.homeserverUrl,
    device_id: record.deviceId,
    fingerprint: crypto?.state === 'ready' ? fingerprint(crypto.ed25519) : null,
    enabled: record.enabled,
    started,
    sync: record.enabled,
    sync_ok: started && (status?.consecutiveFailures ?? 0) === 0 && status?.state !== 'failed' && status?.state !== 'backoff',
    autojoin: record.autojoin,
    online: true,
    displayname: record.displayName ?? UNMANAGED,
    avatar_url: record.avatarUrl ?? UNMANAGED,
    remote_displayname: remote?.displayname ?? null,
    remote_avatar_url: remote?.avatar_url ?? null,
    instances: supervisor
      .instanceRecords()
      .filter((r) => r.clientId === record.id)
      .map((r) => apiInstance(r, runtime)),
    trust_state: null,
    homeserver_name: record.homeserver || null,
    autojoin_allow: record.autojoinAllow,
    sync_state: status?.state ?? 'stopped',
    last_sync_at: status?.lastSuccessAt ?? null,
    last_error: status?.lastError ?? null,
    rooms: account ? [...account.joinedRooms] : [],
    encryption: record.encryption ?? true,
    crypto,
    managed_by: record.managedBy,
  };
}

/**
 * A login or registration on a homeserver, for the operator who asked for it
 * (`POST /client/auth/{server}/login|register` without update_client): the
 * one API response with an access token.
 */
export function apiMatrixLogin(creds: Credentials): MatrixLogin {
  return { user_id: creds.userId, access_token: creds.accessToken, device_id: creds.deviceId };
}

/** A log line as the websockets stream it. */
export function apiLogEntry(entry: HubLogEntry): LogEntry {
  return { time: entry.time, level: entry.level, message: entry.message, instance_id: entry.instanceId, client_id: entry.clientId, context: entry.context };
}

/** A stored log line (history). */
export function apiLogRecord(record: StoredLogRecord): LogRecord {
  // Stored from the log hub's entries, so its level is one of theirs.
  return { id: record.id, ...apiLogEntry({ ...record, level: record.level as LogLevel }) };
}

/** A Python-style ISO time in UTC, as maubot sends it (and `mbc logs` parses it): always microseconds and `+00:00`. */
export function pythonIsoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000+00:00');
}

/** The stack trace logged with a line (an `err` field, or `stack`), if any. */
export function logStack(context: Record<string, unknown> | null): string | null {
  if (!context) return null;
  const err = context.err as { stack?: unknown } | undefined;
  if (err && typeof err.stack === 'string') return err.stack;
  return typeof context.stack === 'string' ? context.stack : null;
}

/** A log line as the `/logs` websocket sends it: maubot's record fields, then Trellis's. */
export function apiLogStreamRecord(entry: HubLogEntry, id: string): LogStreamRecord {
  const component = typeof entry.context?.component === 'string' ? entry.context.component : 'daemon';
  const name = entry.instanceId ? `maubot.instance.${entry.instanceId}` : entry.clientId ? `maubot.client.${entry.clientId}` : `trellis.${component}`;
  const level = MAUBOT_LEVELS[entry.level];
  return {
    id,
    name,
    levelname: level.name,
    levelno: level.no,
    msg: entry.message,
    time: pythonIsoTime(entry.time),
    filename: '',
    funcName: '',
    lineno: 0,
    module: '',
    pathname: '',
    exc_info: logStack(entry.context),
    level: entry.level,
    message: entry.message,
    instance_id: entry.instanceId,
    client_id: entry.clientId,
    context: entry.context,
  };
}
