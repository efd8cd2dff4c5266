import type { AccountRecord } from '../storage/clients.ts';
import type { InstanceRecord } from '../storage/instances.ts';
import type { LogRecord as StoredLogRecord } from '../storage/log-records.ts';
import type { LoadedPlugin } from '../core/plugin-registry.ts';
import type { LogEntry as HubLogEntry } from '../core/logging.ts';
import { maskSecrets, secretConfigKeys } from '../plugin-package/manifest.ts';
import type { Credentials } from '../matrix/types.ts';
import type { ApiDeps } from './deps.ts';
import { MAUBOT_LEVELS, type Client, type Instance, type LogEntry, type LogLevel, type LogRecord, type LogStreamRecord, type MatrixLogin, type Plugin } from './schemas.ts';

/*
 * API shapes (their schemas: schemas.ts). Field names follow maubot's
 * management API where it has the same concept (id, type, primary_user,
 * enabled, started, displayname, avatar_url, homeserver, device_id,
 * autojoin); extra fields are ours, snake_case like maubot's.
 * Access tokens are never serialised, except by apiMatrixLogin.
 *
 * Each function is the one join of its object: the stored record with the
 * supervisor's runtime state and the plugin registry.
 */

/** Where the joins look up runtime state: the daemon's supervisor and plugin registry. */
export type Runtime = Pick<ApiDeps, 'supervisor' | 'registry'>;

export function apiPlugin(plugin: LoadedPlugin, { supervisor }: Runtime): Plugin {
  return {
    id: plugin.id,
    version: plugin.version,
    name: plugin.manifest.name ?? plugin.id,
    description: plugin.manifest.description ?? '',
    source: plugin.source,
    database: plugin.manifest.database,
    config_schema: plugin.manifest.configSchema,
    instances: supervisor.instancesUsingPlugin(plugin.id),
  };
}

/** The instance with its supervisor status; its plugin's writeOnly config keys are shown masked. */
export function apiInstance(record: InstanceRecord, { supervisor, registry }: Runtime): Instance {
  const status = supervisor.instanceStatus(record.id);
  const plugin = registry.get(record.pluginId);
  const now = Date.now();
  return {
    id: record.id,
    type: record.pluginId,
    primary_user: record.clientId,
    enabled: record.enabled,
    started: status?.state === 'running',
    state: status?.state ?? (record.enabled ? 'stopped' : 'disabled'),
    last_error: status?.lastError ?? null,
    config: maskSecrets(record.config, plugin ? secretConfigKeys(plugin.manifest.configSchema) : []),
    rooms: record.rooms,
    managed_by: record.managedBy,
    events_handled: status?.eventsHandled ?? 0,
    errors_last_hour: status?.errorTimes.filter((t) => now - t < 3600_000).length ?? 0,
    started_at: status?.startedAt ?? null,
  };
}

/** The bot account with its running state and the instances on it. */
export function apiClient(record: AccountRecord, { supervisor }: Runtime): Client {
  const runtime = supervisor.clients.get(record.id);
  const status = runtime?.status;
  return {
    id: record.id,
    homeserver: record.homeserverUrl,
    homeserver_name: record.homeserver || null,
    device_id: record.deviceId,
    displayname: record.displayName,
    avatar_url: record.avatarUrl,
    autojoin: record.autojoin,
    autojoin_allow: record.autojoinAllow,
    enabled: record.enabled,
    started: runtime?.running ?? false,
    sync: record.enabled,
    sync_state: status?.state ?? 'stopped',
    last_sync_at: status?.lastSuccessAt ?? null,
    last_error: status?.lastError ?? null,
    rooms: runtime ? [...runtime.joinedRooms] : [],
    encryption: record.encryption ?? true,
    crypto: runtime?.cryptoStatus ?? null,
    managed_by: record.managedBy,
    instances: supervisor.instancesUsingClient(record.id),
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
