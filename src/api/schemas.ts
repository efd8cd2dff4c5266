/**
 * Every shape of the management API, in one place: what a request may carry
 * (body, query string, path parameters), checked before its handler runs,
 * which then gets it typed; and what each route answers, per status code,
 * errors included. The routes name these as their Fastify schemas
 * (`typed-routes.ts` checks requests with them and turns them into the
 * OpenAPI document at /openapi.json), `serialize.ts` builds the responses as
 * these types, and the console imports the types (type-only: none of this is
 * bundled). Hence the imports: zod, yaml and dependency-free modules only.
 *
 * Field names are snake_case and follow maubot's management API where it has
 * the same concept. A request check names each bad field and what it must
 * be; fields a schema does not list are ignored, not refused (maubot's
 * clients send more than Trellis reads).
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { KEY_SHARING } from '../matrix/crypto/key-sharing.ts';
import { errorMessage } from '../shared/error-message.ts';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);
}

// ---- requests ----

/** The message of the 400 a request schema's problems are listed under ("invalid instance"). */
export const requestError = z.registry<{ error: string }>();

/**
 * A JSON request body. No body, or one that is not an object, counts as `{}`
 * and its fields as absent: what the hand-written checks these schemas
 * replaced did, so a request they took is still taken.
 */
function jsonBody<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess((value) => (isPlainObject(value) ? value : {}), z.object(shape));
}

const trueOrFalse = () => z.boolean({ error: 'must be true or false' });

/** A string field of maubot's API that counts as absent when it is anything else (as it always did: maubot's clients may send null). */
const ifString = (description: string) => z.string().optional().catch(undefined).meta({ description });

/** The body schemas of routes that take their body raw, whatever its Content-Type (server.ts hands them the bytes, never parsed as JSON). */
export const RAW_BODIES = new WeakSet<z.ZodType>();

/** A raw request body (archive, image): checked to be there, typed as bytes. */
const rawBody = (error: string, description: string) => {
  const schema = z.custom<Uint8Array>((value) => value instanceof Uint8Array && value.length > 0, { error }).meta({ type: 'string', format: 'binary', description });
  RAW_BODIES.add(schema);
  return schema;
};

/** `POST /tokens`: a named, long-lived API token. */
export const NewApiTokenBody = z
  .object({ name: z.string({ error: 'required: a name for the token, e.g. "ci"' }).meta({ description: '1 to 64 letters, digits, "_", "." or "-"' }) }, { error: 'send {"name": …} as a JSON object' })
  .register(requestError, { error: 'invalid token request' });

export const TokenNameParams = z.object({ name: z.string() });

export const LoginBody = z
  .object(
    {
      username: z.string({ error: 'required: the admin username' }).max(256, { error: 'at most 256 characters' }),
      password: z.string({ error: 'required: the admin password' }).max(1024, { error: 'at most 1024 characters' }),
    },
    { error: 'send {"username": …, "password": …} as a JSON object' },
  )
  .register(requestError, { error: 'invalid login' });

/**
 * An instance's config: a JSON object, or (as maubot sends it) a YAML mapping
 * string, parsed here. The object itself is passed on as sent: the plugin's
 * config schema checks it.
 */
const InstanceConfigInput = z
  .union([z.string(), z.custom<Record<string, unknown>>(isPlainObject).meta({ type: 'object', additionalProperties: true })], {
    error: 'must be an object (or a YAML mapping string)',
  })
  .transform((value, ctx): Record<string, unknown> => {
    if (typeof value !== 'string') return value;
    let parsed: unknown;
    try {
      parsed = value.trim() ? parseYaml(value) : {};
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not valid YAML: ${errorMessage(err)}` });
      return z.NEVER;
    }
    if (isPlainObject(parsed)) return parsed;
    ctx.addIssue({ code: 'custom', message: 'must be an object (or a YAML mapping string)' });
    return z.NEVER;
  })
  .meta({ description: "The plugin's config, checked against the plugin's config schema (a YAML mapping string is accepted too, as maubot sends it)" });

/** `PUT /instance/{id}`: every field is optional on an update; a new instance needs `type` and `primary_user`. */
export const InstanceBody = jsonBody({
  type: z.string({ error: 'must be a plugin id string' }).optional().meta({ description: 'The plugin id' }),
  primary_user: z.string({ error: 'must be a user id string' }).optional().meta({ description: 'The bot account (its user id) the instance runs on' }),
  enabled: trueOrFalse().optional(),
  // Each entry is checked by management.ts, which names every bad one together with the other problems.
  rooms: z
    .array(z.unknown(), { error: 'must be a list' })
    .meta({ items: { type: 'string' }, description: 'Room ids the instance answers in (at most 1000), or ["*"] for every room the bot is in' })
    .optional(),
  senders: z
    .array(z.unknown(), { error: 'must be a list' })
    .meta({ items: { type: 'string' }, description: 'Trellis: other bot accounts (user ids) the instance may send as, e.g. one per webhook service' })
    .optional(),
  config: InstanceConfigInput.optional(),
  started: trueOrFalse().optional().meta({ description: 'false stops the instance, true (alone) starts it' }),
}).register(requestError, { error: 'invalid instance' });

const AUTOJOIN_ALLOW = 'must be a list of user ids or server names';

/** The settings of a bot account any of the client routes may set. */
const clientSettings = {
  displayname: z.string({ error: 'must be a string' }).nullable().optional().meta({ description: 'Display name (null: unchanged; "disable": not managed here)' }),
  display_name: z.string({ error: 'must be a string' }).nullable().optional().meta({ description: 'Same as displayname, read when that is absent' }),
  avatar_url: z
    .string({ error: 'must be an mxc:// string' })
    .nullable()
    .optional()
    .meta({ description: 'An mxc:// URI (upload an image with PUT /client/{id}/avatar or the media proxy); null: unchanged; "disable": not managed here' }),
  autojoin: trueOrFalse().optional().meta({ description: 'Join rooms the bot is invited to' }),
  enabled: trueOrFalse().optional(),
  encryption: trueOrFalse().optional().meta({ description: 'End-to-end encryption (default on for a new account)' }),
  autojoin_allow: z
    .array(z.string({ error: AUTOJOIN_ALLOW }), { error: AUTOJOIN_ALLOW })
    .optional()
    .meta({ description: 'Whose invites are accepted: user ids or server names (empty: anyone)' }),
};

/** `PUT /client/{id}`: changes the settings; with `access_token` (and, for a new account, `homeserver`) adds or re-tokens the account. */
export const ClientBody = jsonBody({
  homeserver: ifString('A configured homeserver name or a URL (to create the account)'),
  access_token: ifString("The bot's access token (to create the account or replace its token)"),
  device_id: ifString('The device the access token must be for (checked, as maubot)'),
  started: trueOrFalse().optional().meta({ description: 'Starts or stops syncing now, without changing enabled' }),
  online: trueOrFalse().optional().meta({ description: 'Accepted and ignored (maubot: set presence); Trellis does not manage presence' }),
  sync: trueOrFalse().optional().meta({ description: 'Accepted and ignored (maubot: sync on/off); an enabled Trellis account always syncs' }),
  ...clientSettings,
}).register(requestError, { error: 'invalid bot account settings' });

/** `POST /client/new` */
export const NewClientBody = jsonBody({
  homeserver: ifString('A configured homeserver name or a URL'),
  access_token: ifString("The bot's access token"),
  device_id: ifString('The device the access token must be for (checked, as maubot)'),
  online: trueOrFalse().optional().meta({ description: 'Accepted and ignored (Trellis does not manage presence)' }),
  sync: trueOrFalse().optional().meta({ description: 'Accepted and ignored (an enabled account always syncs)' }),
  ...clientSettings,
})
  .transform((body, ctx) => {
    const { homeserver, access_token } = body;
    if (homeserver && access_token) return { ...body, homeserver, access_token };
    ctx.addIssue({ code: 'custom', message: 'homeserver (a configured name or URL) and access_token are required' });
    return z.NEVER;
  })
  .meta({ required: ['homeserver', 'access_token'] })
  .register(requestError, { error: 'invalid bot account settings' });

/** `POST /client/auth/{server}/register|login` */
export const ClientAuthBody = jsonBody({
  username: ifString('The Matrix localpart'),
  password: ifString("The account's password"),
  device_name: ifString('login only: the new device\'s display name (default "Trellis bot")'),
  user_type: ifString("register only: accepted as maubot does, not sent on (Synapse's user_type)"),
  method: z
    .enum(['token', 'shared_secret'], { error: 'must be "token" or "shared_secret"' })
    .optional()
    .meta({ description: "register only: a registration token or the homeserver's shared secret (default: whichever is configured)" }),
  registration_token: z.string({ error: 'must be a string' }).optional().meta({ description: "register only: instead of the homeserver's configured one" }),
  ...clientSettings,
})
  .transform((body, ctx) => {
    const { username, password } = body;
    if (username && password) return { ...body, username, password };
    ctx.addIssue({ code: 'custom', message: 'username and password are required' });
    return z.NEVER;
  })
  .meta({ required: ['username', 'password'] })
  .register(requestError, { error: 'invalid bot account settings' });

/** `POST /client/auth/{server}/register|login`: what to do with the account (maubot's query). */
export const ClientAuthQuery = z.object({
  update_client: z
    .string()
    .optional()
    .transform((value) => value === 'true')
    .meta({ description: '"true" adds (201) or updates (202) the bot account; otherwise nothing is saved and the answer is the login itself, access token included' }),
  sso: z
    .string()
    .optional()
    .transform((value) => value === 'true')
    .meta({ description: '"true" (single sign-on) is refused: 403 sso_not_supported' }),
});
export const ClientAuthSsoParams = z.object({ server: z.string(), id: z.string() });
/** `POST /client/auth/{server}/sso/{id}/wait`: maubot's clients send `{}`. */
export const ClientAuthSsoWaitBody = jsonBody({});

export const PluginArchiveBody = rawBody('send the plugin archive (zip) as the raw request body with Content-Type: application/zip', 'The plugin archive (zip)');
export const ProxyUploadBody = rawBody('send the file as the raw request body with its Content-Type', 'The file (an image)');
export const AvatarBody = rawBody('send the image as the raw request body with its Content-Type', 'The image (PNG, JPEG, GIF or WebP)');

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'critical'] as const;
export const MAX_LOG_LIMIT = 1000;
const DEFAULT_LOG_LIMIT = 100;

/** A whole number in a query string, from min to max. */
const wholeNumber = (min: number, max: number, hint = '') =>
  z.string({ error: `must be a whole number from ${min} to ${max}${hint}` }).transform((value, ctx) => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got ${JSON.stringify(value.slice(0, 40))})${hint}` });
    return z.NEVER;
  });

/** `GET /logs` (history and websocket). A bad value is a 400 naming it, never a silently different query. */
export const LogQuery = z
  .object({
    limit: wholeNumber(1, MAX_LOG_LIMIT)
      .optional()
      .meta({ type: 'integer', minimum: 1, maximum: MAX_LOG_LIMIT, default: DEFAULT_LOG_LIMIT, description: 'How many records (history only; default 100)' }),
    before: wholeNumber(1, Number.MAX_SAFE_INTEGER, '; it is the id of the oldest record already shown')
      .optional()
      .meta({ type: 'integer', minimum: 1, description: 'Only records older than this record id (paging back; history only)' }),
    level: z
      .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
      .optional()
      .meta({ description: 'This level and above' }),
    levels: z
      .string({ error: `must be a comma-separated list of ${LOG_LEVELS.join(', ')}` })
      .transform((value, ctx) => {
        const list = value.split(',');
        for (const l of list) if (!(LOG_LEVELS as readonly string[]).includes(l)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(l.slice(0, 20))} is not one of ${LOG_LEVELS.join(', ')}` });
        return list as LogLevel[];
      })
      .optional()
      .meta({ description: 'Exactly these levels, comma-separated (instead of level)' }),
    instance: z.string({ error: 'must be an instance id' }).optional().meta({ description: 'Only records of this instance' }),
    q: z.string({ error: 'must be a string' }).optional().meta({ description: 'Only records whose message contains this text' }),
  })
  .transform((q) => ({
    levels: q.levels ?? (q.level ? LOG_LEVELS.slice(LOG_LEVELS.indexOf(q.level)) : undefined),
    instanceId: q.instance,
    search: q.q,
    before: q.before,
    limit: q.limit ?? DEFAULT_LOG_LIMIT,
  }))
  .register(requestError, { error: 'invalid log query' });

/** `GET /instance/{id}/database/{table}` (maubot's order= and limit=; prefix= is Trellis's). */
export const DatabaseTableQuery = z.object({
  order: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]))
    .meta({ description: 'column:asc or column:desc (repeatable)' }),
  limit: wholeNumber(1, 1000).optional().meta({ type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
  prefix: z.string({ error: 'must be a string' }).optional().meta({ description: 'Trellis: only keys starting with this' }),
  rows_as_dict: z
    .string()
    .optional()
    .transform((value) => value === 'true')
    .meta({ description: 'Trellis: "true" for rows as objects' }),
});

/** `POST /instance/{id}/database/query` */
export const DatabaseQueryBody = jsonBody({
  query: z.string({ error: 'must be a string' }).optional().meta({ description: 'A SELECT on the kv table (read-only here)' }),
  rows_as_dict: trueOrFalse().optional().meta({ description: 'Rows as objects instead of lists' }),
}).register(requestError, { error: 'invalid query' });

export const UploadQuery = z.object({
  allow_override: z
    .string()
    .optional()
    .transform((value) => value !== undefined && value !== '' && value !== 'false' && value !== '0')
    .meta({ description: 'Any value but "false", "0" or empty: replace an installed plugin of the same id (without it, 409 plugin_exists)' }),
});

export const IdParams = z.object({ id: z.string() });
/** An instance id in a path: lower-cased, as maubot does. */
export const InstanceIdParams = z.object({ id: z.string().transform((id) => id.toLowerCase()) });
export const InstanceTableParams = z.object({ id: z.string().transform((id) => id.toLowerCase()), table: z.string() });

/** `/proxy/{id}/_matrix/…` media routes: the bot account, then the homeserver path's parts. */
export const ProxyMediaParams = z.object({
  id: z.string().meta({ description: 'The bot account (user id)' }),
  version: z.string().meta({ description: 'v3 or r0' }),
  kind: z.string().meta({ description: 'download or thumbnail' }),
  server: z.string(),
  media: z.string(),
});
export const ProxyFileName = { filename: z.string() };
export const InstanceActionParams = z.object({ id: z.string().transform((id) => id.toLowerCase()), action: z.string().meta({ description: 'start, stop or restart' }) });
export const ClientAuthParams = z.object({
  server: z.string().meta({ description: 'A homeserver name from the config' }),
  action: z.string().meta({ description: 'register or login' }),
});

// ---- responses ----

export const ApiError = z
  .object({
    errcode: z.string().meta({
      description:
        "bad_request, body_not_json, auth_token_missing, auth_token_invalid, invalid_auth, forbidden, not_found, resource_not_found, method_not_allowed, conflict, token_exists, token_not_found, too_large, rate_limited, not_supported, homeserver_error, internal_error, and the resources' own, as maubot's: plugin_not_found, instance_not_found, client_not_found, plugin_in_use, client_in_use, plugin_exists, plugin_invalid, pid_mismatch, plugin_type_required, primary_user_required, primary_user_not_found, plugin_type_not_found, bad_client_access_token, bad_client_access_details, bad_client_connection_details, user_exists, mxid_mismatch, sql_error, read_only, table_not_found, query_missing, proxy_path_not_allowed",
    }),
    error: z.string().meta({ description: "What went wrong, in words; ends with the problems (': a; b') when there are any, as maubot's clients show only this" }),
    problems: z.array(z.string()).meta({ description: 'For a 400: every problem, each starting with the field it is about' }),
  })
  .meta({ title: 'Error' });
export type ApiError = z.infer<typeof ApiError>;

const ERROR_MEANINGS = {
  400: 'Invalid request: `error` says what, `problems` lists every bad field',
  401: 'No token (errcode auth_token_missing), or an invalid, expired or revoked one (auth_token_invalid)',
  403: 'Defined in the config file: change it there and send SIGHUP',
  404: 'Not found',
  409: 'Conflict with the current state (already installed, account exists)',
  412: 'Still in use: delete or move its instances first',
  413: 'Request body too large for this route',
  415: 'Unsupported Content-Type',
  429: 'Too many failed logins: wait for Retry-After seconds',
  500: 'Internal error; see the daemon log',
  501: 'Not supported by Trellis',
  502: 'The homeserver refused or did not answer',
} as const;
type ErrorStatus = keyof typeof ERROR_MEANINGS;

/** The error responses a route documents, each the `{errcode, error, problems}` shape. */
export function errors<S extends ErrorStatus>(...statuses: S[]): Record<S, typeof ApiError> {
  return Object.fromEntries(statuses.map((s) => [s, ApiError.meta({ description: ERROR_MEANINGS[s] })])) as Record<S, typeof ApiError>;
}

/** A response without a body (204; 101 for a websocket). */
export const noContent = (description: string) => z.undefined().meta({ description });

export const Version = z.object({ version: z.string(), name: z.literal('trellis') }).meta({ description: 'The daemon version' });

export const LoginResult = z
  .object({ token: z.string(), expires_at: z.number().meta({ description: 'Unix time in seconds' }) })
  .meta({ description: 'A session token (expires; for a script use a named token: POST /tokens or trellis token create)' });
/** maubot's api_features: which parts of maubot's management API are served (src/api/features.ts). */
export const Features = z
  .object({
    login: z.boolean(),
    plugin: z.boolean(),
    plugin_upload: z.boolean(),
    instance: z.boolean(),
    instance_database: z.boolean(),
    client: z.boolean(),
    client_proxy: z.boolean(),
    client_auth: z.boolean(),
    dev_open: z.boolean(),
    log: z.boolean(),
  })
  .meta({ title: 'Features' });

export const PublicFeatures = z.union([Features, z.object({ login: z.boolean() })]).meta({ description: "With a valid token maubot's full api_features map; without one only {login}" });

export const PingResult = z.object({ username: z.string(), features: Features }).meta({ description: 'The token is valid for this admin' });

export const DebugOpen = z.object({ enabled: z.literal(false) }).meta({ description: "maubot's open-in-editor development helper: never enabled in Trellis" });

/** A named, long-lived API token, without its secret. */
export const ApiTokenInfo = z
  .object({
    name: z.string(),
    created_at: z.number().meta({ description: 'Unix time in milliseconds' }),
    last_used_at: z.number().nullable().meta({ description: 'Unix time in milliseconds (updated at most once a minute); null: never used' }),
  })
  .meta({ title: 'ApiToken' });
export type ApiTokenInfo = z.infer<typeof ApiTokenInfo>;

export const ApiTokenList = z.object({ tokens: z.array(ApiTokenInfo) }).meta({ description: 'Named API tokens, oldest first (never their secrets)' });

export const NewApiToken = ApiTokenInfo.extend({ token: z.string().meta({ description: 'The token: shown here once, stored only as a hash' }) }).meta({
  description: 'The new token; it never expires (revoke it with DELETE /tokens/{name})',
});

export const HealthStatus = z.enum(['ok', 'degraded']);

export const HealthReport = z.object({
  status: HealthStatus,
  reasons: z.array(z.string()).meta({ description: 'Why it is degraded, in words an operator can act on; empty when ok' }),
  uptime_seconds: z.number(),
  instances: z.object({
    enabled: z.number(),
    running: z.number(),
    not_running: z.array(z.object({ id: z.string(), state: z.string(), last_error: z.string().nullable() })),
    hearing_no_room: z.array(z.string()).meta({ description: 'Enabled instances with an empty room allowlist: they react in no room' }),
  }),
  clients: z.array(z.object({ id: z.string(), state: z.string(), last_sync_age_seconds: z.number().nullable(), last_error: z.string().nullable() })),
  errors_last_5m: z.number(),
});
export type HealthReport = z.infer<typeof HealthReport>;

export const Health = z.union([HealthReport, z.object({ status: HealthStatus })]).meta({ description: 'With the bearer token the full report; without it only {status} (enough for a load balancer)' });

export const Metrics = z.string().meta({ description: 'Prometheus metrics (text format)' });

export const INSTANCE_STATES = ['disabled', 'stopped', 'starting', 'running', 'failed', 'restarting'] as const;

/** maubot's instance fields first (same names and types), then Trellis's. */
export const Instance = z
  .object({
    id: z.string(),
    type: z.string().meta({ description: 'The plugin id' }),
    enabled: z.boolean(),
    started: z.boolean(),
    primary_user: z.string().meta({ description: 'The bot account it runs on' }),
    config: z.string().meta({
      description:
        "The config the instance runs with, as YAML (as maubot): the stored config with the schema's defaults filled in; secret (writeOnly) values are masked. The stored config alone is config_object",
    }),
    base_config: z.string().nullable().meta({ description: "YAML of the plugin config schema's defaults; null when the plugin has no config options" }),
    database: z.boolean().meta({ description: 'Whether the plugin uses per-instance storage (browse it with /instance/{id}/database)' }),
    database_interface: z.string().nullable().meta({ description: '"kv" (Trellis plugin storage, a key/value store) or null' }),
    database_engine: z.enum(['sqlite', 'postgres']).nullable().meta({ description: "The daemon's database, or null when the plugin has no storage" }),
    config_object: z.record(z.string(), z.unknown()).meta({ description: 'Trellis: the config as a JSON object; secret (writeOnly) values are masked' }),
    state: z.enum(INSTANCE_STATES),
    last_error: z.string().nullable(),
    rooms: z.array(z.string()).meta({ description: 'The room allowlist; ["*"] is every room the bot is in' }),
    hears_no_room: z.boolean().meta({ description: 'rooms is empty: the instance reacts in no room (direct messages aside, for plugins that take them)' }),
    senders: z.array(z.string()).meta({ description: 'Other bot accounts the instance may send as' }),
    managed_by: z.enum(['api', 'config']),
    events_handled: z.number(),
    errors_last_hour: z.number(),
    started_at: z.number().nullable(),
  })
  .meta({ title: 'Instance', description: 'An instance: one plugin running on one bot account' });
export type Instance = z.infer<typeof Instance>;

export const Plugin = z
  .object({
    id: z.string(),
    version: z.string(),
    instances: z.array(Instance).meta({ description: 'The instances running this plugin' }),
    path: z.string().meta({ description: 'Where its files are on the server' }),
    name: z.string(),
    description: z.string(),
    source: z.enum(['bundled', 'uploaded']),
    kind: z.enum(['trellis', 'maubot']).meta({ description: "Trellis: 'trellis' (TypeScript, plugin.yaml) or 'maubot' (an uploaded .mbp, run in a Python host process)" }),
    database: z.boolean().meta({ description: 'Whether the plugin uses per-instance storage' }),
    config_schema: z.record(z.string(), z.unknown()).meta({ description: "The instance config's JSON Schema" }),
  })
  .meta({ title: 'Plugin', description: 'A plugin' });
export type Plugin = z.infer<typeof Plugin>;

export const CryptoStatus = z.union([
  z.object({
    state: z.literal('ready'),
    device_id: z.string(),
    ed25519: z.string(),
    curve25519: z.string(),
    cross_signing: z.boolean(),
    key_sharing: z.enum(KEY_SHARING),
    pending_decryption: z.number().meta({ description: 'Encrypted events waiting for their room key' }),
  }),
  z.object({ state: z.enum(['off', 'starting', 'failed']), error: z.string().optional() }),
]);
export type CryptoStatus = z.infer<typeof CryptoStatus>;

export const SYNC_STATES = ['idle', 'syncing', 'backoff', 'stopped', 'failed'] as const;

/** maubot's value of `displayname` / `avatar_url` for "not managed here" (the homeserver's profile stays as it is). */
export const UNMANAGED = 'disable';

/** maubot's client fields first (same names and types; never `access_token`), then Trellis's. */
export const Client = z
  .object({
    id: z.string().meta({ description: 'The user id' }),
    homeserver: z.string().meta({ description: 'Its URL' }),
    device_id: z.string().nullable(),
    fingerprint: z.string().nullable().meta({ description: 'The device ed25519 key in groups of 4 characters; null while encryption is not ready' }),
    enabled: z.boolean(),
    started: z.boolean(),
    sync: z.boolean().meta({ description: 'Same as enabled: an enabled account always syncs' }),
    sync_ok: z.boolean().meta({ description: 'Running and its last sync succeeded' }),
    autojoin: z.boolean(),
    online: z.boolean().meta({ description: 'Always true: Trellis does not manage presence' }),
    displayname: z.string().meta({ description: 'The display name set here, or "disable" when it is not managed here' }),
    avatar_url: z.string().meta({ description: 'The mxc:// avatar set here, or "disable" when it is not managed here' }),
    remote_displayname: z.string().nullable().meta({ description: "The homeserver's display name (looked up at most every minute; null when unknown)" }),
    remote_avatar_url: z.string().nullable().meta({ description: "The homeserver's avatar (as remote_displayname)" }),
    instances: z.array(Instance).meta({ description: 'The instances running on this account' }),
    trust_state: z.string().nullable().meta({ description: 'Always null (unverified): Trellis does not verify its own devices' }),
    homeserver_name: z.string().nullable().meta({ description: 'Its name in the config, if it has one' }),
    autojoin_allow: z.array(z.string()),
    sync_state: z.enum(SYNC_STATES),
    last_sync_at: z.number().nullable(),
    last_error: z.string().nullable(),
    rooms: z.array(z.string()).meta({ description: 'Joined rooms' }),
    encryption: z.boolean(),
    crypto: CryptoStatus.nullable().meta({ description: 'End-to-end encryption state; null while the account is not running' }),
    managed_by: z.enum(['api', 'config']),
  })
  .meta({ title: 'Client', description: 'A bot account (never with its access token)' });
export type Client = z.infer<typeof Client>;

export const ClientRooms = z
  .object({ rooms: z.array(z.object({ room_id: z.string(), name: z.string().nullable().meta({ description: 'm.room.name, else the canonical alias' }) })) })
  .meta({ description: 'Joined rooms with their names' });

/** `GET /client/auth/servers` */
export const AuthServers = z.record(z.string(), z.string()).meta({ description: 'The configured homeservers: name to URL' });

/** The Matrix login answer (`POST /client/auth/{server}/register|login` without update_client). */
export const MatrixLogin = z
  .object({
    user_id: z.string(),
    access_token: z.string().meta({ description: 'The new access token: the only response that carries one' }),
    device_id: z.string(),
    well_known: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ title: 'MatrixLogin', description: 'The account was logged in (or registered); nothing was saved' });
export type MatrixLogin = z.infer<typeof MatrixLogin>;

const DatabaseColumn = z.object({ type: z.string(), nullable: z.boolean(), default: z.unknown(), primary: z.boolean(), unique: z.boolean() });

export const InstanceDatabase = z
  .record(z.string(), z.object({ columns: z.record(z.string(), DatabaseColumn) }))
  .meta({ description: "maubot's {table: {columns: {…}}}: the instance's plugin storage as one read-only table kv (key, value as JSON text, updated_at in Unix ms)" });

export const DatabaseRows = z
  .object({
    ok: z.literal(true),
    query: z.string().meta({ description: 'The query that was run' }),
    columns: z.array(z.string()),
    rows: z.union([z.array(z.array(z.unknown())), z.array(z.record(z.string(), z.unknown()))]).meta({ description: 'Lists of cells, or objects with rows_as_dict' }),
  })
  .meta({ description: 'The rows (read-only)' });

export const Success = z.object({ success: z.literal(true) }).meta({ description: 'Done' });

/** `POST /client/{id}/verify` (maubot; not supported by Trellis). */
export const VerifyBody = jsonBody({ recovery_key: ifString('The recovery key') });

/** What the media proxy answers: the homeserver's response, passed on. */
export const ProxiedMedia = z
  .custom<Uint8Array>((value) => value instanceof Uint8Array)
  .meta({ type: 'string', format: 'binary', description: "The homeserver's answer (status, content type and body), passed on" });
export const ProxiedUpload = z.object({ content_uri: z.string() }).meta({ description: "The homeserver's answer: the uploaded file's mxc:// URI" });

export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log line as it is streamed (websockets). */
export const LogEntry = z
  .object({
    time: z.number().meta({ description: 'Unix time in milliseconds' }),
    level: z.enum(LOG_LEVELS),
    message: z.string(),
    instance_id: z.string().nullable(),
    client_id: z.string().nullable(),
    context: z.record(z.string(), z.unknown()).nullable().meta({ description: 'The structured fields of the line (secrets redacted)' }),
  })
  .meta({ title: 'LogEntry' });
export type LogEntry = z.infer<typeof LogEntry>;

/** A stored log line (history). */
export const LogRecord = LogEntry.extend({ id: z.number().meta({ description: 'Increasing; page back with before=' }) }).meta({ title: 'LogRecord' });
export type LogRecord = z.infer<typeof LogRecord>;

export const LogRecords = z.object({ records: z.array(LogRecord) }).meta({ description: 'Newest first' });

/** maubot's (Python's) level names and numbers, as the `/logs` websocket sends them. */
export const MAUBOT_LEVELS = {
  debug: { name: 'DEBUG', no: 10 },
  info: { name: 'INFO', no: 20 },
  warn: { name: 'WARNING', no: 30 },
  error: { name: 'ERROR', no: 40 },
  critical: { name: 'CRITICAL', no: 50 },
} as const satisfies Record<LogLevel, { name: string; no: number }>;

/**
 * A log line as the `/logs` websocket sends it: maubot's record (a Python
 * logging record: what `mbc logs` and maubot's web UI read) and, after it,
 * the same fields as LogEntry except `time`.
 */
export const LogStreamRecord = z
  .object({
    id: z.string().meta({ description: 'Unique per record: its stored id, or a per-daemon sequence number for a live record' }),
    name: z.string().meta({ description: 'The logger: maubot.instance.<id>, maubot.client.<user id> or trellis.<component>' }),
    levelname: z.enum(['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']),
    levelno: z.number(),
    msg: z.string(),
    time: z.string().meta({ description: 'ISO 8601 in UTC as Python writes it: YYYY-MM-DDTHH:MM:SS.ffffff+00:00' }),
    filename: z.string().meta({ description: 'Always empty (no Python source)' }),
    funcName: z.string().meta({ description: 'Always empty' }),
    lineno: z.number().meta({ description: 'Always 0' }),
    module: z.string().meta({ description: 'Always empty' }),
    pathname: z.string().meta({ description: 'Always empty' }),
    exc_info: z.string().nullable().meta({ description: 'The stack trace of an error logged with the line' }),
    level: z.enum(LOG_LEVELS),
    message: z.string(),
    instance_id: z.string().nullable(),
    client_id: z.string().nullable(),
    context: z.record(z.string(), z.unknown()).nullable().meta({ description: 'The structured fields of the line (secrets redacted)' }),
  })
  .meta({ title: 'LogStreamRecord' });
export type LogStreamRecord = z.infer<typeof LogStreamRecord>;

/**
 * What the `/logs` websocket sends (maubot's protocol): `{auth_success}` for
 * each token sent as a message (false: send another), then once
 * `{history: [...]}` (recent records, oldest first), then each new record.
 */
export const LogStreamMessage = z.union([z.object({ auth_success: z.boolean() }), z.object({ history: z.array(LogStreamRecord) }), LogStreamRecord]);
export type LogStreamMessage = z.infer<typeof LogStreamMessage>;

/** The health in a `/live` message: the report with the daemon's start time instead of its uptime. */
export const LiveHealth = HealthReport.omit({ uptime_seconds: true }).extend({ started_at: z.number() });
export type LiveHealth = z.infer<typeof LiveHealth>;

/** What the `/live` websocket sends. */
export const LiveMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), version: z.string() }),
  z.object({ type: z.literal('instances'), instances: z.array(Instance) }),
  z.object({ type: z.literal('clients'), clients: z.array(Client) }),
  z.object({ type: z.literal('health'), health: LiveHealth }),
  z.object({ type: z.literal('log'), entry: LogEntry }),
]);
export type LiveMessage = z.infer<typeof LiveMessage>;

/** 101 of the websocket routes; their messages are LogStreamMessage (/logs) and LiveMessage (/live). */
export const websocketUpgrade = (messages: string) =>
  noContent(`Switching Protocols: a websocket. Authenticate with an Authorization header or by sending the token as the first message (within 5 s). ${messages}`);
