/**
 * `trellis import-maubot`: brings a maubot installation's bot accounts
 * (clients) and plugin instances into Trellis.
 *
 * It works on Trellis's own storage with the daemon stopped (it refuses
 * when the configured listener answers as Trellis), through the same
 * validated operator actions as the API (`core/management.ts`): every
 * access token is checked with the homeserver, every instance's plugin and
 * config are validated. Idempotent: what already exists in Trellis (same
 * user id, same instance id, or declared in the config file) is skipped and
 * reported. Access tokens are never printed.
 *
 * Plugins: maubot runs Python plugins and Trellis runs TypeScript ones, so
 * an instance comes over only when its plugin has a Trellis equivalent
 * ({@link PLUGIN_EQUIVALENTS}, or a Trellis plugin installed under the same
 * id); the others are reported and not created.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, ConfigError, type LoadedConfig } from '../config/load.ts';
import { INSTANCE_ID } from '../config/schema.ts';
import { openStorage, type Storage } from '../storage/database.ts';
import { LogHub, wrapLogger } from '../core/logging.ts';
import { Metrics } from '../core/metrics.ts';
import { PluginRegistry, type LoadedPlugin } from '../core/plugin-registry.ts';
import { Supervisor } from '../core/supervisor.ts';
import { Management, ManagementError } from '../core/management.ts';
import { redactText, registerSecret } from '../core/redact.ts';
import { loginWithToken } from '../matrix/auth.ts';
import { errorMessage } from '../shared/error-message.ts';
import { CODE_ROOT } from '../shared/paths.ts';
import {
  databaseUrlPasswords,
  MaubotImportError,
  readMaubotConfig,
  readMaubotPostgres,
  readMaubotSqlite,
  type MaubotClient,
  type MaubotData,
  type MaubotDatabaseLocation,
  type MaubotInstance,
} from './maubot-source.ts';

export { MaubotImportError } from './maubot-source.ts';

/** A maubot plugin with a Trellis plugin that does the same for the people in the room. */
export interface PluginEquivalent {
  maubot: string;
  trellis: string;
  /** What matches, for the documentation and the report. */
  commands: string;
  /** maubot's YAML config (parsed) → the Trellis plugin's config, with notes on what did not carry over. */
  convertConfig(config: Record<string, unknown>): { config: Record<string, unknown>; notes: string[] };
}

/**
 * The mapping table (docs/maubot-compatibility.md lists it). maubot's echo
 * plugin has `!ping [message]` (a latency notice) and `!echo <message>`;
 * Trellis's ping plugin answers the same two commands. echo has no config.
 */
export const PLUGIN_EQUIVALENTS: PluginEquivalent[] = [
  {
    maubot: 'xyz.maubot.echo',
    trellis: 'org.trellis.ping',
    commands: '!ping, !echo <text>',
    convertConfig: (config) => ({ config: {}, notes: Object.keys(config).length > 0 ? [`its config (${Object.keys(config).join(', ')}) has no meaning for org.trellis.ping and was left out`] : [] }),
  },
];

/** Trellis's view before the import: what exists already, and the installed plugins. */
export interface TrellisState {
  clients: Set<string>;
  instances: Set<string>;
  /** Declared in the config file (`clients:` / `instances:`): the file wins, the import skips them. */
  declaredClients: Set<string>;
  declaredInstances: Set<string>;
  plugin(id: string): Pick<LoadedPlugin, 'id' | 'validateConfig'> | undefined;
}

export type ClientPlan = { action: 'create'; maubot: MaubotClient; notes: string[] } | { action: 'skip'; id: string; reason: string };

export type InstancePlan =
  | { action: 'create'; maubot: MaubotInstance; id: string; plugin: string; config: Record<string, unknown>; notes: string[] }
  | { action: 'skip'; maubotId: string; id: string; reason: string }
  | { action: 'unmapped'; maubotId: string; type: string; reason: string };

export interface ImportPlan {
  clients: ClientPlan[];
  instances: InstancePlan[];
}

/** A maubot instance id as a Trellis one (`^[a-z0-9][a-z0-9_.-]*$`): lower case, anything else becomes "-". */
export function trellisInstanceId(maubotId: string): string {
  const id = maubotId
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '');
  return id || 'instance';
}

/** maubot keeps an instance's config as a YAML document (empty for plugins without config). */
export function parseInstanceConfig(text: string): { ok: true; config: Record<string, unknown> } | { ok: false; problem: string } {
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    return { ok: false, problem: `its config is not valid YAML (${errorMessage(err).split('\n')[0]})` };
  }
  if (value === null || value === undefined) return { ok: true, config: {} };
  if (typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: 'its config is not a YAML mapping' };
  return { ok: true, config: value as Record<string, unknown> };
}

/** Decides, without changing anything, what the import does with each client and instance. */
export function planImport(data: MaubotData, trellis: TrellisState): ImportPlan {
  const clients: ClientPlan[] = data.clients.map((c) => {
    if (trellis.declaredClients.has(c.id)) return { action: 'skip', id: c.id, reason: 'declared in the Trellis config file (clients:)' };
    if (trellis.clients.has(c.id)) return { action: 'skip', id: c.id, reason: 'already a Trellis bot account' };
    const notes: string[] = [];
    if (!c.sync) notes.push('maubot did not sync it (sync: false); Trellis syncs every enabled account, so it now also receives events');
    return { action: 'create', maubot: c, notes };
  });

  const takenIds = new Set<string>();
  const instances: InstancePlan[] = data.instances.map((inst) => {
    let id = trellisInstanceId(inst.id);
    // Two maubot ids that read the same in Trellis's alphabet ("echo two", "echo-two"): number the later one.
    for (let n = 2; takenIds.has(id); n++) id = `${trellisInstanceId(inst.id)}-${n}`;
    takenIds.add(id);
    if (trellis.declaredInstances.has(id)) return { action: 'skip', maubotId: inst.id, id, reason: 'declared in the Trellis config file (instances:)' };
    if (trellis.instances.has(id)) return { action: 'skip', maubotId: inst.id, id, reason: 'already a Trellis instance' };
    const equivalent = PLUGIN_EQUIVALENTS.find((e) => e.maubot === inst.type);
    const target = equivalent ? trellis.plugin(equivalent.trellis) : trellis.plugin(inst.type);
    if (!target) {
      const reason = equivalent
        ? `its Trellis equivalent ${equivalent.trellis} is not installed`
        : `maubot plugin ${inst.type} has no Trellis equivalent (maubot plugins are Python; Trellis runs TypeScript plugins): port it, or upload a Trellis plugin with the id ${inst.type}, and run the import again`;
      return { action: 'unmapped', maubotId: inst.id, type: inst.type, reason };
    }
    const parsed = parseInstanceConfig(inst.config);
    if (!parsed.ok) return { action: 'skip', maubotId: inst.id, id, reason: parsed.problem };
    const notes: string[] = [];
    if (id !== inst.id) notes.push(`renamed from "${inst.id}" (Trellis instance ids are ${INSTANCE_ID.source})`);
    let config = parsed.config;
    if (equivalent) {
      const converted = equivalent.convertConfig(config);
      config = converted.config;
      notes.push(...converted.notes);
    }
    const valid = target.validateConfig(config);
    if (!valid.ok) return { action: 'skip', maubotId: inst.id, id, reason: `its config does not fit ${target.id}: ${valid.problems.join('; ')}` };
    return { action: 'create', maubot: inst, id, plugin: target.id, config, notes };
  });
  return { clients, instances };
}

// ---------------------------------------------------------------- running it

export interface ImportOptions {
  maubotConfig: string;
  trellisConfig: string;
  dryRun?: boolean;
  /** Each line of the report (default: stdout). */
  out?: (line: string) => void;
  cwd?: string;
}

export interface ImportResult {
  clients: { created: number; skipped: number; failed: number };
  instances: { created: number; skipped: number; notImported: number; failed: number };
  /** Nothing failed (unmapped plugins are reported, not failures). */
  ok: boolean;
}

async function readMaubotDatabase(location: MaubotDatabaseLocation, configPath: string): Promise<MaubotData> {
  if (location.kind === 'postgres') {
    for (const password of databaseUrlPasswords(location.url)) registerSecret(password);
    return readMaubotPostgres(location.url);
  }
  if (!existsSync(location.path)) {
    throw new MaubotImportError(
      `maubot database not found: ${configPath} says database: ${location.url}, and there is no such file at ${location.tried.join(' nor at ')}. ` +
        "maubot resolves a relative path against its working directory: run this command from there, or check maubot's config",
    );
  }
  return readMaubotSqlite(location.path);
}

/** Refuses to write while the daemon runs: it would not see the new rows until restarted, and two writers share the database. */
async function ensureTrellisStopped(config: LoadedConfig['config']): Promise<void> {
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host === '::' ? '::1' : config.server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}/health`;
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    body = await res.json();
  } catch {
    return; // nothing listening, or not Trellis
  }
  if (body && typeof body === 'object' && 'status' in body) {
    throw new MaubotImportError(
      `Trellis is running (${url} answered); stop it first (e.g. systemctl stop trellis), run the import, then start it again: ` +
        'the import writes to its database, which a running daemon would not notice until restarted',
    );
  }
}

/** maubot answering on its own port means it still runs its bots. */
async function maubotStillRunning(server: { host: string; port: number } | null): Promise<string | null> {
  if (!server) return null;
  const host = server.host === '0.0.0.0' ? '127.0.0.1' : server.host === '::' ? '::1' : server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}/_matrix/maubot/v1/version`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { errcode?: string };
    // maubot wants a token for /version; Trellis answers it without one.
    return res.status === 401 && typeof body.errcode === 'string' && body.errcode.startsWith('auth_token') ? url : null;
  } catch {
    return null;
  }
}

interface Offline {
  storage: Storage;
  registry: PluginRegistry;
  management: Management | null;
  warnings: string[];
  close(): Promise<void>;
}

/** Trellis's storage and plugins without the daemon: no sync, no listener. A dry run opens an existing database only. */
async function openTrellis(loaded: LoadedConfig, dryRun: boolean): Promise<Offline> {
  const config = loaded.config;
  const warnings: string[] = [];
  const hub = new LogHub({ level: 'warn', write: () => undefined });
  hub.subscribe((entry) => {
    // An instance or account "failing" here only means it is not running (nothing runs during an import); the rest (plugins that do not load) matters.
    if (entry.level !== 'debug' && entry.level !== 'info' && entry.instanceId === null && entry.clientId === null) warnings.push(entry.message);
  });
  const log = wrapLogger(hub.root);
  // A dry run creates nothing: without a database yet, it plans against an empty one in memory.
  const fresh = dryRun && !existsSync(config.database.path);
  const storage = await openStorage({ type: config.database.type, path: fresh ? ':memory:' : config.database.path, url: config.database.url, cryptoDir: join(config.data_dir, 'crypto') });
  const registry = new PluginRegistry({
    storage,
    pluginsDir: join(config.data_dir, 'plugins'),
    bundledDir: join(CODE_ROOT, 'plugins'),
    log,
  });
  await registry.loadAll();
  if (dryRun) return { storage, registry, management: null, warnings, close: () => storage.close() };
  // Never started syncing: accounts are prepared, not connected; the existing instances are left alone
  // (not started), a created one is set up and stopped again at the end.
  const supervisor = new Supervisor({ storage, registry, log, metrics: new Metrics() });
  for (const client of await storage.clients.list()) supervisor.applyClient(client);
  const management = new Management({ storage, registry, supervisor, log, config });
  return {
    storage,
    registry,
    management,
    warnings,
    close: async () => {
      await supervisor.stopAll(0);
      await storage.close();
    },
  };
}

/** Runs the whole import and prints the report; throws {@link MaubotImportError} for what stops it before it starts. */
export async function importMaubot(options: ImportOptions): Promise<ImportResult> {
  const out = (line: string) => (options.out ?? ((l: string) => process.stdout.write(`${l}\n`)))(redactText(line));
  const dryRun = options.dryRun ?? false;
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig(options.trellisConfig);
  } catch (err) {
    if (err instanceof ConfigError) throw new MaubotImportError(err.message);
    throw new MaubotImportError(`cannot load the Trellis config ${options.trellisConfig}: ${errorMessage(err)}; create one with trellis init`);
  }
  const maubotConfig = readMaubotConfig(options.maubotConfig, options.cwd);
  const data = await readMaubotDatabase(maubotConfig.database, maubotConfig.path);
  for (const c of data.clients) registerSecret(c.accessToken);
  if (!dryRun) await ensureTrellisStopped(loaded.config);

  out(
    `${dryRun ? 'Dry run (nothing is changed): ' : ''}importing from maubot database ${data.source} (schema version ${data.schemaVersion}): ${data.clients.length} bot account(s), ${data.instances.length} instance(s)`,
  );
  out(`into Trellis ${loaded.path} (database ${loaded.config.database.path})`);

  const trellis = await openTrellis(loaded, dryRun);
  const result: ImportResult = { clients: { created: 0, skipped: 0, failed: 0 }, instances: { created: 0, skipped: 0, notImported: 0, failed: 0 }, ok: true };
  const createdClients = new Set<string>();
  try {
    const existingClients = new Set((await trellis.storage.clients.list()).map((c) => c.id));
    const existingInstances = new Set((await trellis.storage.instances.list()).map((i) => i.id));
    const plan = planImport(data, {
      clients: existingClients,
      instances: existingInstances,
      declaredClients: new Set(Object.keys(loaded.config.clients ?? {})),
      declaredInstances: new Set(Object.keys(loaded.config.instances ?? {})),
      plugin: (id) => trellis.registry.get(id),
    });
    const verb = dryRun ? 'would create' : 'created';

    out('');
    out('Bot accounts:');
    for (const p of plan.clients) {
      if (p.action === 'skip') {
        result.clients.skipped++;
        out(`  skipped       ${p.id}: ${p.reason}`);
        continue;
      }
      const c = p.maubot;
      const notes = [...p.notes];
      try {
        let deviceId: string | null;
        if (dryRun) {
          const creds = await loginWithToken(c.homeserver, c.accessToken);
          if (creds.userId !== c.id) throw new Error(`the access token belongs to ${creds.userId}, not ${c.id}`);
          deviceId = creds.deviceId || null;
          createdClients.add(c.id);
        } else {
          const record = await trellis.management!.addClientWithToken(c.homeserver, c.accessToken, {
            displayName: c.displayName,
            avatarUrl: c.avatarUrl,
            autojoin: c.autojoin,
            autojoinAllow: [],
            enabled: c.enabled,
            encryption: false,
          });
          if (record.id !== c.id) notes.push(`the access token belongs to ${record.id}, so it was imported under that id`);
          deviceId = record.deviceId;
          createdClients.add(record.id);
        }
        if (c.deviceId && deviceId && c.deviceId !== deviceId) notes.push(`maubot's device_id ${c.deviceId} differs from the token's device ${deviceId}; Trellis uses the token's`);
        result.clients.created++;
        const flags = [`device ${deviceId ?? 'unknown'}`, 'encryption off', c.enabled ? 'enabled' : 'disabled', c.autojoin ? 'joins on invite' : 'no autojoin'];
        out(`  ${verb.padEnd(13)} ${c.id} on ${c.homeserver} (${flags.join(', ')})`);
      } catch (err) {
        result.clients.failed++;
        out(`  FAILED        ${c.id}: ${errorMessage(err)}`);
      }
      for (const note of notes) out(`                  note: ${note}`);
    }

    out('');
    out('Instances:');
    for (const p of plan.instances) {
      if (p.action === 'skip') {
        result.instances.skipped++;
        out(`  skipped       ${p.id}${p.id !== p.maubotId ? ` (maubot "${p.maubotId}")` : ''}: ${p.reason}`);
        continue;
      }
      if (p.action === 'unmapped') {
        result.instances.notImported++;
        out(`  not imported  ${p.maubotId}: ${p.reason}`);
        continue;
      }
      const inst = p.maubot;
      // (In a dry run, "created" means its token was checked and would be imported.)
      const clientKnown = existingClients.has(inst.primaryUser) || createdClients.has(inst.primaryUser);
      try {
        if (!clientKnown) throw new Error(`its bot account ${inst.primaryUser} is not in Trellis (see above)`);
        if (!dryRun) await trellis.management!.putInstance(p.id, { pluginId: p.plugin, clientId: inst.primaryUser, enabled: inst.enabled, config: p.config, rooms: ['*'] });
        result.instances.created++;
        const plugin = p.plugin === inst.type ? p.plugin : `${inst.type} → ${p.plugin}`;
        out(`  ${verb.padEnd(13)} ${p.id}: ${plugin} on ${inst.primaryUser}, every room the bot is in${inst.enabled ? '' : ', disabled'}`);
      } catch (err) {
        result.instances.failed++;
        const problems = err instanceof ManagementError && err.problems.length ? `: ${err.problems.join('; ')}` : '';
        out(`  FAILED        ${p.id}: ${errorMessage(err)}${problems}`);
      }
      for (const note of p.notes) out(`                  note: ${note}`);
    }
  } finally {
    await trellis.close();
  }

  result.ok = result.clients.failed === 0 && result.instances.failed === 0;
  out('');
  const c = result.clients;
  const i = result.instances;
  out(
    `Summary${dryRun ? ' (dry run)' : ''}: bot accounts ${c.created} ${dryRun ? 'to create' : 'created'}, ${c.skipped} skipped, ${c.failed} failed; ` +
      `instances ${i.created} ${dryRun ? 'to create' : 'created'}, ${i.skipped} skipped, ${i.notImported} not imported (no Trellis plugin), ${i.failed} failed`,
  );
  if (c.created > 0) {
    out(
      "End-to-end encryption is off for the imported bot accounts: maubot's crypto store (Olm/Megolm sessions) cannot be carried over, so they keep maubot's device without encryption. " +
        'To turn it on for one, log it in again (a new device): POST /client/auth/<homeserver>/login, then PUT /client/<id> {"encryption": true}.',
    );
  }
  for (const warning of new Set(trellis.warnings)) out(`warning: ${warning}`);
  const running = await maubotStillRunning(maubotConfig.server);
  if (running) out(`warning: maubot still answers at ${running}: stop it (and disable its service) before starting Trellis, or both answer every command`);
  else if (!dryRun && (c.created > 0 || i.created > 0)) out('Next: make sure maubot stays stopped (disable its service), then start Trellis.');
  if (!result.ok) out('Some items failed (see above); fix them and run the import again: what was imported is skipped.');
  return result;
}
