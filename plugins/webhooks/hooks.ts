/**
 * What a hook is, where it comes from and how it is checked. Hooks declared in
 * the instance config and hooks created over the admin API or by `!webhook`
 * (kept in storage) form one table; ids are the URL's secret part.
 */
import { randomUUID } from 'node:crypto';
import type { JsonValue, PluginStorage } from 'trellis/sdk';
import { FORMAT_NAMES, type FormatName } from './formats/index.ts';

export type HookFormat = 'generic' | FormatName;
export const HOOK_FORMATS: readonly HookFormat[] = ['generic', ...FORMAT_NAMES];

/** A hook as declared in the instance config (snake_case, schema defaults applied). */
export interface ConfigHook {
  id?: string;
  name: string;
  room: string;
  sender: string;
  format: HookFormat;
  transform: string;
  expires: string;
  allow_get: boolean;
  rate_limit_per_minute: number;
}

/** A hook created over the API or by a command: the same fields plus who made it. */
export interface StoredHook extends Omit<ConfigHook, 'id'> {
  id: string;
  created_by: string;
  created_at: number;
}

export interface Hook extends StoredHook {
  source: 'config' | 'api' | 'command';
  /** Parsed `expires`; null = never. */
  expiresAt: number | null;
}

/** The shared secret or HMAC key a request must prove; kept apart from the hook so no listing shows it. */
export interface HookSecret {
  /** Compared with `Authorization: Bearer …` or `X-Gitlab-Token`. */
  token?: string;
  /** Key of GitHub's `X-Hub-Signature-256: sha256=<hex HMAC of the body>`. */
  hmac?: string;
}

const ID = /^[A-Za-z0-9_-]{8,128}$/;
const ROOM = /^![^\s]+$/;
const USER = /^@[^\s:]+:[^\s]+$/;

export const keys = {
  hook: (id: string) => `hook:${id}`,
  configId: (name: string, room: string) => `config-id:${room}:${name}`,
  secret: (id: string) => `secret:${id}`,
};

/** `30m`, `12h`, `7d`, `2w` → milliseconds; null when it is no duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,6})\s*(m|min|h|d|w)$/i.exec(text.trim());
  if (!m) return null;
  const unit = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2].toLowerCase() as 'm'];
  const ms = Number(m[1]) * unit;
  return ms > 0 ? ms : null;
}

/** The problems of a hook's fields, each naming the field and what to give instead. */
export function hookProblems(hook: Partial<ConfigHook>): string[] {
  const problems: string[] = [];
  if (hook.id !== undefined && !ID.test(hook.id)) problems.push('id: 8–128 letters, digits, "-" or "_" (or leave it out for a random one)');
  if (typeof hook.name !== 'string' || hook.name.trim().length < 3 || hook.name.length > 64) problems.push('name: 3–64 characters');
  if (typeof hook.room !== 'string' || !ROOM.test(hook.room)) problems.push('room: a room id such as !abc:example.org');
  if (hook.sender && !USER.test(hook.sender)) problems.push('sender: a bot account user id such as @alerts:example.org, or empty');
  if (hook.format !== undefined && !HOOK_FORMATS.includes(hook.format)) problems.push(`format: one of ${HOOK_FORMATS.join(', ')}`);
  if (hook.expires && Number.isNaN(Date.parse(hook.expires))) problems.push('expires: an ISO date-time such as 2027-01-31T00:00:00Z, or empty');
  if (hook.rate_limit_per_minute !== undefined && (!Number.isInteger(hook.rate_limit_per_minute) || hook.rate_limit_per_minute < 0)) {
    problems.push('rate_limit_per_minute: a whole number ≥ 0 (0 = no limit)');
  }
  if (hook.transform !== undefined && typeof hook.transform !== 'string') problems.push('transform: JavaScript source text');
  return problems;
}

export function withDefaults(input: Partial<ConfigHook> & { name: string; room: string }): Omit<ConfigHook, 'id'> {
  return {
    name: input.name.trim(),
    room: input.room,
    sender: input.sender ?? '',
    format: input.format ?? 'generic',
    transform: input.transform ?? '',
    expires: input.expires ?? '',
    allow_get: input.allow_get ?? false,
    rate_limit_per_minute: input.rate_limit_per_minute ?? 600,
  };
}

function toHook(stored: StoredHook, source: Hook['source']): Hook {
  return { ...stored, source, expiresAt: stored.expires ? Date.parse(stored.expires) : null };
}

/** Every hook of the instance by id: the config's (with their kept random ids) and the stored ones. */
export class HookTable {
  readonly #storage: PluginStorage;
  #byId = new Map<string, Hook>();

  constructor(storage: PluginStorage) {
    this.#storage = storage;
  }

  get(id: string): Hook | undefined {
    return this.#byId.get(id);
  }

  all(): Hook[] {
    return [...this.#byId.values()];
  }

  inRoom(room: string): Hook[] {
    return this.all().filter((h) => h.room === room);
  }

  byName(room: string, name: string): Hook | undefined {
    return this.all().find((h) => h.room === room && h.name.toLowerCase() === name.toLowerCase());
  }

  /** Rebuilds the table from the config's hooks and storage; returns the problems (duplicate ids or names), each skipping that hook. */
  async load(configHooks: readonly ConfigHook[]): Promise<string[]> {
    const problems: string[] = [];
    const next = new Map<string, Hook>();
    const add = (hook: Hook) => {
      if (next.has(hook.id)) return problems.push(`hook "${hook.name}": id ${hook.id.slice(0, 8)}… is used by another hook; skipped`);
      if ([...next.values()].some((h) => h.room === hook.room && h.name.toLowerCase() === hook.name.toLowerCase())) {
        return problems.push(`hook "${hook.name}": another hook in ${hook.room} has that name; skipped`);
      }
      next.set(hook.id, hook);
    };
    for (const declared of configHooks) {
      const id = declared.id ?? (await this.#keptId(declared));
      add(toHook({ ...withDefaults(declared), id, created_by: 'config', created_at: 0 }, 'config'));
    }
    for (const { value } of await this.#storage.list<JsonValue>('hook:')) {
      const stored = value as unknown as StoredHook;
      add(toHook(stored, stored.created_by.startsWith('@') ? 'command' : 'api'));
    }
    this.#byId = next;
    return problems;
  }

  /** A config hook without an id keeps the random one it got first (by room and name), so its URL survives restarts. */
  async #keptId(hook: ConfigHook): Promise<string> {
    const key = keys.configId(hook.name.trim().toLowerCase(), hook.room);
    const kept = await this.#storage.get<string>(key);
    if (kept) return kept;
    const id = randomUUID();
    await this.#storage.set(key, id);
    return id;
  }

  /** Stores a new hook (API or command); the caller checked it. */
  async create(fields: Omit<ConfigHook, 'id'>, createdBy: string, id: string = randomUUID()): Promise<Hook> {
    const stored: StoredHook = { ...fields, id, created_by: createdBy, created_at: Date.now() };
    await this.#storage.set(keys.hook(id), stored as unknown as JsonValue);
    const hook = toHook(stored, createdBy.startsWith('@') ? 'command' : 'api');
    this.#byId.set(id, hook);
    return hook;
  }

  async update(hook: Hook, fields: Omit<ConfigHook, 'id'>): Promise<Hook> {
    const stored: StoredHook = { ...fields, id: hook.id, created_by: hook.created_by, created_at: hook.created_at };
    await this.#storage.set(keys.hook(hook.id), stored as unknown as JsonValue);
    const next = toHook(stored, hook.source);
    this.#byId.set(hook.id, next);
    return next;
  }

  async remove(hook: Hook): Promise<void> {
    await this.#storage.delete(keys.hook(hook.id));
    await this.#storage.delete(keys.secret(hook.id));
    this.#byId.delete(hook.id);
  }

  async secret(id: string): Promise<HookSecret> {
    return ((await this.#storage.get(keys.secret(id))) as HookSecret | undefined) ?? {};
  }

  async setSecret(id: string, secret: HookSecret): Promise<void> {
    if (!secret.token && !secret.hmac) await this.#storage.delete(keys.secret(id));
    else await this.#storage.set(keys.secret(id), secret as unknown as JsonValue);
  }
}
