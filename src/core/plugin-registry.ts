/**
 * The plugins the daemon knows: bundled ones loaded from source, uploaded
 * archives installed and loaded, each with its manifest and config validator.
 */
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginDefinition } from '../sdk/index.ts';
import { createConfigValidator, parseManifest, PluginValidationError, type ConfigValidationResult, type PluginManifest } from '../plugin-package/manifest.ts';
import { installPluginArchive } from '../plugin-package/archive.ts';
import { parseMaubotManifest } from '../plugin-package/maubot-manifest.ts';
import { defaultHostSettings, maubotPluginDefinition, type HostSettings } from '../mbp/adapter.ts';
import { installDependencies } from '../mbp/dependencies.ts';
import type { Storage } from '../storage/database.ts';
import type { Logger } from './logging.ts';
import { errorMessage } from '../shared/error-message.ts';

export interface LoadedPlugin {
  id: string;
  version: string;
  source: 'bundled' | 'uploaded';
  dir: string;
  manifest: PluginManifest;
  /**
   * The plugin's code. A bundled plugin's module is imported at its first
   * instance start, not at boot: nine plugins and their dependencies were
   * ≈ 40 MiB and 0.4 s of every start (issue 12). Uploaded plugins are
   * imported when installed and at boot, since loading is their check.
   */
  loadDefinition(): Promise<PluginDefinition<Record<string, unknown>>>;
  validateConfig(config: unknown): ConfigValidationResult;
}

export class PluginConflictError extends Error {}

async function importDefinition(dir: string, manifest: PluginManifest): Promise<PluginDefinition<Record<string, unknown>>> {
  const entry = join(dir, manifest.main);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(entry).href)) as { default?: unknown };
  } catch (err) {
    throw new PluginValidationError([`main: ${manifest.main} failed to load: ${errorMessage(err)}`]);
  }
  const def = mod.default as Partial<PluginDefinition> | undefined;
  if (!def || typeof def.setup !== 'function') {
    throw new PluginValidationError([`main: ${manifest.main} must export default definePlugin({ setup(ctx) { … } })`]);
  }
  return def as PluginDefinition<Record<string, unknown>>;
}

/**
 * An uploaded plugin's module is imported now (loading is its check); a bundled one's at the first call.
 * A maubot plugin's Python code is not loaded here: each instance's host process loads it (src/mbp/).
 */
async function loadedPlugin(dir: string, source: LoadedPlugin['source'], manifest: PluginManifest, maubotHost: HostSettings): Promise<LoadedPlugin> {
  if (manifest.kind === 'maubot') {
    const definition = maubotPluginDefinition(dir, manifest.maubot!, maubotHost);
    return { id: manifest.id, version: manifest.version, source, dir, manifest, loadDefinition: async () => definition, validateConfig: createConfigValidator(manifest.configSchema) };
  }
  let definition: Promise<PluginDefinition<Record<string, unknown>>> | undefined = source === 'uploaded' ? Promise.resolve(await importDefinition(dir, manifest)) : undefined;
  // A failed import is not cached: the next start tries again (a fixed file, a dependency installed meanwhile).
  const loadDefinition = () =>
    (definition ??= importDefinition(dir, manifest).catch((err: unknown) => {
      definition = undefined;
      throw err;
    }));
  return { id: manifest.id, version: manifest.version, source, dir, manifest, loadDefinition, validateConfig: createConfigValidator(manifest.configSchema) };
}

/**
 * Bundled plugins (folders under plugins/ in the repo, loaded from source)
 * and uploaded plugin archives (extracted under <data_dir>/plugins). An
 * uploaded plugin with the id of a bundled one replaces it.
 */
export class PluginRegistry {
  readonly #plugins = new Map<string, LoadedPlugin>();
  readonly #storage: Storage;
  readonly #pluginsDir: string;
  readonly #bundledDir: string;
  readonly #log: Logger;
  readonly #maubotHost: HostSettings;

  /** `maubotHost`: where .mbp instances find Python (default: the project's .venv-maubot, databases beside pluginsDir). */
  constructor(options: { storage: Storage; pluginsDir: string; bundledDir: string; log: Logger; maubotHost?: HostSettings }) {
    this.#storage = options.storage;
    this.#maubotHost = options.maubotHost ?? defaultHostSettings(dirname(resolve(options.pluginsDir)));
    this.#pluginsDir = options.pluginsDir;
    this.#bundledDir = options.bundledDir;
    this.#log = options.log;
  }

  list(): LoadedPlugin[] {
    return [...this.#plugins.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): LoadedPlugin | undefined {
    return this.#plugins.get(id);
  }

  async #load(dir: string, source: LoadedPlugin['source']): Promise<LoadedPlugin> {
    const maubotYaml = join(dir, 'maubot.yaml');
    const manifest =
      !existsSync(join(dir, 'plugin.yaml')) && existsSync(maubotYaml)
        ? parseMaubotManifest(await readFile(maubotYaml, 'utf8'), (path) => existsSync(join(dir, path))).manifest
        : parseManifest(await readFile(join(dir, 'plugin.yaml'), 'utf8'), { compileSchema: source === 'uploaded' });
    return loadedPlugin(dir, source, manifest, this.#maubotHost);
  }

  async loadAll(): Promise<void> {
    if (existsSync(this.#bundledDir)) {
      for (const entry of await readdir(this.#bundledDir, { withFileTypes: true })) {
        const dir = join(this.#bundledDir, entry.name);
        if (!entry.isDirectory() || !existsSync(join(dir, 'plugin.yaml'))) continue;
        try {
          const plugin = await this.#load(dir, 'bundled');
          this.#plugins.set(plugin.id, plugin);
        } catch (err) {
          this.#log.error(`bundled plugin in ${dir} failed to load: ${errorMessage(err)}`);
        }
      }
    }
    for (const record of await this.#storage.plugins.list()) {
      if (record.source !== 'uploaded') continue;
      try {
        const plugin = await this.#load(record.dir, 'uploaded');
        this.#plugins.set(plugin.id, plugin);
      } catch (err) {
        this.#log.error(`uploaded plugin ${record.id} ${record.version} in ${record.dir} failed to load: ${errorMessage(err)}`);
      }
    }
    for (const plugin of this.#plugins.values()) {
      if (plugin.source === 'bundled') await this.#storage.plugins.upsert(toRecord(plugin));
    }
  }

  /**
   * Validates and installs an archive. Nothing changes (on disk or in the
   * database) unless the archive is valid and its entry module loads.
   */
  async install(data: Buffer, options: { allowOverride: boolean }): Promise<{ plugin: LoadedPlugin; previous?: LoadedPlugin }> {
    const { manifest, dir } = await installPluginArchive(data, this.#pluginsDir);
    const previous = this.#plugins.get(manifest.id);
    try {
      if (previous && previous.version === manifest.version && !options.allowOverride) {
        throw new PluginConflictError(`plugin ${manifest.id} ${manifest.version} is already installed; upload a new version or pass allow_override=true`);
      }
      if (manifest.kind === 'maubot') await installDependencies(this.#maubotHost.python, dir, manifest.maubot!.dependencies);
      const plugin = await loadedPlugin(dir, 'uploaded', manifest, this.#maubotHost);
      await this.#storage.plugins.upsert(toRecord(plugin));
      this.#plugins.set(plugin.id, plugin);
      // The old module stays in memory until its instances restart; its files are no longer needed.
      if (previous?.source === 'uploaded' && previous.dir !== dir) await rm(previous.dir, { recursive: true, force: true });
      return { plugin, previous };
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      // The id's folder, if this upload created it: rmdir only removes it when no other version is in it.
      await rmdir(dirname(dir)).catch(() => undefined);
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    const plugin = this.#plugins.get(id);
    if (!plugin) return;
    this.#plugins.delete(id);
    await this.#storage.plugins.delete(id);
    if (plugin.source === 'uploaded' && resolve(plugin.dir).startsWith(resolve(this.#pluginsDir))) await rm(plugin.dir, { recursive: true, force: true });
  }
}

function toRecord(plugin: LoadedPlugin) {
  return { id: plugin.id, version: plugin.version, source: plugin.source, dir: plugin.dir, manifest: plugin.manifest as unknown as Record<string, unknown> };
}
