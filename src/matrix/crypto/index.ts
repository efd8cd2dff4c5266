/** End-to-end encryption for bot accounts: Rust crypto (WebAssembly) with a store that survives restarts. */
export { BotCrypto, CryptoClosedError, CryptoStoreError, PENDING_DECRYPTION_MS, snapshotFileName } from './bot-crypto.ts';
export type { BotCryptoOptions, CryptoStatus } from './bot-crypto.ts';
export { loadCryptoRuntime } from './runtime.ts';
export { KEY_SHARING } from './key-sharing.ts';
export type { KeySharing } from './key-sharing.ts';
