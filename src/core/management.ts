/**
 * Operator actions (create/update/delete clients, instances, plugins),
 * validated once and shared by the REST API and the config file.
 */
import { isDeepStrictEqual } from 'node:util';
import { checkHomeserver, loginWithPassword, loginWithToken, registerWithSharedSecret, registerWithToken } from '../matrix/auth.ts';
import { MatrixAuthError } from '../matrix/errors.ts';
import { MatrixClient } from '../matrix/client.ts';
import type { Credentials } from '../matrix/types.ts';
import { INSTANCE_ID, ROOM_ID, type TrellisConfig } from '../config/schema.ts';
import type { Storage } from '../storage/database.ts';
import type { AccountRecord } from '../storage/clients.ts';
import type { InstanceRecord } from '../storage/instances.ts';
import { PluginValidationError, SECRET_MASK, secretConfigKeys } from '../plugin-package/manifest.ts';
import { readPluginArchive } from '../plugin-package/archive.ts';
import { PluginConflictError, type LoadedPlugin, type PluginRegistry } from './plugin-registry.ts';
import type { Supervisor } from './supervisor.ts';
import type { Logger } from './logging.ts';
import { registerSecret } from './redact.ts';
import { errorMessage } from '../shared/error-message.ts';

/** An error the management API turns into an HTTP status with a plain-words message. */
export class ManagementError extends Error {
  readonly status: number;
  readonly problems: string[];
  /** maubot's errcode for this error (e.g. `plugin_not_found`); without one the API derives a generic one from the status. */
  readonly errcode: string | undefined;
  constructor(status: number, message: string, problems: string[] = [], errcode?: string) {
    super(message);
    this.status = status;
    this.problems = problems;
    this.errcode = errcode;
  }
}

/** A 404 with maubot's errcode for the kind of object. */
export const notFound = {
  plugin: (id: string) => new ManagementError(404, `plugin ${id} not found`, [], 'plugin_not_found'),
  instance: (id: string) => new ManagementError(404, `instance ${id} not found`, [], 'instance_not_found'),
  client: (id: string) => new ManagementError(404, `bot account ${id} not found`, [], 'client_not_found'),
};

/** What `instances_default_rooms` makes of an instance created without `rooms`. */
export function defaultRooms(setting: 'all' | 'none'): string[] {
  return setting === 'all' ? ['*'] : [];
}

/** Bound on an instance's room allowlist: each entry is checked and routed on every event. */
export const MAX_INSTANCE_ROOMS = 1000;
/** Matrix ids are at most 255 bytes. */
const MAX_ROOM_ID_LENGTH = 255;

/** Problems with a room allowlist: a bounded list of room ids or "*". */
function roomsProblems(rooms: unknown): string[] {
  if (!Array.isArray(rooms)) return ['rooms: must be a list of room ids, or ["*"] for every room the bot is in'];
  if (rooms.length > MAX_INSTANCE_ROOMS) return [`rooms: ${rooms.length} entries is more than the limit of ${MAX_INSTANCE_ROOMS}; use ["*"] for every room the bot is in`];
  const bad = rooms.filter((r) => typeof r !== 'string' || r.length > MAX_ROOM_ID_LENGTH || (r !== '*' && !ROOM_ID.test(r)));
  if (bad.length === 0) return [];
  const shown = bad.slice(0, 5).map((r) => (typeof r === 'string' ? JSON.stringify(r.length > 80 ? r.slice(0, 80) + '…' : r) : `a ${r === null ? 'null' : typeof r}`));
  return [
    `rooms: ${shown.join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''} ${bad.length === 1 ? 'is not a room id' : 'are not room ids'} (expected !opaque:server, or !opaque from room version 12, or "*" for every room the bot is in)`,
  ];
}

/** maubot's instance errcodes with their statuses, in the order maubot checks them. */
const INSTANCE_ERRCODES = { plugin_type_required: 400, primary_user_required: 400, primary_user_not_found: 404, plugin_type_not_found: 404 } as const;

export interface InstanceInput {
  pluginId?: string;
  clientId?: string;
  enabled?: boolean;
  config?: Record<string, unknown>;
  rooms?: string[];
  /** Other bot accounts the instance may send as (ctx.matrixAs). */
  senders?: string[];
}

const MAX_SENDERS = 100;

/** maubot's value of `displayname` / `avatar_url` for "not managed by the bot platform". */
export const UNMANAGED = 'disable';

export interface ClientProfileInput {
  displayName?: string | null;
  avatarUrl?: string | null;
  autojoin?: boolean;
  autojoinAllow?: string[];
  enabled?: boolean;
  /** End-to-end encryption for the account (default on for new accounts). */
  encryption?: boolean;
}

/**
 * The operations an operator performs (from the API, the console or the
 * config file), with validation in one place so every entry point refuses
 * the same bad input with the same message and changes nothing.
 */
export class Management {
  readonly #storage: Storage;
  readonly #registry: PluginRegistry;
  readonly #supervisor: Supervisor;
  readonly #log: Logger;
  #config: TrellisConfig;

  constructor(options: { storage: Storage; registry: PluginRegistry; supervisor: Supervisor; log: Logger; config: TrellisConfig }) {
    this.#storage = options.storage;
    this.#registry = options.registry;
    this.#supervisor = options.supervisor;
    this.#log = options.log;
    this.#config = options.config;
  }

  setConfig(config: TrellisConfig): void {
    this.#config = config;
  }

  // ---- instances ----

  async putInstance(id: string, input: InstanceInput, managedBy: 'api' | 'config' = 'api'): Promise<InstanceRecord> {
    const existing = await this.#storage.instances.get(id);
    if (existing?.managedBy === 'config' && managedBy === 'api') {
      throw new ManagementError(403, `instance ${id} is defined in the config file (${this.#config ? 'instances.' + id : ''}); edit it there and send SIGHUP`);
    }
    const problems: string[] = [];
    if (!INSTANCE_ID.test(id)) problems.push(`id: "${id}" must match ${INSTANCE_ID.source}`);
    const pluginId = input.pluginId ?? existing?.pluginId;
    const clientId = input.clientId ?? existing?.clientId;
    const rooms = input.rooms ?? existing?.rooms ?? defaultRooms(this.#config.instances_default_rooms);
    const senders = input.senders ?? existing?.senders ?? [];
    const config = input.config ?? existing?.config ?? {};
    let plugin: LoadedPlugin | undefined;
    // maubot's errcodes, picked in its order (INSTANCE_ERRCODES); the problems list names every problem.
    const codes = new Set<keyof typeof INSTANCE_ERRCODES>();
    if (!pluginId) {
      problems.push('type: the plugin id is required');
      codes.add('plugin_type_required');
    }
    // A file-declared instance may name a plugin that is uploaded later: it is kept and shown as failed (and retried) instead of vanishing.
    else if (!(plugin = this.#registry.get(pluginId)) && managedBy === 'api') {
      problems.push(`type: plugin ${pluginId} is not installed`);
      codes.add('plugin_type_not_found');
    }
    if (!clientId) {
      problems.push('primary_user: the bot account (user id) is required');
      codes.add('primary_user_required');
    } else if (managedBy === 'api' && !(await this.#storage.clients.get(clientId))) {
      problems.push(`primary_user: no bot account ${clientId}; add it first`);
      codes.add('primary_user_not_found');
    }
    problems.push(...roomsProblems(rooms));
    problems.push(...(await this.#sendersProblems(senders, clientId, managedBy)));
    let validatedConfig = config;
    const samePlugin = existing !== undefined && existing.pluginId === pluginId;
    if (plugin && input.config) {
      // The console sends back what it was shown: a masked secret means "keep the stored one",
      // but only for the plugin it was given to; another plugin gets no value.
      for (const key of secretConfigKeys(plugin.manifest.configSchema)) {
        if (config[key] === SECRET_MASK) validatedConfig = { ...validatedConfig, [key]: samePlugin ? (existing.config[key] ?? '') : '' };
      }
    }
    if (existing && !samePlugin) {
      // Switching plugins: the old plugin's secrets are neither handed to the new one nor shown
      // by the API (which masks only the new plugin's writeOnly keys), unless sent again.
      const previous = this.#registry.get(existing.pluginId);
      for (const key of previous ? secretConfigKeys(previous.manifest.configSchema) : []) {
        const given = input.config?.[key];
        if (given === undefined || given === SECRET_MASK) {
          const { [key]: _dropped, ...rest } = validatedConfig;
          validatedConfig = rest;
        }
      }
    }
    // A config the operator did not change (rooms or enabled changed, or the file entry is as before) is not
    // validated again: if a newer plugin version no longer accepts it, the instance's start upgrades it (config-upgrade.ts).
    const unchanged = existing !== undefined && samePlugin && isDeepStrictEqual(validatedConfig, existing.config);
    if (plugin && !unchanged) {
      const result = plugin.validateConfig(validatedConfig);
      // Stored is what the operator wrote, not the defaults: a plugin upgrade may change its defaults.
      if (!result.ok) problems.push(...result.problems.map((p) => `config.${p}`));
    }
    if (problems.length) {
      const errcode = (Object.keys(INSTANCE_ERRCODES) as Array<keyof typeof INSTANCE_ERRCODES>).find((code) => codes.has(code));
      throw new ManagementError(errcode ? INSTANCE_ERRCODES[errcode] : 400, `instance ${id} is invalid`, problems, errcode ?? 'instance_invalid');
    }
    const record: InstanceRecord = {
      id,
      pluginId: pluginId!,
      clientId: clientId!,
      enabled: input.enabled ?? existing?.enabled ?? true,
      config: validatedConfig,
      rooms,
      senders,
      managedBy,
      // The version the config was written for: the one it was just validated against, or, unchanged, the one it had.
      pluginVersion: unchanged ? (existing.pluginVersion ?? null) : (plugin?.version ?? null),
    };
    await this.#storage.instances.upsert(record);
    if (existing) await this.#supervisor.updateInstanceConfig(record);
    else await this.#supervisor.applyInstance(record);
    this.#log.info(`instance ${id} ${existing ? 'updated' : 'created'}`, { instance: id });
    return record;
  }

  /**
   * Senders are bot accounts of this daemon (not the instance's own). A config-file instance may
   * name one declared later in the file or added later; it is then unavailable until it exists.
   */
  async #sendersProblems(senders: unknown, clientId: string | undefined, managedBy: 'api' | 'config'): Promise<string[]> {
    if (!Array.isArray(senders) || senders.some((s) => typeof s !== 'string')) return ['senders: must be a list of bot account user ids'];
    if (senders.length > MAX_SENDERS) return [`senders: ${senders.length} entries is more than the limit of ${MAX_SENDERS}`];
    const problems: string[] = [];
    for (const sender of new Set(senders as string[])) {
      if (sender === clientId) problems.push(`senders: ${sender} is the instance's own bot account (primary_user); list only other accounts`);
      else if (managedBy === 'api' && !(await this.#storage.clients.get(sender))) problems.push(`senders: no bot account ${sender.slice(0, 255)}; add it first`);
    }
    if (new Set(senders).size !== senders.length) problems.push('senders: an account is listed twice');
    return problems;
  }

  async deleteInstance(id: string, managedBy: 'api' | 'config' = 'api'): Promise<void> {
    const existing = await this.#storage.instances.get(id);
    if (!existing) throw notFound.instance(id);
    if (existing.managedBy === 'config' && managedBy === 'api') throw new ManagementError(403, `instance ${id} is defined in the config file; remove it there and send SIGHUP`);
    await this.#supervisor.removeInstance(id);
    await this.#storage.instances.delete(id);
    await this.#storage.pluginStorage.deleteAll(id);
    this.#log.info(`instance ${id} deleted`);
  }

  // ---- plugins ----

  /**
   * `expectedId`: the upload is for this plugin id (PUT /plugin/{id}). Every
   * refusal that does not need the plugin's code (archive, manifest, id,
   * already installed) happens before anything is written or imported.
   * As maubot: an installed id is only replaced with `allowOverride`,
   * whatever the versions. `previous` is the plugin it replaced.
   */
  async uploadPlugin(data: Buffer, allowOverride: boolean, expectedId?: string): Promise<{ plugin: LoadedPlugin; previous?: LoadedPlugin }> {
    try {
      const { manifest } = await readPluginArchive(data);
      if (expectedId !== undefined && manifest.id !== expectedId) {
        throw new ManagementError(400, `the archive is plugin ${manifest.id}, not ${expectedId}; nothing was installed`, [], 'pid_mismatch');
      }
      const installed = this.#registry.get(manifest.id);
      if (installed && !allowOverride) {
        throw new ManagementError(
          409,
          `plugin ${manifest.id} is already installed (version ${installed.version}); pass allow_override=true to replace it with ${manifest.version}`,
          [],
          'plugin_exists',
        );
      }
      const { plugin, previous } = await this.#registry.install(data, { allowOverride });
      this.#log.info(`plugin ${plugin.id} ${plugin.version} installed${previous ? ` (replacing ${previous.version})` : ''}`);
      // Also for a first upload: file-declared instances may be waiting for this plugin.
      await this.#supervisor.restartPluginInstances(plugin.id);
      return previous ? { plugin, previous } : { plugin };
    } catch (err) {
      if (err instanceof PluginValidationError) throw new ManagementError(400, `invalid plugin archive: ${err.problems.join('; ')}`, err.problems, 'plugin_invalid');
      if (err instanceof PluginConflictError) throw new ManagementError(409, err.message, [], 'plugin_exists');
      throw err;
    }
  }

  async deletePlugin(id: string): Promise<void> {
    const plugin = this.#registry.get(id);
    if (!plugin) throw notFound.plugin(id);
    const users = this.#supervisor.instancesUsingPlugin(id);
    if (users.length) throw new ManagementError(412, `plugin ${id} is used by instance(s) ${users.join(', ')}; delete them first`, [], 'plugin_in_use');
    if (plugin.source === 'bundled') throw new ManagementError(400, `plugin ${id} is bundled with Trellis and cannot be deleted`, [], 'plugin_bundled');
    await this.#registry.remove(id);
  }

  /** maubot's reload: Trellis restarts the plugin's instances (its code is reloaded by uploading it again). */
  async reloadPlugin(id: string): Promise<void> {
    if (!this.#registry.get(id)) throw notFound.plugin(id);
    try {
      await this.#supervisor.restartPluginInstances(id);
    } catch (err) {
      throw new ManagementError(500, `reloading plugin ${id} failed: ${errorMessage(err)}`, [], 'plugin_reload_fail');
    }
    this.#log.info(`plugin ${id} reloaded (its instances restarted)`);
  }

  // ---- clients ----

  homeserverUrl(nameOrUrl: string): { name: string; url: string } {
    const named = this.#config.homeservers[nameOrUrl];
    if (named) return { name: nameOrUrl, url: named.url };
    if (/^https?:\/\//.test(nameOrUrl)) {
      const match = Object.entries(this.#config.homeservers).find(([, hs]) => hs.url.replace(/\/$/, '') === nameOrUrl.replace(/\/$/, ''));
      return { name: match?.[0] ?? '', url: nameOrUrl };
    }
    const known = Object.keys(this.#config.homeservers);
    throw new ManagementError(400, `unknown homeserver "${nameOrUrl}"; configured: ${known.length ? known.join(', ') : 'none (add one under homeservers:)'}, or pass a full URL`);
  }

  async #reachable(url: string, errcode?: string): Promise<void> {
    try {
      await checkHomeserver(url);
    } catch (err) {
      // maubot answers an unreachable homeserver of a token with 400 bad_client_connection_details.
      throw errcode ? new ManagementError(400, errorMessage(err), [], errcode) : new ManagementError(502, errorMessage(err));
    }
  }

  /**
   * Adds (or re-tokens) the account an access token belongs to. `check`:
   * what the token must be for (maubot's `user_exists` / `mxid_mismatch`),
   * checked before anything is saved.
   */
  async addClientWithToken(
    homeserver: string,
    accessToken: string,
    profile: ClientProfileInput = {},
    managedBy: 'api' | 'config' = 'api',
    check: { mustBeNew?: boolean; userId?: string; deviceId?: string } = {},
  ): Promise<AccountRecord> {
    let hs: { name: string; url: string };
    try {
      hs = this.homeserverUrl(homeserver);
    } catch (err) {
      if (err instanceof ManagementError) throw new ManagementError(err.status, err.message, err.problems, 'bad_client_access_details');
      throw err;
    }
    await this.#reachable(hs.url, 'bad_client_connection_details');
    let creds: Credentials;
    try {
      creds = await loginWithToken(hs.url, accessToken);
    } catch (err) {
      throw new ManagementError(400, `the access token was not accepted by ${hs.url}: ${errorMessage(err)}`, [], 'bad_client_access_token');
    }
    if (check.userId !== undefined && creds.userId !== check.userId) {
      throw new ManagementError(400, `the access token belongs to ${creds.userId}, not ${check.userId}; nothing was saved`, [], 'mxid_mismatch');
    }
    if (check.deviceId && creds.deviceId && creds.deviceId !== check.deviceId) {
      throw new ManagementError(400, `the access token is for device ${creds.deviceId}, not ${check.deviceId}; nothing was saved`, [], 'mxid_mismatch');
    }
    if (check.mustBeNew && (await this.#storage.clients.get(creds.userId))) {
      throw new ManagementError(409, `there is already a bot account ${creds.userId}; change it with PUT /client/${creds.userId}`, [], 'user_exists');
    }
    return this.#saveClient(hs, creds, profile, managedBy);
  }

  /** maubot's clearcache: forgets the account's sync token, so its next sync starts afresh (events already handled are not handled again). */
  async clearClientCache(id: string): Promise<void> {
    const record = await this.#storage.clients.get(id);
    if (!record) throw notFound.client(id);
    const runtime = this.#supervisor.clients.get(id);
    const wasRunning = runtime?.running ?? false;
    if (runtime) await runtime.stop();
    await this.#storage.clients.setSyncToken(id, null);
    if (wasRunning) runtime?.start();
    this.#log.info(`bot account ${id}: sync cache cleared`, { client: id });
  }

  async loginClient(homeserver: string, username: string, password: string, profile: ClientProfileInput = {}): Promise<AccountRecord> {
    const { hs, creds } = await this.passwordLogin(homeserver, username, password);
    return this.#saveClient(hs, creds, profile, 'api');
  }

  /** A password login on a homeserver (a new device); nothing is saved. */
  async passwordLogin(homeserver: string, username: string, password: string, deviceName?: string): Promise<{ hs: { name: string; url: string }; creds: Credentials }> {
    const hs = this.homeserverUrl(homeserver);
    await this.#reachable(hs.url);
    try {
      const creds = await loginWithPassword(hs.url, username, password, deviceName);
      registerSecret(creds.accessToken);
      return { hs, creds };
    } catch (err) {
      // Not 401: that would say the operator's own session ended (the console logs out on it).
      throw new ManagementError(err instanceof MatrixAuthError ? 400 : 502, errorMessage(err));
    }
  }

  async registerClient(
    homeserver: string,
    input: { username: string; password: string; registrationToken?: string; method?: 'token' | 'shared_secret' },
    profile: ClientProfileInput = {},
  ): Promise<AccountRecord> {
    const { hs, creds } = await this.registerAccount(homeserver, input);
    return this.#saveClient(hs, creds, profile, 'api');
  }

  /** Whether registering on this homeserver needs a token or secret in the request (neither is configured). */
  registrationConfigured(homeserver: string): boolean {
    const hs = this.#config.homeservers[homeserver];
    return Boolean(hs?.registration_token ?? hs?.shared_secret);
  }

  /** Registers an account (registration token or shared secret); nothing is saved. */
  async registerAccount(
    homeserver: string,
    input: { username: string; password: string; registrationToken?: string; method?: 'token' | 'shared_secret' },
  ): Promise<{ hs: { name: string; url: string }; creds: Credentials }> {
    const hs = this.homeserverUrl(homeserver);
    const hsConfig = hs.name ? this.#config.homeservers[hs.name] : undefined;
    const token = input.registrationToken ?? hsConfig?.registration_token;
    const secret = hsConfig?.shared_secret;
    const method = input.method ?? (token ? 'token' : secret ? 'shared_secret' : undefined);
    if (!input.username || !input.password) throw new ManagementError(400, 'username and password are required');
    if (!method) throw new ManagementError(400, `homeserver ${homeserver} has neither registration_token nor shared_secret configured; pass registration_token in the request or configure one`);
    await this.#reachable(hs.url);
    let creds: Credentials;
    try {
      if (method === 'token') {
        if (!token) throw new Error('no registration token given or configured for this homeserver');
        creds = await registerWithToken(hs.url, input.username, input.password, token);
      } else {
        if (!secret) throw new Error(`homeserver ${homeserver} has no shared_secret configured`);
        creds = await registerWithSharedSecret(hs.url, secret, input.username, input.password);
      }
    } catch (err) {
      throw new ManagementError(400, `registration of ${input.username} failed: ${errorMessage(err)}`);
    }
    registerSecret(creds.accessToken);
    return { hs, creds };
  }

  /** Saves the account a login or registration made (a new one, or a new token for a known one). */
  async saveLoggedInClient(hs: { name: string; url: string }, creds: Credentials, profile: ClientProfileInput = {}): Promise<{ record: AccountRecord; created: boolean }> {
    const created = (await this.#storage.clients.get(creds.userId)) === undefined;
    return { record: await this.#saveClient(hs, creds, profile, 'api'), created };
  }

  /** The configured homeservers: name to URL. */
  homeserverUrls(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.#config.homeservers).map(([name, hs]) => [name, hs.url]));
  }

  async #saveClient(hs: { name: string; url: string }, creds: Credentials, profile: ClientProfileInput, managedBy: 'api' | 'config'): Promise<AccountRecord> {
    registerSecret(creds.accessToken);
    const existing = await this.#storage.clients.get(creds.userId);
    const record: AccountRecord = {
      id: creds.userId,
      homeserver: hs.name,
      homeserverUrl: hs.url,
      accessToken: creds.accessToken,
      deviceId: creds.deviceId || null,
      displayName: existing?.displayName ?? null,
      avatarUrl: existing?.avatarUrl ?? null,
      syncToken: existing && existing.accessToken === creds.accessToken ? existing.syncToken : (existing?.syncToken ?? null),
      autojoin: profile.autojoin ?? existing?.autojoin ?? true,
      autojoinAllow: profile.autojoinAllow ?? existing?.autojoinAllow ?? [],
      enabled: profile.enabled ?? existing?.enabled ?? true,
      encryption: profile.encryption ?? existing?.encryption ?? true,
      managedBy,
    };
    await this.#storage.clients.upsert(record);
    const saved = await this.updateClient(record.id, profile, managedBy);
    this.#log.info(`bot account ${record.id} saved (device ${record.deviceId ?? 'unknown'})`);
    return saved;
  }

  async updateClient(id: string, input: ClientProfileInput, managedBy: 'api' | 'config' = 'api'): Promise<AccountRecord> {
    const record = await this.#storage.clients.get(id);
    if (!record) throw notFound.client(id);
    // A client sending the whole object back (maubot's web app) repeats the file's values: only a change is refused.
    const changes =
      (input.autojoin !== undefined && input.autojoin !== record.autojoin) ||
      (input.autojoinAllow !== undefined && !isDeepStrictEqual(input.autojoinAllow, record.autojoinAllow)) ||
      (input.enabled !== undefined && input.enabled !== record.enabled) ||
      (input.encryption !== undefined && input.encryption !== (record.encryption ?? true));
    if (record.managedBy === 'config' && managedBy === 'api' && changes) {
      throw new ManagementError(403, `bot account ${id} is defined in the config file; change autojoin/enabled/encryption there`);
    }
    const matrix = new MatrixClient({ homeserverUrl: record.homeserverUrl, userId: record.id, accessToken: record.accessToken, deviceId: record.deviceId ?? '' });
    try {
      // "disable" (maubot's sentinel): the profile field is no longer managed; the homeserver's value stays as it is.
      if (input.displayName === UNMANAGED) record.displayName = null;
      else if (input.displayName !== undefined && input.displayName !== null && input.displayName !== record.displayName) {
        await matrix.setDisplayName(input.displayName);
        record.displayName = input.displayName;
      }
      if (input.avatarUrl === UNMANAGED) record.avatarUrl = null;
      else if (input.avatarUrl !== undefined && input.avatarUrl !== null && input.avatarUrl !== record.avatarUrl) {
        if (!input.avatarUrl.startsWith('mxc://')) throw new ManagementError(400, 'avatar_url must be an mxc:// URI (upload the image with PUT /client/{id}/avatar)');
        await matrix.setAvatarUrl(input.avatarUrl);
        record.avatarUrl = input.avatarUrl;
      }
    } catch (err) {
      if (err instanceof ManagementError) throw err;
      throw new ManagementError(502, `could not update the profile of ${id}: ${errorMessage(err)}`);
    }
    if (input.autojoin !== undefined) record.autojoin = input.autojoin;
    if (input.autojoinAllow !== undefined) record.autojoinAllow = input.autojoinAllow;
    if (input.enabled !== undefined) record.enabled = input.enabled;
    if (input.encryption !== undefined) record.encryption = input.encryption;
    await this.#storage.clients.upsert(record);
    this.#supervisor.applyClient(record);
    return record;
  }

  async setClientAvatar(id: string, image: Buffer, contentType: string): Promise<AccountRecord> {
    const record = await this.#storage.clients.get(id);
    if (!record) throw notFound.client(id);
    if (!contentType.startsWith('image/')) throw new ManagementError(400, `avatar must be an image (got ${contentType || 'no content type'})`);
    const matrix = new MatrixClient({ homeserverUrl: record.homeserverUrl, userId: record.id, accessToken: record.accessToken, deviceId: record.deviceId ?? '' });
    const mxc = await matrix.uploadMedia(image, { contentType, filename: 'avatar' });
    return this.updateClient(id, { avatarUrl: mxc });
  }

  async deleteClient(id: string, managedBy: 'api' | 'config' = 'api'): Promise<void> {
    const record = await this.#storage.clients.get(id);
    if (!record) throw notFound.client(id);
    if (record.managedBy === 'config' && managedBy === 'api') throw new ManagementError(403, `bot account ${id} is defined in the config file; remove it there and send SIGHUP`);
    const users = this.#supervisor.instancesUsingClient(id);
    if (users.length) throw new ManagementError(412, `bot account ${id} is used by instance(s) ${users.join(', ')}; delete or move them first`, [], 'client_in_use');
    await this.#supervisor.removeClient(id);
    await this.#storage.clients.delete(id);
  }
}
