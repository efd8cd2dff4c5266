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
