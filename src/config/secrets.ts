/**
 * Resolves the three ways a secret may be written (inline, `<key>_file`,
 * `<key>_credential`) into the plain key, before schema validation.
 *
 * Problems name files and credential names, never the secret values.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { isPlainObject, type PlainObject, type Problem } from './problems.ts';
import { SECRET_KEY_PATHS } from './schema.ts';

export const SECRET_SUFFIXES = ['_file', '_credential'] as const;

export interface SecretSource {
  /** Folder that relative `_file` paths resolve against: the config file's. */
  baseDir: string;
  /** $CREDENTIALS_DIRECTORY as set by systemd's LoadCredential=. */
  credentialsDirectory: string | undefined;
}

export interface ResolvedSecrets {
  values: string[];
  problems: Problem[];
  /**
   * Key paths of secrets that could not be resolved. The schema would add
   * "required" / "unknown key" for them, which only repeats the real problem.
   */
  unresolved: string[][];
}

/** Objects that may hold secret key `key`, with their paths, for every SECRET_KEY_PATHS entry. */
export function secretSlots(root: PlainObject): { parent: PlainObject; path: string[]; key: string }[] {
  const slots: { parent: PlainObject; path: string[]; key: string }[] = [];
  for (const pattern of SECRET_KEY_PATHS) {
    const segments = pattern.split('.');
    const key = segments.pop() as string;
    let level: { value: PlainObject; path: string[] }[] = [{ value: root, path: [] }];
    for (const segment of segments) {
      const next: { value: PlainObject; path: string[] }[] = [];
      for (const { value, path } of level) {
        const keys = segment === '*' ? Object.keys(value) : [segment];
        for (const k of keys) {
          const child = value[k];
          if (isPlainObject(child)) next.push({ value: child, path: [...path, k] });
        }
      }
      level = next;
    }
    for (const { value, path } of level) slots.push({ parent: value, path, key });
  }
  return slots;
}

/** True if `path` (concrete keys) is a secret key or one of its `_file`/`_credential` forms. */
export function secretBaseKey(path: readonly string[]): string | null {
  const last = path.at(-1);
  if (last === undefined) return null;
  const candidates = [last, ...SECRET_SUFFIXES.filter((s) => last.endsWith(s)).map((s) => last.slice(0, -s.length))];
  for (const pattern of SECRET_KEY_PATHS) {
    const segments = pattern.split('.');
    if (segments.length !== path.length) continue;
    const prefixMatches = segments.slice(0, -1).every((s, i) => s === '*' || s === path[i]);
    if (!prefixMatches) continue;
    const base = segments.at(-1) as string;
    if (candidates.includes(base)) return base;
  }
  return null;
}

export async function resolveSecrets(root: PlainObject, source: SecretSource): Promise<ResolvedSecrets> {
  const values: string[] = [];
  const problems: Problem[] = [];
  const unresolved: string[][] = [];
  for (const { parent, path, key } of secretSlots(root)) {
    const forms = [key, ...SECRET_SUFFIXES.map((s) => key + s)].filter((form) => parent[form] !== undefined && parent[form] !== null);
    if (forms.length === 0) continue;
    const fail = (problem: Problem) => {
      problems.push(problem);
      unresolved.push([...path, key], ...forms.map((form) => [...path, form]));
    };
    if (forms.length > 1) {
      fail({
        path: [...path, key],
        message: `given more than one way (${forms.join(', ')}); keep exactly one`,
      });
      continue;
    }
    const form = forms[0] as string;
    const raw = parent[form];
    if (form === key) {
      if (typeof raw === 'string' && raw !== '') values.push(raw);
      continue; // the schema reports a wrong type
    }
    if (typeof raw !== 'string' || raw.trim() === '') {
      fail({
        path: [...path, form],
        message: form.endsWith('_file') ? 'expected a file path' : 'expected a credential name',
      });
      continue;
    }
    const read = form.endsWith('_file') ? await readSecretFile(resolve(source.baseDir, raw), key) : await readCredential(raw, key, source.credentialsDirectory);
    if ('problem' in read) {
      fail({ path: [...path, form], message: read.problem });
      continue;
    }
    delete parent[key + '_file'];
    delete parent[key + '_credential'];
    parent[key] = read.value;
    values.push(read.value);
  }
  return { values: [...new Set(values)], problems, unresolved };
}

type ReadResult = { value: string } | { problem: string };

async function readSecretFile(file: string, key: string): Promise<ReadResult> {
  try {
    return nonEmpty(await readFile(file, 'utf8'), `file ${file} is empty; put the ${key} in it`);
  } catch (error) {
    return { problem: describeReadError(error, `file ${file}`) };
  }
}

async function readCredential(name: string, key: string, directory: string | undefined): Promise<ReadResult> {
  if (name.includes('/') || name === '.' || name === '..') {
    return { problem: 'expected a credential name (as in LoadCredential=name:/path), not a path; for a path use ' + `${key}_file` };
  }
  if (directory === undefined || directory === '') {
    return {
      problem:
        `$CREDENTIALS_DIRECTORY is not set, so credential "${name}" cannot be read; ` + `run trellis as a systemd service with LoadCredential=${name}:/path/to/secret, or use ${key}_file instead`,
    };
  }
  const file = isAbsolute(directory) ? join(directory, name) : resolve(directory, name);
  try {
    return nonEmpty(await readFile(file, 'utf8'), `credential "${name}" (${file}) is empty`);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      return {
        problem: `credential "${name}" not found in $CREDENTIALS_DIRECTORY (${directory}); ` + `add LoadCredential=${name}:/path/to/secret to the service unit`,
      };
    }
    return { problem: describeReadError(error, `credential "${name}" (${file})`) };
  }
}

function nonEmpty(content: string, emptyProblem: string): ReadResult {
  // Editors and `echo` add a final newline that is not part of the secret.
  const value = content.replace(/[\r\n]+$/, '');
  return value === '' ? { problem: emptyProblem } : { value };
}

function errorCode(error: unknown): string | undefined {
  return isPlainObject(error) || error instanceof Error ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}

function describeReadError(error: unknown, what: string): string {
  switch (errorCode(error)) {
    case 'ENOENT':
      return `${what} not found; create it (readable only by the trellis user, mode 0600) or fix the path`;
    case 'EACCES':
    case 'EPERM':
      return `${what} is not readable by user ${userInfo().username}; fix its owner or mode`;
    case 'EISDIR':
      return `${what} is a directory; point to the file that holds the secret`;
    default:
      return `${what} cannot be read (${errorCode(error) ?? 'unknown error'})`;
  }
}
