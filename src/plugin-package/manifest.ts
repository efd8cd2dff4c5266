/**
 * The plugin manifest (`plugin.yaml`) and the instance-config validation
 * derived from its JSON Schema.
 */
import type { MaubotMeta } from './maubot-manifest.ts';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isMap, isScalar, parseDocument, type Document } from 'yaml';
import { errorMessage } from '../shared/error-message.ts';

export type JsonSchemaObject = { [key: string]: unknown };

export interface PluginManifest {
  /** Reverse-domain identifier, e.g. `org.example.hello`. */
  id: string;
  /** Semantic version. */
  version: string;
  name?: string;
  description?: string;
  /** Entry module path inside the archive (or the source dir, for `plugin build`). */
  main: string;
  /** Whether the plugin uses per-instance storage. */
  database: boolean;
  /** Whether instances also receive events from their bot's direct-message rooms (games and flows played in a DM). */
  directMessages: boolean;
  /** JSON Schema for an instance's config; `{ type: 'object' }` when the manifest has none. */
  configSchema: JsonSchemaObject;
  /** Extra files shipped in the archive (paths relative to the archive root). */
  extraFiles: string[];
  /** `maubot`: an uploaded `.mbp` (maubot.yaml), run in a Python host process; absent for Trellis plugins. */
  kind?: 'maubot';
  /** maubot.yaml as read, for a plugin of kind `maubot`. */
  maubot?: MaubotMeta;
}

/** A plugin (manifest or archive) that cannot be accepted; `problems` lists every reason. */
export class PluginValidationError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join('; ')}`);
    this.name = 'PluginValidationError';
    this.problems = problems;
  }
}

export const PLUGIN_ID_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9_-]*)+$/;
export const PLUGIN_ID_MAX_LENGTH = 128;
// semver.org's recommended regex (prerelease and build metadata allowed).
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const KNOWN_KEYS = new Set(['id', 'version', 'name', 'description', 'main', 'database', 'direct_messages', 'config_schema', 'extra_files']);
const DRAFT_07_URIS = new Set(['http://json-schema.org/draft-07/schema#', 'http://json-schema.org/draft-07/schema']);
const DRAFT_2020_URIS = new Set(['https://json-schema.org/draft/2020-12/schema', 'https://json-schema.org/draft/2020-12/schema#']);

/**
 * Why a path inside an archive is unsafe to extract, or null when it is fine.
 * Shared by the manifest (main, extra_files) and the archive reader so both
 * apply exactly the same rules.
 */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return 'empty path';
  if (path.includes('\0')) return 'contains a NUL byte';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\x01-\x1f\x7f]/.test(path)) return 'contains control characters';
  if (path.includes('\\')) return 'contains a backslash (zip paths must use "/")';
  if (/^[a-zA-Z]:/.test(path)) return 'is an absolute Windows path (drive letter)';
  if (path.startsWith('/')) return 'is an absolute path';
  const segments = path.replace(/\/$/, '').split('/');
  if (segments.includes('..')) return 'escapes the plugin folder ("..")';
  if (segments.includes('.') || segments.includes('')) return 'is not a normalized path (contains "." or "//")';
  if (path.length > 512) return 'is longer than 512 characters';
  return null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The text the author wrote for a scalar, so `version: 1.0` is reported as "1.0", not 1. */
function sourceText(doc: Document, key: string, text: string): string {
  const node = doc.get(key, true);
  if (isScalar(node) && node.range) return text.slice(node.range[0], node.range[1]).trim();
  return String(doc.get(key));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parse and validate a `plugin.yaml`. Throws {@link PluginValidationError} listing every problem.
 * `compileSchema: false` skips compiling `config_schema` to prove it valid: for the bundled
 * plugins at boot, whose manifests the unit tests check in full.
 */
export function parseManifest(text: string, options: { compileSchema?: boolean } = {}): PluginManifest {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PluginValidationError(doc.errors.map((e) => `plugin.yaml: invalid YAML: ${e.message.split('\n')[0]}`));
  }
  if (!isMap(doc.contents)) {
    throw new PluginValidationError(['plugin.yaml: must be a YAML mapping (id: ..., version: ..., main: ...)']);
  }
  const raw: unknown = doc.toJS();
  const data = isPlainObject(raw) ? raw : {};
  const problems: string[] = [];

  for (const key of Object.keys(data)) {
    if (!KNOWN_KEYS.has(key)) problems.push(`${key}: unknown key (known keys: ${[...KNOWN_KEYS].join(', ')})`);
  }

  const id = data.id;
  if (id === undefined) problems.push('id: required (reverse-domain form, e.g. org.example.hello)');
  else if (typeof id !== 'string') problems.push(`id: must be a string, got ${describe(id)}`);
  else if (id.length > PLUGIN_ID_MAX_LENGTH) problems.push(`id: longer than ${PLUGIN_ID_MAX_LENGTH} characters`);
  else if (!PLUGIN_ID_PATTERN.test(id)) {
    problems.push(`id: not a reverse-domain identifier like org.example.hello (lowercase letters, digits, "-", "_") (got ${JSON.stringify(id)})`);
  }

  const version = data.version;
  if (version === undefined) problems.push('version: required (semantic version, e.g. 1.0.0)');
  else if (typeof version !== 'string' || !SEMVER_PATTERN.test(version)) {
    problems.push(`version: not a semantic version (got ${JSON.stringify(sourceText(doc, 'version', text))})`);
  }

  for (const key of ['name', 'description'] as const) {
    const value = data[key];
    if (value !== undefined && value !== null && typeof value !== 'string') problems.push(`${key}: must be a string, got ${describe(value)}`);
  }

  const main = data.main;
  if (main === undefined) problems.push('main: required (path of the entry module, e.g. index.js)');
  else if (typeof main !== 'string') problems.push(`main: must be a string, got ${describe(main)}`);
  else {
    const reason = unsafePathReason(main);
    if (reason) problems.push(`main: ${reason} (got ${JSON.stringify(main)})`);
    else if (main.endsWith('/')) problems.push(`main: must be a file, not a folder (got ${JSON.stringify(main)})`);
  }

  const database = data.database;
  if (database !== undefined && database !== null && typeof database !== 'boolean') {
    problems.push(`database: must be true or false, got ${describe(database)}`);
  }

  const directMessages = data.direct_messages;
  if (directMessages !== undefined && directMessages !== null && typeof directMessages !== 'boolean') {
    problems.push(`direct_messages: must be true or false, got ${describe(directMessages)}`);
  }

  let configSchema: JsonSchemaObject = { type: 'object' };
  const schema = data.config_schema;
  if (schema !== undefined && schema !== null) {
    if (!isPlainObject(schema)) problems.push(`config_schema: must be a mapping (a JSON Schema), got ${describe(schema)}`);
    else {
      const schemaProblems = checkConfigSchema(schema, options.compileSchema ?? true);
      problems.push(...schemaProblems);
      if (schemaProblems.length === 0) configSchema = schema;
    }
  }

  const extraFiles: string[] = [];
  const extra = data.extra_files;
  if (extra !== undefined && extra !== null) {
    if (!Array.isArray(extra)) problems.push(`extra_files: must be a list of paths, got ${describe(extra)}`);
    else {
      const seen = new Set<string>();
      extra.forEach((item: unknown, index: number) => {
        const where = `extra_files[${index}]`;
        if (typeof item !== 'string') return problems.push(`${where}: must be a string, got ${describe(item)}`);
        const reason = unsafePathReason(item);
        if (reason) return problems.push(`${where}: ${reason} (got ${JSON.stringify(item)})`);
        if (item === 'plugin.yaml' || item === 'index.js') return problems.push(`${where}: ${JSON.stringify(item)} is reserved for the manifest and the bundled entry`);
        if (seen.has(item)) return problems.push(`${where}: listed twice (${JSON.stringify(item)})`);
        seen.add(item);
        extraFiles.push(item);
      });
    }
  }

  if (problems.length > 0) throw new PluginValidationError(problems);

  const manifest: PluginManifest = {
    id: id as string,
    version: version as string,
    main: main as string,
    database: database === true,
    directMessages: directMessages === true,
    configSchema,
    extraFiles,
  };
  if (typeof data.name === 'string') manifest.name = data.name;
  if (typeof data.description === 'string') manifest.description = data.description;
  return manifest;
}

function checkConfigSchema(schema: JsonSchemaObject, compile: boolean): string[] {
  const problems: string[] = [];
  const declared = schema.$schema;
  if (declared !== undefined && (typeof declared !== 'string' || (!DRAFT_07_URIS.has(declared) && !DRAFT_2020_URIS.has(declared)))) {
    problems.push(`config_schema.$schema: unsupported JSON Schema dialect ${JSON.stringify(declared)} (use draft 2020-12 or draft-07)`);
    return problems;
  }
  // Instance configs are always mappings; anything else could never be stored.
  if (schema.type !== undefined && schema.type !== 'object') {
    problems.push(`config_schema.type: must be "object" (an instance config is a mapping), got ${JSON.stringify(schema.type)}`);
  }
  if (!compile) return problems;
  try {
    compileSchema(schema);
  } catch (error) {
    problems.push(schemaError(error));
  }
  return problems;
}

/** An Ajv for the draft the schema declares (2020-12 unless it says draft-07). */
function ajvFor(schema: JsonSchemaObject): Ajv {
  const options = { useDefaults: true, allErrors: true, strict: false } as const;
  const ajv = DRAFT_07_URIS.has(schema.$schema as string) ? new Ajv(options) : new Ajv2020(options);
  addFormatsModule.default(ajv);
  return ajv;
}

const schemaError = (error: unknown) => `config_schema: not a valid JSON Schema: ${errorMessage(error)}`;

function compileSchema(schema: JsonSchemaObject): ValidateFunction {
  // A fresh Ajv per schema: two plugins may reuse the same $id without clashing.
  return ajvFor(schema).compile(schema);
}

/**
 * `unknownKeys`: where the config has a key its schema does not allow
 * (`additionalProperties`/`unevaluatedProperties: false`), as path segments:
 * what an upgrade may drop.
 */
export type ConfigValidationResult = { ok: true; value: Record<string, unknown> } | { ok: false; problems: string[]; unknownKeys: string[][] };

function jsonPointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A config path for people: `health.rcon.port`, `champions[2].name`; `config` for the whole. */
export function formatConfigPath(segments: string[]): string {
  if (segments.length === 0) return 'config';
  return segments.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function formatAjvError(error: ErrorObject): string {
  const path = jsonPointerToPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    return `${formatConfigPath([...path, params.missingProperty])}: required`;
  }
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return `${formatConfigPath([...path, params.additionalProperty])}: unknown key`;
  }
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `${formatConfigPath(path)}: must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${formatConfigPath(path)}: ${error.message ?? 'is invalid'}`;
}

/**
 * Keys a schema does not allow, from the validation errors. Only plain ones:
 * inside `anyOf`/`oneOf`/`not`/`if` a key may be wrong for one branch and
 * right for another, so those are left to the error message.
 */
function unknownKeyPaths(errors: ErrorObject[]): string[][] {
  const paths = new Map<string, string[]>();
  for (const error of errors) {
    if (/\/(anyOf|oneOf|not|if|then|else)(\/|$)/.test(error.schemaPath)) continue;
    const params = error.params as Record<string, unknown>;
    const key = error.keyword === 'additionalProperties' ? params.additionalProperty : error.keyword === 'unevaluatedProperties' ? params.unevaluatedProperty : undefined;
    if (typeof key !== 'string') continue;
    const path = [...jsonPointerToPath(error.instancePath), key];
    paths.set(JSON.stringify(path), path);
  }
  return [...paths.values()];
}

/**
 * Compile a plugin's config schema once; the returned function validates an
 * instance config, returning a copy with schema defaults applied (the input is
 * never mutated) or every problem with its path.
 */
export function createConfigValidator(schema: JsonSchemaObject): (config: unknown) => ConfigValidationResult {
  // Compiled at the first validation, not when the plugin is listed: Ajv's code generation for the
  // nine bundled plugins was ≈ 20 MiB and 0.45 s of every start (issue 12).
  let validate: ValidateFunction | undefined;
  return (config: unknown): ConfigValidationResult => {
    try {
      validate ??= compileSchema(schema);
    } catch (error) {
      return { ok: false, problems: [schemaError(error)], unknownKeys: [] };
    }
    if (!isPlainObject(config)) return { ok: false, problems: [`config: must be a mapping (object), got ${describe(config)}`], unknownKeys: [] };
    let copy: Record<string, unknown>;
    try {
      copy = structuredClone(config);
    } catch {
      return { ok: false, problems: ['config: must contain only JSON values'], unknownKeys: [] };
    }
    if (validate(copy)) return { ok: true, value: copy };
    const errors = validate.errors ?? [];
    const problems = [...new Set(errors.map(formatAjvError))];
    return { ok: false, problems: problems.length > 0 ? problems : ['config: does not match the plugin config schema'], unknownKeys: unknownKeyPaths(errors) };
  };
}

/** Keywords whose value is one subschema, a list of them, or a map of them (where `default` may sit). */
const SUBSCHEMA = ['items', 'additionalItems', 'additionalProperties', 'unevaluatedItems', 'unevaluatedProperties', 'contains', 'propertyNames', 'not', 'if', 'then', 'else'];
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'];

/**
 * Every `default` in a config schema that its own schema rejects, e.g.
 * `{type: integer, minimum: 1, default: 0}`. JSON Schema does not check
 * defaults, so such a default would make every instance that relies on it
 * fail. Parts that use `$ref` or `$id` are skipped.
 */
export function schemaDefaultProblems(schema: JsonSchemaObject): string[] {
  const problems: string[] = [];
  const ajv = ajvFor(schema);
  const visit = (node: unknown, path: string): void => {
    if (!isPlainObject(node)) return;
    if (Object.hasOwn(node, 'default') && !/"\$(ref|dynamicRef|id)"/.test(JSON.stringify(node))) {
      const { default: value, ...rest } = node;
      const validate = ajv.compile(rest);
      if (!validate(structuredClone(value))) {
        const why = [...new Set((validate.errors ?? []).map((e) => formatAjvError(e).replace(/^config: /, '')))].join('; ');
        problems.push(`${path}.default: ${JSON.stringify(value)} does not match its own schema (${why})`);
      }
    }
    for (const key of SUBSCHEMA) visit(node[key], `${path}.${key}`);
    for (const key of SUBSCHEMA_LISTS) if (Array.isArray(node[key])) node[key].forEach((sub: unknown, i: number) => visit(sub, `${path}.${key}[${i}]`));
    for (const key of SUBSCHEMA_MAPS) if (isPlainObject(node[key])) for (const [name, sub] of Object.entries(node[key])) visit(sub, `${path}.${key}.${name}`);
    if (Array.isArray(node.items)) node.items.forEach((sub: unknown, i: number) => visit(sub, `${path}.items[${i}]`));
  };
  visit(schema, 'config_schema');
  return problems;
}

/** What the API shows instead of a secret config value. */
export const SECRET_MASK = '********';

/**
 * Top-level config keys the plugin marks `writeOnly: true` (JSON Schema's own
 * keyword): passwords and tokens an operator may set but the API never returns.
 */
export function secretConfigKeys(schema: JsonSchemaObject): string[] {
  const properties = schema.properties;
  if (!properties || typeof properties !== 'object') return [];
  return Object.entries(properties as Record<string, unknown>)
    .filter(([, prop]) => typeof prop === 'object' && prop !== null && (prop as { writeOnly?: unknown }).writeOnly === true)
    .map(([key]) => key);
}

/** The config with its secret values replaced by {@link SECRET_MASK} (empty values stay empty). */
export function maskSecrets(config: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  if (keys.length === 0) return config;
  const masked = { ...config };
  for (const key of keys) if (typeof masked[key] === 'string' && masked[key] !== '') masked[key] = SECRET_MASK;
  return masked;
}
