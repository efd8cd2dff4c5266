/**
 * Reads, overrides, resolves and validates the configuration file.
 *
 * Order matters: YAML → environment overrides → secret files/credentials →
 * schema → cross-references. Every stage collects problems instead of
 * stopping at the first, so the operator fixes the file in one pass.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { applyEnvOverrides, type EnvOverride } from './env.ts';
import { ConfigError, formatProblem, isPlainObject, type PlainObject, type Problem } from './problems.ts';
import { trellisConfigSchema, type TrellisConfig } from './schema.ts';
import { resolveSecrets } from './secrets.ts';
import { closest, knownKeys } from './suggest.ts';

export interface LoadedConfig {
  /** Defaults applied, secrets resolved, data_dir and database.path absolute. */
  config: TrellisConfig;
  /** Absolute path of the file that was read. */
  path: string;
  /** Every secret value in the config, so loggers can redact them. */
  secrets: string[];
}

export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const file = resolve(path);
  const baseDir = dirname(file);
  const text = await readConfigText(file);

  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(file, document.errors.map(describeYamlError));
  }
  const parsed: unknown = document.toJS();
  if (parsed !== null && parsed !== undefined && !isPlainObject(parsed)) {
    throw new ConfigError(file, ['the file must contain a YAML mapping (key: value lines) at the top level']);
  }
  const raw: PlainObject = parsed ?? {};

  const overrides = applyEnvOverrides(raw, env);
  const secrets = await resolveSecrets(raw, { baseDir, credentialsDirectory: env.CREDENTIALS_DIRECTORY });
  const result = trellisConfigSchema.safeParse(raw, { error: friendlyMessage });
  const problems: Problem[] = [
    ...overrides.problems,
    ...secrets.problems,
    ...(result.success ? [] : result.error.issues.flatMap(toProblems)).filter((problem) => !secrets.unresolved.some((path) => samePath(path, problem.path))),
    ...crossReferenceProblems(raw),
  ];
  if (problems.length > 0 || !result.success) {
    throw new ConfigError(file, dedupe(problems.map((p) => annotateOrigin(p, overrides.applied))));
  }

  const config = result.data;
  config.data_dir = resolve(baseDir, config.data_dir);
  config.database.path = resolve(config.data_dir, config.database.path);
  return { config, path: file, secrets: secrets.values };
}

async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') {
      const message = `config file ${file} not found; create one with: ` + `trellis init --config ${file} --admin-user admin --admin-password …`;
      throw new ConfigError(file, [message], message);
    }
    const reason =
      code === 'EACCES' || code === 'EPERM'
        ? `is not readable by user ${userInfo().username}; fix its owner or mode (0600, owned by the trellis user)`
        : code === 'EISDIR'
          ? 'is a directory; pass the path of the YAML file'
          : `cannot be read (${code ?? String(error)})`;
    const message = `config file ${file} ${reason}`;
    throw new ConfigError(file, [message], message);
  }
}

/**
 * yaml's messages end with an excerpt of the offending line, which may hold a
 * secret: keep only the first line and the position.
 */
function describeYamlError(error: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): string {
  const headline = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  const position = error.linePos?.[0];
  return position ? `YAML syntax error at line ${position.line}, column ${position.col}: ${headline}` : `YAML syntax error: ${headline}`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null (empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return `a ${typeof value}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map',
  record: 'a map',
};

// Messages say what was expected and what kind of value was found, never the
// value itself: it may be a secret.
function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${describeType(issue.input)}`;
    case 'invalid_value':
      return `expected one of: ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'number') return `must be at least ${String(issue.minimum)}`;
      return undefined;
    case 'too_big':
      if (issue.origin === 'number') return `must be at most ${String(issue.maximum)}`;
      return undefined;
    default:
      return undefined;
  }
}

function toProblems(issue: z.core.$ZodIssue): Problem[] {
  const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(trellisConfigSchema, path);
    return issue.keys.map((key) => {
      const base = key.replace(/_(file|credential)$/, '');
      if (base !== key && known.includes(base)) {
        return { path: [...path, key], message: `unknown key: ${base} is not a secret, so give it inline (no _file/_credential form)` };
      }
      const suggestion = closest(key, known);
      return { path: [...path, key], message: suggestion ? `unknown key (did you mean ${suggestion}?)` : 'unknown key' };
    });
  }
  if (issue.code === 'invalid_key') {
    return [{ path, message: issue.issues[0]?.message ?? issue.message }];
  }
  if (issue.code === 'invalid_type' && issue.expected === 'number' && issue.message.endsWith('NaN')) {
    return [{ path, message: 'expected a number' }];
  }
  return [{ path, message: issue.message }];
}

/** References between sections; checked on the raw data so they show up alongside schema problems. */
function crossReferenceProblems(raw: PlainObject): Problem[] {
  const problems: Problem[] = [];
  const homeservers = isPlainObject(raw.homeservers) ? Object.keys(raw.homeservers) : [];
  if (isPlainObject(raw.clients)) {
    for (const [userId, client] of Object.entries(raw.clients)) {
      if (!isPlainObject(client) || typeof client.homeserver !== 'string' || client.homeserver === '') continue;
      if (homeservers.includes(client.homeserver)) continue;
      problems.push({
        path: ['clients', userId, 'homeserver'],
        message:
          homeservers.length === 0
            ? `unknown homeserver "${client.homeserver}"; no homeservers are configured, add it under homeservers:`
            : `unknown homeserver "${client.homeserver}"; configured: ${homeservers.join(', ')}`,
      });
    }
  }
  return problems;
}

function annotateOrigin(problem: Problem, applied: readonly EnvOverride[]): string {
  const text = formatProblem(problem);
  const source = applied.findLast((o) => o.path.length <= problem.path.length && o.path.every((segment, i) => problem.path[i] === segment));
  return source ? `${text} (set by environment variable ${source.variable})` : text;
}

function samePath(a: readonly (string | number)[], b: readonly (string | number)[]): boolean {
  return a.length === b.length && a.every((segment, i) => segment === b[i]);
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

export { ConfigError };
