/** A single thing wrong with the configuration, located by its key path. */
export interface Problem {
  path: readonly (string | number)[];
  message: string;
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * `homeservers.main.url`, `instances.ping.rooms[1]`, and
 * `clients["@ping:example.org"].homeserver` for keys that contain dots or
 * colons, so the path stays unambiguous.
 */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function formatProblem(problem: Problem): string {
  return problem.path.length === 0 ? problem.message : `${formatPath(problem.path)}: ${problem.message}`;
}

/** Thrown by loadConfig; `problems` lists every problem found, not just the first. */
export class ConfigError extends Error {
  readonly path: string;
  readonly problems: string[];

  constructor(path: string, problems: string[], summary?: string) {
    super(summary ?? `Invalid configuration in ${path}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.path = path;
    this.problems = problems;
  }
}

export type PlainObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
