/**
 * Reconciles the config file's `clients:` and `instances:` with storage at
 * start and on SIGHUP.
 */
import type { TrellisConfig } from '../config/schema.ts';
import type { Storage } from '../storage/database.ts';
import type { Logger } from './logging.ts';
import { ManagementError, type Management } from './management.ts';
import type { Supervisor } from './supervisor.ts';
import { registerSecret } from './redact.ts';
import { errorMessage } from '../shared/error-message.ts';

export interface ReconcileReport {
  clients: { upserted: string[]; removed: string[] };
  instances: { upserted: string[]; removed: string[]; failed: Array<{ id: string; problems: string[] }> };
}

/**
 * Makes the database match the `clients:` and `instances:` sections of the
 * config file (seed FR-010). Runs at start and on SIGHUP. Entries created
 * through the API are never touched; file-managed entries that disappeared
 * from the file are removed.
 */
export async function reconcileDeclarative(
  config: TrellisConfig,
  deps: { storage: Storage; management: Management; supervisor: Supervisor; log: Logger; configFile?: string },
): Promise<ReconcileReport> {
  const { storage, management, supervisor, log } = deps;
  const file = deps.configFile ?? 'the config file';
  const report: ReconcileReport = { clients: { upserted: [], removed: [] }, instances: { upserted: [], removed: [], failed: [] } };

  for (const [userId, client] of Object.entries(config.clients)) {
    const hs = config.homeservers[client.homeserver];
    const existing = await storage.clients.get(userId);
    if (existing && existing.managedBy === 'api') {
      log.warn(`client ${userId} exists already (added via the API); the config file now manages it`);
    }
    registerSecret(client.access_token);
    const record = {
      id: userId,
      homeserver: client.homeserver,
      homeserverUrl: hs.url,
      accessToken: client.access_token,
      deviceId: client.device_id ?? existing?.deviceId ?? null,
      displayName: existing?.displayName ?? null,
      avatarUrl: existing?.avatarUrl ?? null,
      // A new token means a new session: the old sync token may belong to another device.
      syncToken: existing && existing.accessToken === client.access_token ? existing.syncToken : null,
      autojoin: client.autojoin,
      autojoinAllow: client.autojoin_allow,
      encryption: client.encryption,
      enabled: true,
      managedBy: 'config' as const,
    };
    await storage.clients.upsert(record);
    supervisor.applyClient(record);
    report.clients.upserted.push(userId);
    if (client.display_name && client.display_name !== existing?.displayName) {
      management.updateClient(userId, { displayName: client.display_name }, 'config').catch((err: Error) => log.warn(`could not set display name of ${userId}: ${err.message}`));
    }
  }

  const wantedInstances = new Set(Object.keys(config.instances));
  for (const instance of await storage.instances.list()) {
    if (instance.managedBy === 'config' && !wantedInstances.has(instance.id)) {
      await management.deleteInstance(instance.id, 'config');
      report.instances.removed.push(instance.id);
    }
  }
  for (const [id, instance] of Object.entries(config.instances)) {
    try {
      await management.putInstance(
        id,
        { pluginId: instance.plugin, clientId: instance.client, enabled: instance.enabled, rooms: instance.rooms, senders: instance.senders, config: instance.config },
        'config',
      );
      report.instances.upserted.push(id);
    } catch (err) {
      const problems = err instanceof ManagementError && err.problems.length ? err.problems : [errorMessage(err)];
      report.instances.failed.push({ id, problems });
      log.error(`instances.${id} in ${file} was not applied: ${problems.join('; ')}`);
    }
  }

  const wantedClients = new Set(Object.keys(config.clients));
  for (const client of await storage.clients.list()) {
    if (client.managedBy === 'config' && !wantedClients.has(client.id)) {
      try {
        await management.deleteClient(client.id, 'config');
        report.clients.removed.push(client.id);
      } catch (err) {
        log.error(`client ${client.id} was removed from the config file but stays: ${errorMessage(err)}`);
      }
    }
  }
  return report;
}
