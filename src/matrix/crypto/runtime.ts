/**
 * Loads the WebAssembly crypto (and the in-memory IndexedDB it stores into)
 * on first use only: a daemon whose clients all have encryption off never
 * pays the ~35 MB it costs.
 */
import type { IdbFactory } from './idb-snapshot.ts';

export type CryptoModule = typeof import('@matrix-org/matrix-sdk-crypto-wasm');

let loading: Promise<CryptoModule> | null = null;

export function loadCryptoRuntime(): Promise<CryptoModule> {
  loading ??= (async () => {
    // The Rust crypto store finds IndexedDB and its classes on the global object (what fake-indexeddb/auto does).
    const fake = (await import('fake-indexeddb')) as unknown as Record<string, unknown>;
    for (const name of [
      'indexedDB',
      'IDBCursor',
      'IDBCursorWithValue',
      'IDBDatabase',
      'IDBFactory',
      'IDBIndex',
      'IDBKeyRange',
      'IDBObjectStore',
      'IDBOpenDBRequest',
      'IDBRecord',
      'IDBRequest',
      'IDBTransaction',
      'IDBVersionChangeEvent',
    ]) {
      if (name in globalThis) continue;
      Object.defineProperty(globalThis, name, { value: fake[name], enumerable: false, configurable: true, writable: true });
    }
    const mod = await import('@matrix-org/matrix-sdk-crypto-wasm');
    await mod.initAsync();
    return mod;
  })();
  return loading;
}

/** The process-wide IndexedDB the crypto stores live in; only valid after loadCryptoRuntime(). */
export function cryptoIndexedDb(): IdbFactory {
  const factory = (globalThis as { indexedDB?: IdbFactory }).indexedDB;
  if (!factory) throw new Error('the crypto runtime is not loaded');
  return factory;
}
