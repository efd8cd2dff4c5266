import type { AccountRecord } from '../storage/clients.ts';
import type { InstanceRecord } from '../storage/instances.ts';
import type { LoadedPlugin } from '../core/plugin-registry.ts';
import type { BotAccount } from '../core/bot-account.ts';
import type { InstanceStatus } from '../core/supervisor.ts';
import { maskSecrets, secretConfigKeys } from '../plugin-package/manifest.ts';

/*
 * API shapes. Field names follow maubot's management API where it has the
 * same concept (id, type, primary_user, enabled, started, displayname,
 * avatar_url, homeserver, device_id, autojoin); extra fields are ours.
 * Access tokens are never serialised.
 */

export function apiPlugin(plugin: LoadedPlugin, instances: string[]) {
  return {
    id: plugin.id,
    version: plugin.version,
    name: plugin.manifest.name ?? plugin.id,
    description: plugin.manifest.description ?? '',
    source: plugin.source,
    database: plugin.manifest.database,
    config_schema: plugin.manifest.configSchema,
    instances,
  };
}

/** `plugin`: the instance's plugin, whose writeOnly config keys are shown masked. */
export function apiInstance(record: InstanceRecord, status: InstanceStatus | undefined, plugin: LoadedPlugin | undefined) {
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

export function apiClient(record: AccountRecord, runtime: BotAccount | undefined, instances: string[]) {
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
    instances,
  };
}
