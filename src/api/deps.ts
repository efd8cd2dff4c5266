/** What the management API needs from the daemon (ApiDeps), its URL prefix and its request body limits. */
import type { TrellisConfig } from '../config/schema.ts';
import type { Storage } from '../storage/database.ts';
import type { PluginRegistry } from '../core/plugin-registry.ts';
import type { Supervisor } from '../core/supervisor.ts';
import type { Management } from '../core/management.ts';
import type { LogHub, Logger } from '../core/logging.ts';
import type { Metrics } from '../core/metrics.ts';
import type { ErrorCounter } from '../core/health.ts';
import type { SessionTokens } from './session-tokens.ts';

/** What the management API needs from the daemon. */
export interface ApiDeps {
  config: () => TrellisConfig;
  storage: Storage;
  registry: PluginRegistry;
  supervisor: Supervisor;
  management: Management;
  logHub: LogHub;
  log: Logger;
  metrics: Metrics;
  errors: ErrorCounter;
  tokens: SessionTokens;
  startedAt: number;
  version: string;
}

export const API_PREFIX = '/_matrix/maubot/v1';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Request body limits (bodies are buffered in memory); anything larger gets a 413 before it is read. */
export const BODY_LIMITS = {
  /** Login and every small JSON request (the default). */
  small: 16 * KiB,
  /** An instance with its config. */
  instance: 1 * MiB,
  /** A bot account's avatar image. */
  avatar: 8 * MiB,
  /** A plugin archive (the archive reader applies its own, finer limits). */
  upload: 64 * MiB,
} as const;
