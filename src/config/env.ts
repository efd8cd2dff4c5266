/**
 * Environment overrides: `TRELLIS__SERVER__PORT=8080` sets `server.port`
 * (segments separated by `__`, lowercased), plus the short aliases
 * TRELLIS_PORT, TRELLIS_HOST and TRELLIS_PUBLIC_PORT, which win over the long forms.
 *
 * Values stay strings here; the schema coerces them where it expects a number
 * or a boolean.
 */
import { isPlainObject, type PlainObject, type Problem } from './problems.ts';
import { SECRET_SUFFIXES, secretBaseKey } from './secrets.ts';

const PREFIX = 'TRELLIS__';
const ALIASES: Record<string, string[]> = {
  TRELLIS_HOST: ['server', 'host'],
  TRELLIS_PORT: ['server', 'port'],
  TRELLIS_PUBLIC_PORT: ['public', 'port'],
};

export interface EnvOverride {
  variable: string;
  path: string[];
}

export interface AppliedOverrides {
  applied: EnvOverride[];
  problems: Problem[];
}

export function applyEnvOverrides(root: PlainObject, env: NodeJS.ProcessEnv): AppliedOverrides {
  const overrides: (EnvOverride & { value: string })[] = [];
  const problems: Problem[] = [];
  for (const [variable, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (value === undefined || !variable.startsWith(PREFIX)) continue;
    const path = variable.slice(PREFIX.length).toLowerCase().split('__');
    if (path.some((segment) => segment === '')) {
      problems.push({ path: [], message: `environment variable ${variable}: empty key between "__" separators` });
      continue;
    }
    overrides.push({ variable, path, value });
  }
  for (const [variable, path] of Object.entries(ALIASES)) {
    const value = env[variable];
    if (value !== undefined) overrides.push({ variable, path, value });
  }

  const setByEnv = new Set<string>();
  const applied: EnvOverride[] = [];
  for (const { variable, path, value } of overrides) {
    const parent = ensureParent(root, path);
    if (typeof parent === 'string') {
      problems.push({ path: [], message: `environment variable ${variable}: ${parent} is not a map, cannot set a key inside it` });
      continue;
    }
    const key = path.at(-1) as string;
    parent[key] = value;
    setByEnv.add(path.join('\0'));
    // An override of a secret replaces whichever form the file used, instead
    // of tripping the "given more than one way" check.
    const base = secretBaseKey(path);
    if (base !== null) {
      for (const form of [base, ...SECRET_SUFFIXES.map((s) => base + s)]) {
        const formPath = [...path.slice(0, -1), form];
        if (form !== key && !setByEnv.has(formPath.join('\0'))) delete parent[form];
      }
    }
    applied.push({ variable, path });
  }
  return { applied, problems };
}

/** The object that should hold the last segment, creating maps on the way; or the blocking path. */
function ensureParent(root: PlainObject, path: readonly string[]): PlainObject | string {
  let current = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string;
    const next = current[key];
    if (next === undefined || next === null) {
      const created: PlainObject = {};
      current[key] = created;
      current = created;
    } else if (isPlainObject(next)) {
      current = next;
    } else {
      return path.slice(0, i + 1).join('.');
    }
  }
  return current;
}
