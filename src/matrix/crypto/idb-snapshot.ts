/**
 * Dump and restore of in-memory IndexedDB databases (fake-indexeddb), so the
 * Rust crypto store, which only knows IndexedDB, survives a process restart.
 * The values are already encrypted by the crypto store with the client's
 * store key; this module only moves them.
 */
import { open, rename, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';

/* Minimal structural types: the project does not load the DOM lib. */
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
  transaction: IdbTransaction | null;
}
interface IdbIndex {
  name: string;
  keyPath: string | string[];
  unique: boolean;
  multiEntry: boolean;
}
interface IdbStore {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexNames: Iterable<string>;
  index(name: string): IdbIndex;
  getAll(): IdbRequest<unknown[]>;
  getAllKeys(): IdbRequest<unknown[]>;
  put(value: unknown, key?: unknown): IdbRequest<unknown>;
  createIndex(name: string, keyPath: string | string[], options: { unique: boolean; multiEntry: boolean }): IdbIndex;
}
interface IdbTransaction {
  objectStore(name: string): IdbStore;
  abort(): void;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  error: unknown;
}
interface IdbDatabase {
  name: string;
  version: number;
  objectStoreNames: Iterable<string>;
  transaction(stores: string[], mode?: 'readonly' | 'readwrite'): IdbTransaction;
  createObjectStore(name: string, options: { keyPath?: string | string[] | null; autoIncrement: boolean }): IdbStore;
  close(): void;
}
export interface IdbFactory {
  open(name: string, version?: number): IdbOpenRequest;
  deleteDatabase(name: string): IdbRequest<unknown> & { onblocked: (() => void) | null };
  databases(): Promise<Array<{ name?: string; version?: number }>>;
}

export interface StoreDump {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: Array<{ name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }>;
  keys: unknown[];
  values: unknown[];
}

export interface DatabaseDump {
  name: string;
  version: number;
  stores: StoreDump[];
}

function done<T>(req: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function finished(tx: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/** Opens an existing database; null when it is gone (opening by name alone would create it empty). */
function openExisting(factory: IdbFactory, name: string): Promise<IdbDatabase | null> {
  const req = factory.open(name);
  req.onupgradeneeded = () => req.transaction?.abort();
  return new Promise((resolve) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => resolve(null);
  });
}

/** Every database whose name starts with `prefix`, each read in one transaction (a consistent view). */
export async function dumpDatabases(factory: IdbFactory, prefix: string): Promise<DatabaseDump[]> {
  const dumps: DatabaseDump[] = [];
  for (const info of await factory.databases()) {
    if (!info.name?.startsWith(prefix)) continue;
    const db = await openExisting(factory, info.name);
    if (!db) continue;
    try {
      const names = [...db.objectStoreNames];
      const stores: StoreDump[] = [];
      if (names.length > 0) {
        const tx = db.transaction(names, 'readonly');
        const reads = names.map(async (name) => {
          const store = tx.objectStore(name);
          const indexes = [...store.indexNames].map((n) => {
            const index = store.index(n);
            return { name: index.name, keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry };
          });
          const [keys, values] = await Promise.all([done(store.getAllKeys()), done(store.getAll())]);
          stores.push({ name, keyPath: store.keyPath, autoIncrement: store.autoIncrement, indexes, keys, values });
        });
        await Promise.all([...reads, finished(tx)]);
      }
      dumps.push({ name: db.name, version: db.version, stores });
    } finally {
      db.close();
    }
  }
  return dumps;
}

/** Recreates the databases exactly as dumped, replacing any of the same name (once nothing holds it open). */
export async function restoreDatabases(factory: IdbFactory, dumps: DatabaseDump[]): Promise<void> {
  for (const dump of dumps) {
    await deleted(factory, dump.name, true);
    const req = factory.open(dump.name, dump.version);
    req.onupgradeneeded = () => {
      const db = req.result;
      for (const s of dump.stores) {
        const store = db.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
        for (const i of s.indexes) store.createIndex(i.name, i.keyPath, { unique: i.unique, multiEntry: i.multiEntry });
      }
    };
    const db = await done(req);
    try {
      const names = dump.stores.map((s) => s.name);
      if (names.length === 0) continue;
      const tx = db.transaction(names, 'readwrite');
      for (const s of dump.stores) {
        const store = tx.objectStore(s.name);
        // In-line keys come from the value itself; out-of-line keys must be passed.
        s.values.forEach((value, i) => (s.keyPath === null ? store.put(value, s.keys[i]) : store.put(value)));
      }
      await finished(tx);
    } finally {
      db.close();
    }
  }
}

/**
 * Deletes a database. While a connection to it is still open the delete is
 * blocked: with `wait` this waits for that connection to close; otherwise it
 * reports the database to `onBlocked` and resolves, leaving the delete queued
 * (it completes once the connection closes).
 */
function deleted(factory: IdbFactory, name: string, wait: boolean, onBlocked?: (name: string) => void): Promise<void> {
  const req = factory.deleteDatabase(name);
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => {
      if (wait) return;
      onBlocked?.(name);
      resolve();
    };
  });
}

/**
 * Deletes the databases whose names start with `prefix`, without waiting for
 * one that a connection still holds (reported to `onBlocked`).
 *
 * Why not wait: a blocked delete stays in fake-indexeddb's queue for that
 * name until the connection closes, whether or not anyone waits for it, and
 * a connection the crypto library leaked (it keeps one after a failed open
 * with a wrong key) never closes. Waiting hung the caller forever; giving up
 * after a timeout, as before, still left every later open of the same name
 * queued behind the delete, hanging without an error (an account stuck at
 * `starting`). The crypto stores therefore never reuse a name (bot-crypto.ts)
 * and only their owner deletes them, once closed, so a leftover delete can
 * block no one.
 */
export async function deleteDatabases(factory: IdbFactory, prefix: string, onBlocked?: (name: string) => void): Promise<void> {
  for (const info of await factory.databases()) {
    if (info.name?.startsWith(prefix)) await deleted(factory, info.name, false, onBlocked);
  }
}

/** Written to a temporary file, flushed and renamed, so a crash leaves the old or the new snapshot, never half of one. */
export async function writeSnapshotFile(path: string, data: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(serialize(data));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** The snapshot's content, or null when there is no file yet. */
export async function readSnapshotFile(path: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return deserialize(bytes) as unknown;
}
