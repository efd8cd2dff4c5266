/**
 * The shape of the Trellis configuration file.
 *
 * Keys stay snake_case, exactly as in the YAML, so a problem's path in an error
 * message is the path the operator has to edit. Secrets arrive here already
 * resolved (see secrets.ts): by the time this schema runs, `token_secret_file`
 * has become `token_secret`.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { KEY_SHARING, type KeySharing } from '../matrix/crypto/key-sharing.ts';
import { passwordHashProblem } from './password-policy.ts';

/**
 * Every key that may hold a secret; `*` matches any key of a map. Each may be
 * given inline, as `<key>_file` or as `<key>_credential`.
 */
export const SECRET_KEY_PATHS: readonly string[] = [
  'server.token_secret',
  'database.url',
  'homeservers.*.registration_token',
  'homeservers.*.shared_secret',
  'clients.*.access_token',
  'crypto.pickle_key',
];

export const HOMESERVER_NAME = /^[a-z0-9][a-z0-9_-]*$/;
export const INSTANCE_ID = /^[a-z0-9][a-z0-9_.-]*$/;
export const USER_ID = /^@.+:.+$/;
// Room version 12 ids are "!hash" without a server part; older ones are "!opaque:server".
export const ROOM_ID = /^![^\s:]+(:.+)?$/;
/** A server name as in Matrix ids: hostname or IP, optional port. */
const SERVER_NAME = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;
const PLUGIN_ID = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/;

// Environment overrides arrive as strings; coerce only strings that are
// unambiguously numbers or booleans so a typo still fails validation.
function numberFromString(value: unknown): unknown {
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  return value;
}

function booleanFromString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lowered = value.trim().toLowerCase();
  if (lowered === 'true' || lowered === '1' || lowered === 'yes') return true;
  if (lowered === 'false' || lowered === '0' || lowered === 'no') return false;
  return value;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.preprocess(numberFromString, z.number().int().min(min).max(max));
const bool = () => z.preprocess(booleanFromString, z.boolean());
const nonEmpty = () => z.string().min(1, { error: 'must not be empty' });
const secret = () => z.string().min(1, { error: 'must not be empty' });

const httpUrl = z
  .string()
  .superRefine((value, ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL' });
      return;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'not a URL: must start with http:// or https://' });
    }
  })
  // The Matrix client appends API paths to it; a trailing slash would double up.
  .transform((value) => value.replace(/\/+$/, ''));

const userId = z.string().regex(USER_ID, { error: 'not a Matrix user id (expected @localpart:server.name)' });
const roomId = z.string().regex(ROOM_ID, { error: 'not a Matrix room id (expected !opaque:server.name or, from room version 12, !opaque)' });

const server = z.strictObject({
  host: nonEmpty().default('127.0.0.1'),
  port: int(0, 65535).default(29316),
  token_secret: secret().min(32, {
    error: 'too short (at least 32 characters); generate one with: openssl rand -base64 32',
  }),
  token_ttl_seconds: int(60).default(86400),
  /** /metrics without a bearer token (it names bots and instances): only for a scraper on a trusted network. */
  public_metrics: bool().default(false),
  /**
   * Reverse proxies whose X-Forwarded-For is believed (IP addresses or CIDR ranges), so the login
   * throttle sees each client's own address instead of the proxy's. Empty: the peer address counts.
   */
  trusted_proxies: z.array(z.string().refine((v) => isIP(v.split('/')[0] ?? '') !== 0, { error: 'expected an IP address or CIDR range, e.g. 127.0.0.1 or 10.0.0.0/8' })).default([]),
});

/**
 * The public listener: plugin web endpoints (webhooks) and nothing else of Trellis. Separate from
 * `server`, which stays on loopback; usually behind a reverse proxy that forwards /webhook/ etc.
 */
const publicListener = z.strictObject({
  host: nonEmpty().default('127.0.0.1'),
  // Not 0: the public URLs plugins hand out (webhook URLs) are known before it listens.
  port: int(1, 65535),
  /** The URL people and services use to reach this listener (the reverse proxy's); default http://host:port. */
  base_url: httpUrl.optional(),
  /** The largest request body a plugin endpoint takes (bytes); larger ones get 413. */
  max_body_bytes: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
});

const database = z
  .strictObject({
    type: z.enum(['sqlite', 'postgres']).default('sqlite'),
    path: nonEmpty().default('trellis.db'),
    url: secret().optional(),
  })
  .superRefine((db, ctx) => {
    if (db.type === 'postgres' && db.url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'required when type is postgres (give url, url_file or url_credential)',
      });
    }
    if (db.type === 'sqlite' && db.url !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'only used when type is postgres; remove it' });
    }
  });

const admin = z.strictObject({
  username: nonEmpty(),
  password_hash: z.string().superRefine((value, ctx) => {
    const problem = passwordHashProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
});

const homeserver = z.strictObject({
  url: httpUrl,
  registration_token: secret().optional(),
  shared_secret: secret().optional(),
});

const logging = z.strictObject({
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  keep_records: int(100).default(5000),
});

const notifications = z.strictObject({
  admin_room: roomId,
  client: userId,
  min_level: z.enum(['warn', 'error', 'critical']).default('error'),
  dedupe_seconds: int(0).default(600),
  max_per_minute: int(1).default(5),
});

/** Which devices of the room's members get the bot's room keys (see docs/e2ee.md); defined by the crypto layer. */
export { KEY_SHARING };
const keySharing = z.enum(KEY_SHARING, { error: 'expected "all" (every device of joined members) or "cross_signed" (only devices their owner signed)' });

const crypto = z.strictObject({
  pickle_key: secret().optional(),
  /** Default for every encrypted account; clients.<id>.key_sharing overrides it. */
  key_sharing: keySharing.default('all'),
});

/** How far back a bot catches up on a room after downtime or a burst (see docs/architecture.md). */
const sync = z.strictObject({
  catch_up: z
    .strictObject({
      max_age_hours: z.preprocess(numberFromString, z.number().positive({ error: 'expected a number of hours above 0' })).default(24),
      max_events: int(1).default(10_000),
    })
    .prefault({}),
});

const client = z.strictObject({
  homeserver: nonEmpty(),
  access_token: secret(),
  device_id: nonEmpty().optional(),
  display_name: nonEmpty().optional(),
  autojoin: bool().default(true),
  /** End-to-end encryption (Olm/Megolm) for this account; off means no crypto work at all. */
  encryption: bool().default(true),
  key_sharing: keySharing.optional(),
  autojoin_allow: z
    .array(
      z.string().refine((entry) => USER_ID.test(entry) || SERVER_NAME.test(entry), {
        error: 'expected a user id (@user:example.org) or a server name (example.org)',
      }),
    )
    .default([]),
});

const instance = z.strictObject({
  plugin: z.string().regex(PLUGIN_ID, { error: 'not a plugin id (expected reverse-domain form like org.trellis.ping)' }),
  client: userId,
  enabled: bool().default(true),
  rooms: z.array(
    z.string().refine((room) => room === '*' || ROOM_ID.test(room), {
      error: 'expected a room id (!opaque:server.name) or "*" for every room the bot is in',
    }),
    { error: 'expected a list of room ids, or ["*"] for every room the bot is in' },
  ),
  /** Other bot accounts the instance may send as (a plugin's ctx.matrixAs), e.g. one per webhook service. */
  senders: z.array(userId).default([]),
  config: z.record(z.string(), z.unknown()).default({}),
});

export const trellisConfigSchema = z.strictObject({
  server,
  public: publicListener.optional(),
  data_dir: nonEmpty().default('data'),
  database: database.prefault({}),
  admin,
  homeservers: z
    .record(
      z.string().regex(HOMESERVER_NAME, {
        error: 'invalid homeserver name; use lowercase letters, digits, "-" and "_", starting with a letter or digit',
      }),
      homeserver,
    )
    .default({}),
  /**
   * The rooms of an instance created without `rooms` (through the API, as
   * maubot's clients do): `all` (as maubot: every room its bot is in) or
   * `none` (it hears no room until rooms are given).
   */
  instances_default_rooms: z.enum(['all', 'none'], { error: 'expected "all" (every room the bot is in, as maubot) or "none"' }).default('all'),
  logging: logging.prefault({}),
  notifications: notifications.optional(),
  crypto: crypto.prefault({}),
  sync: sync.prefault({}),
  clients: z.record(z.string().regex(USER_ID, { error: 'invalid client key; expected a Matrix user id like @bot:example.org' }), client).default({}),
  instances: z
    .record(
      z.string().regex(INSTANCE_ID, {
        error: 'invalid instance id; use lowercase letters, digits, ".", "-" and "_", starting with a letter or digit',
      }),
      instance,
    )
    .default({}),
});

export type TrellisConfig = z.output<typeof trellisConfigSchema>;
export type HomeserverConfig = TrellisConfig['homeservers'][string];
export type ClientConfig = TrellisConfig['clients'][string];
export type InstanceConfig = TrellisConfig['instances'][string];
export type { KeySharing };
export type PublicListenerConfig = NonNullable<TrellisConfig['public']>;
export type NotificationsConfig = NonNullable<TrellisConfig['notifications']>;
