/**
 * maubot's plugin manifest (`maubot.yaml` at the root of an `.mbp`), read
 * into a Trellis {@link PluginManifest} of kind `maubot`: the Python code runs
 * in a host process (src/mbp/). Every problem is named, as for plugin.yaml.
 */
import { isMap, parseDocument } from 'yaml';
import { PLUGIN_ID_PATTERN, PluginValidationError, type PluginManifest } from './manifest.ts';

/** The maubot framework version Trellis hosts plugins with (scripts/python-tools.ts pins it). */
export const HOSTED_MAUBOT_VERSION = '0.6.0';

/** maubot.yaml as maubot reads it (maubot/loader/meta.py). */
export interface MaubotMeta {
  id: string;
  version: string;
  modules: string[];
  main_class: string;
  maubot: string;
  database: boolean;
  database_type: 'sqlalchemy' | 'asyncpg';
  config: boolean;
  webapp: boolean;
  license: string;
  extra_files: string[];
  dependencies: string[];
  soft_dependencies: string[];
}

const KNOWN = new Set(['id', 'version', 'modules', 'main_class', 'maubot', 'database', 'database_type', 'config', 'webapp', 'license', 'extra_files', 'dependencies', 'soft_dependencies']);
const MODULE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** PEP 440-ish: what maubot's packaging.Version accepts in practice. */
const VERSION = /^v?\d+(\.\d+)*([-_.]?(a|b|rc|alpha|beta|pre|post|dev)\.?\d*)*(\+[A-Za-z0-9.]+)?$/i;

function compareVersions(a: string, b: string): number {
  const pa = a
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  const pb = b
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Parses maubot.yaml; `has(path)` says whether the archive holds a file (or folder) so
 * modules and extra files are checked before anything is installed.
 */
export function parseMaubotManifest(text: string, has: (path: string) => boolean): { manifest: PluginManifest; meta: MaubotMeta } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new PluginValidationError(doc.errors.map((e) => `maubot.yaml: invalid YAML: ${e.message.split('\n')[0]}`));
  if (!isMap(doc.contents)) throw new PluginValidationError(['maubot.yaml: must be a YAML mapping (id: ..., version: ..., modules: ..., main_class: ...)']);
  const data = doc.toJS() as Record<string, unknown>;
  const problems: string[] = [];
  const string = (key: string, fallback?: string): string => {
    const value = data[key];
    if (value === undefined || value === null) {
      if (fallback === undefined) problems.push(`${key}: required`);
      return fallback ?? '';
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      problems.push(`${key}: must be a string`);
      return '';
    }
    return String(value);
  };
  const bool = (key: string): boolean => {
    const value = data[key] ?? false;
    if (typeof value !== 'boolean') problems.push(`${key}: must be true or false`);
    return value === true;
  };
  const list = (key: string, required = false): string[] => {
    const value = data[key];
    if (value === undefined || value === null) {
      if (required) problems.push(`${key}: required (a list)`);
      return [];
    }
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      problems.push(`${key}: must be a list of strings`);
      return [];
    }
    return value as string[];
  };

  for (const key of Object.keys(data)) if (!KNOWN.has(key)) problems.push(`${key}: unknown key (maubot.yaml keys: ${[...KNOWN].join(', ')})`);
  const id = string('id');
  if (id && !PLUGIN_ID_PATTERN.test(id)) problems.push(`id: not a reverse-domain identifier like xyz.maubot.echo (got ${JSON.stringify(id)})`);
  const version = string('version');
  if (version && !VERSION.test(version)) problems.push(`version: not a version (got ${JSON.stringify(version)})`);
  const modules = list('modules', true);
  if (data.modules !== undefined && modules.length === 0 && Array.isArray(data.modules)) problems.push('modules: at least one module');
  for (const module of modules) {
    if (!MODULE.test(module)) problems.push(`modules: ${JSON.stringify(module)} is not a Python module name`);
    else if (!has(`${module}/__init__.py`) && !has(`${module}.py`)) problems.push(`modules: ${module} is not in the archive (neither ${module}/__init__.py nor ${module}.py)`);
  }
  const mainClass = string('main_class');
  if (mainClass.includes('/') && !modules.includes(mainClass.split('/')[0])) problems.push(`main_class: module ${mainClass.split('/')[0]} is not one of modules`);
  const maubot = string('maubot', HOSTED_MAUBOT_VERSION);
  if (compareVersions(maubot, HOSTED_MAUBOT_VERSION) > 0) problems.push(`maubot: the plugin needs maubot ${maubot}; Trellis hosts plugins with maubot ${HOSTED_MAUBOT_VERSION}`);
  const database = bool('database');
  const databaseType = string('database_type', 'sqlalchemy');
  if (databaseType !== 'sqlalchemy' && databaseType !== 'asyncpg') problems.push('database_type: sqlalchemy or asyncpg');
  const extraFiles = list('extra_files');
  for (const file of extraFiles) if (!has(file)) problems.push(`extra_files: ${JSON.stringify(file)} is not in the archive`);
  const meta: MaubotMeta = {
    id,
    version,
    modules,
    main_class: mainClass,
    maubot,
    database,
    database_type: databaseType as MaubotMeta['database_type'],
    config: bool('config'),
    webapp: bool('webapp'),
    license: string('license', ''),
    extra_files: extraFiles,
    dependencies: list('dependencies'),
    soft_dependencies: list('soft_dependencies'),
  };
  if (problems.length > 0) throw new PluginValidationError(problems.map((p) => `maubot.yaml: ${p}`));
  const manifest: PluginManifest = {
    id,
    version,
    name: id,
    description: `maubot plugin (${modules.join(', ')}), run by Trellis's Python host`,
    main: modules[0]!,
    database,
    directMessages: false,
    // maubot configs are free-form YAML the plugin's do_update shapes; the plugin checks them itself.
    configSchema: { type: 'object' },
    extraFiles,
    kind: 'maubot',
    maubot: meta,
  };
  return { manifest, meta };
}
