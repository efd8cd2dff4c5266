/** The database schema as Kysely types: one interface per table. */
import type { Generated } from 'kysely';

/**
 * Table shapes shared by the SQLite and PostgreSQL backends. Booleans are
 * stored as 0/1 integers and timestamps as epoch milliseconds so one set of
 * queries works on both.
 */
export interface ClientTable {
  id: string; // Matrix user id
  homeserver: string; // configured homeserver name, or '' when only the URL is known
  homeserver_url: string;
  access_token: string;
  device_id: string | null;
  display_name: string | null;
  avatar_url: string | null;
  sync_token: string | null;
  autojoin: number;
  autojoin_allow: string; // JSON array
  enabled: number;
  managed_by: 'api' | 'config';
  encryption: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface PluginTable {
  id: string;
  version: string;
  source: 'bundled' | 'uploaded';
  dir: string; // folder holding plugin.yaml and the entry module
  manifest: string; // JSON of the parsed manifest
  updated_at: number;
}

export interface InstanceTable {
  id: string;
  plugin_id: string;
  client_id: string;
  enabled: number;
  config: string; // JSON object
  rooms: string; // JSON array of room ids, '*' = every joined room
  senders: string; // JSON array of bot account user ids the instance may send as
  managed_by: 'api' | 'config';
  plugin_version: string | null; // the plugin version the config was last accepted by; null = not known
  created_at: number;
  updated_at: number;
}

export interface PluginStorageTable {
  instance_id: string;
  key: string;
  value: string; // JSON
  updated_at: number;
}

export interface HandledEventTable {
  client_id: string;
  event_id: string;
  handled_at: number;
}

export interface LogRecordTable {
  id: Generated<number>;
  time: number;
  level: string;
  message: string;
  instance_id: string | null;
  client_id: string | null;
  context: string | null; // JSON
}

/** Management API session tokens revoked by logout, kept until they would have expired anyway. */
export interface RevokedTokenTable {
  jti: string;
  expires_at: number; // epoch seconds, the token's own expiry
}

/** Named, long-lived management API tokens (never expire; revoked by deleting the row). */
export interface ApiTokenTable {
  name: string;
  hash: string; // SHA-256 (hex) of the token; the token itself is shown once and never stored
  created_at: number; // epoch ms
  last_used_at: number | null; // epoch ms, updated at most once a minute
}

export interface Database {
  clients: ClientTable;
  plugins: PluginTable;
  instances: InstanceTable;
  plugin_storage: PluginStorageTable;
  handled_events: HandledEventTable;
  log_records: LogRecordTable;
  revoked_tokens: RevokedTokenTable;
  api_tokens: ApiTokenTable;
}
