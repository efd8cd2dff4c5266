/**
 * Upgrading an instance's stored config to the installed plugin version
 * before the instance starts: the plugin's own `upgradeConfig` hook first
 * (when the config was written for another version or no longer
 * validates), then the default: keys the schema does not allow are dropped
 * and missing ones take their schema defaults. Only a config that still
 * does not validate after that fails, with each problem named.
 */
import { isDeepStrictEqual } from 'node:util';
import type { JsonValue } from '../sdk/index.ts';
import { formatConfigPath, type JsonSchemaObject } from '../plugin-package/manifest.ts';
import { errorMessage } from '../shared/error-message.ts';
import type { LoadedPlugin } from './plugin-registry.ts';

export type ConfigUpgradeResult =
  | {
      ok: true;
      /** What to store: the config after the hook, without the dropped keys (defaults are not written in). */
      config: Record<string, unknown>;
      /** What the instance runs with: `config` with the schema defaults applied. */
      value: Record<string, unknown>;
      /** Whether `config` differs from the stored one. */
      changed: boolean;
      /** What the hook changed, as top-level keys: "removed greeting", "added salutation", "changed timeout". */
      hookChanges: string[];
      /** Keys the schema does not allow that were dropped, e.g. `old_key`, `health.extra`. */
      dropped: string[];
    }
  | { ok: false; problems: string[] };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The schema defaults of the top-level keys that have one (what the hook is told). */
export function topLevelDefaults(schema: JsonSchemaObject): Record<string, JsonValue> {
  const defaults: Record<string, JsonValue> = {};
  if (!isObject(schema.properties)) return defaults;
  for (const [key, sub] of Object.entries(schema.properties)) {
    if (isObject(sub) && Object.hasOwn(sub, 'default')) defaults[key] = structuredClone(sub.default) as JsonValue;
  }
  return defaults;
}

function describeChanges(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const changes: string[] = [];
  for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) changes.push(`removed ${key}`);
  for (const key of Object.keys(after)) {
    if (!Object.hasOwn(before, key)) changes.push(`added ${key}`);
    else if (!isDeepStrictEqual(before[key], after[key])) changes.push(`changed ${key}`);
  }
  return changes;
}

/** Deletes the key at `path` (object keys and array indexes); false when it is not there. */
function deletePath(root: Record<string, unknown>, path: string[]): boolean {
  let node: unknown = root;
  for (const segment of path.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isObject(node)) node = node[segment];
    else return false;
  }
  const last = path[path.length - 1];
  if (!isObject(node) || !Object.hasOwn(node, last)) return false;
  delete node[last];
  return true;
}

/**
 * Brings `stored` (an instance's config and the plugin version it was last
 * accepted by) to `plugin`'s version. `runHook` runs the plugin's hook (the
 * supervisor runs it in the instance's scope, with a time limit).
 */
export async function upgradeConfig(
  plugin: Pick<LoadedPlugin, 'version' | 'manifest' | 'loadDefinition' | 'validateConfig'>,
  stored: { config: Record<string, unknown>; pluginVersion?: string | null },
  runHook: <T>(hook: () => T | Promise<T>) => Promise<T> = async (hook) => hook(),
): Promise<ConfigUpgradeResult> {
  const fromVersion = stored.pluginVersion ?? null;
  const otherVersion = fromVersion !== null && fromVersion !== plugin.version;
  const first = plugin.validateConfig(stored.config);
  if (first.ok && !otherVersion) return { ok: true, config: stored.config, value: first.value, changed: false, hookChanges: [], dropped: [] };

  let config = structuredClone(stored.config);
  let hookChanges: string[] = [];
  const definition = await plugin.loadDefinition();
  const hook = definition.upgradeConfig;
  if (hook) {
    let upgraded: unknown;
    try {
      const upgrade = { fromVersion, toVersion: plugin.version, problems: first.ok ? [] : first.problems, defaults: topLevelDefaults(plugin.manifest.configSchema) };
      upgraded = await runHook(() => hook.call(definition, structuredClone(config), upgrade));
    } catch (err) {
      return { ok: false, problems: [`upgradeConfig threw: ${errorMessage(err)}`] };
    }
    if (!isObject(upgraded)) return { ok: false, problems: [`upgradeConfig returned ${upgraded === null ? 'null' : Array.isArray(upgraded) ? 'a list' : typeof upgraded}, not a config object`] };
    try {
      upgraded = structuredClone(upgraded);
    } catch {
      return { ok: false, problems: ['upgradeConfig returned a config with values that are not JSON'] };
    }
    hookChanges = describeChanges(config, upgraded as Record<string, unknown>);
    config = upgraded as Record<string, unknown>;
  }

  // Keys the schema does not allow are dropped, at any depth; defaults fill what is missing (validation applies them).
  const dropped: string[] = [];
  let result = plugin.validateConfig(config);
  for (let round = 0; !result.ok && round < 10; round++) {
    const removed = result.unknownKeys.filter((path) => deletePath(config, path));
    if (removed.length === 0) break;
    dropped.push(...removed.map(formatConfigPath));
    result = plugin.validateConfig(config);
  }
  if (!result.ok) return { ok: false, problems: result.problems };
  return { ok: true, config, value: result.value, changed: !isDeepStrictEqual(config, stored.config), hookChanges, dropped };
}
