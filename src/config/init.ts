/**
 * `trellis init`: writes a commented starter configuration that loads as is.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { hashPassword, MIN_PASSWORD_LENGTH } from './password.ts';

export interface InitialConfigOptions {
  path: string;
  adminUser: string;
  adminPassword: string;
  homeserverUrl?: string;
  port?: number;
  /** Enables the public listener (plugin web endpoints such as webhooks) on this port. */
  publicPort?: number;
  force?: boolean;
}

const DEFAULT_HOMESERVER_URL = 'http://127.0.0.1:8008';
const DEFAULT_PORT = 29316;

export async function writeInitialConfig(options: InitialConfigOptions): Promise<void> {
  const file = resolve(options.path);
  if (options.adminPassword.length < MIN_PASSWORD_LENGTH) {
    throw new Error(`the admin password must be at least ${MIN_PASSWORD_LENGTH} characters long; choose a longer one`);
  }
  if (!/^\S+$/.test(options.adminUser)) {
    throw new Error('the admin user name must not be empty or contain spaces');
  }
  const homeserverUrl = options.homeserverUrl ?? DEFAULT_HOMESERVER_URL;
  if (!isHttpUrl(homeserverUrl)) {
    throw new Error(`the homeserver URL must start with http:// or https:// (got "${homeserverUrl}")`);
  }
  const port = options.port ?? DEFAULT_PORT;
  for (const [what, value] of [
    ['port', port],
    ['public port', options.publicPort ?? 0],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`the ${what} must be a whole number from 0 to 65535 (got ${value})`);
  }
  if (options.publicPort !== undefined && options.publicPort === port && port !== 0) {
    throw new Error(`the public port must differ from the management port (both ${port})`);
  }

  const text = renderTemplate({
    adminUser: options.adminUser,
    passwordHash: await hashPassword(options.adminPassword),
    homeserverUrl,
    port,
    publicPort: options.publicPort,
    tokenSecret: randomBytes(32).toString('base64url'),
    pickleKey: randomBytes(32).toString('base64url'),
  });

  await mkdir(dirname(file), { recursive: true });
  try {
    // 'wx' makes the existence check and the write one step, so two inits cannot race.
    await writeFile(file, text, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
    // `mode` only applies to new files; an overwritten one may have been wider.
    await chmod(file, 0o600);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') {
      throw new Error(`${file} already exists; pass --force to overwrite it (its secrets will be replaced)`);
    }
    throw error;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

interface TemplateValues {
  adminUser: string;
  passwordHash: string;
  homeserverUrl: string;
  port: number;
  publicPort: number | undefined;
  tokenSecret: string;
  pickleKey: string;
}

/** The public listener's block: active with --public-port, else commented out. */
function publicSection(port: number | undefined): string {
  const c = port === undefined ? '# ' : '';
  return `# Public listener for plugin web endpoints (webhooks: <base_url>/webhook/<id>;
# others under <base_url>/_matrix/maubot/plugin/<instance id>/). It serves
# nothing else of Trellis. Put it behind your reverse proxy and set base_url
# to the URL the proxy forwards from. Also: TRELLIS_PUBLIC_PORT.
${c}public:
${c}  host: 127.0.0.1
${c}  port: ${port ?? 29317}
${c}  # base_url: https://matrix.example.org
${c}  max_body_bytes: 1048576`;
}

function renderTemplate(v: TemplateValues): string {
  // JSON strings are valid YAML double-quoted scalars: safe for any value.
  const q = (value: string) => JSON.stringify(value);
  return `# Trellis configuration, written by \`trellis init\`.
# Start the daemon with: trellis start --config <this file>
#
# Secrets (server.token_secret, database.url, homeservers.*.registration_token,
# homeservers.*.shared_secret, clients.*.access_token, crypto.pickle_key) can be
# given in three ways, exactly one per key:
#   token_secret: "…"                      inline, as below
#   token_secret_file: /etc/trellis/secret  file contents (trailing newline
#                                           ignored; relative paths resolve
#                                           against this file's folder)
#   token_secret_credential: name           systemd credential: read from
#                                           $CREDENTIALS_DIRECTORY/name, set by
#                                           LoadCredential=name:/path in the unit
#
# Environment variables override any key: TRELLIS__<SECTION>__<KEY> with "__"
# between segments, e.g. TRELLIS__SERVER__PORT=8080,
# TRELLIS__HOMESERVERS__MAIN__URL=https://matrix.example.org or
# TRELLIS__HOMESERVERS__MAIN__SHARED_SECRET_FILE=/run/secrets/synapse.
# Short forms: TRELLIS_PORT and TRELLIS_HOST.
#
# This file holds secrets: keep it readable by the trellis user only (mode 0600).

# Management API and web console listener. Keep it on loopback and put a
# TLS reverse proxy in front if it must be reachable from elsewhere.
server:
  host: 127.0.0.1
  port: ${v.port}
  # Signs management API session tokens; changing it logs everyone out.
  token_secret: ${q(v.tokenSecret)}
  token_ttl_seconds: 86400
  # /metrics needs a bearer token like the API (it names bot accounts and
  # instances); true serves it without one, e.g. to a Prometheus on this host.
  public_metrics: false

${publicSection(v.publicPort)}

# Databases, uploaded plugins and other state. Relative to this file's folder.
data_dir: data

database:
  type: sqlite          # postgres is planned (then: url / url_file / url_credential)
  path: trellis.db      # relative to data_dir

# The management API / web console account. Change the password with:
#   trellis hash-password   (then paste the hash here)
# argon2id hashes are preferred; bcrypt hashes with cost >= 12 are accepted.
admin:
  username: ${q(v.adminUser)}
  password_hash: ${q(v.passwordHash)}

# Matrix homeservers by name; clients and API calls refer to them by that name.
# registration_token / shared_secret let Trellis register bot accounts
# (a registration token as on conduwuit, or Synapse's registration_shared_secret).
homeservers:
  main:
    url: ${q(v.homeserverUrl)}
    # registration_token_file: /run/secrets/registration-token
    # shared_secret_file: /run/secrets/synapse-registration-secret

logging:
  level: info           # debug | info | warn | error
  keep_records: 5000    # log records kept in the database for the API

# ERROR and CRITICAL log records posted to a Matrix admin room by one of the
# bot accounts (deduplicated and rate-limited).
# notifications:
#   admin_room: "!abcdef:example.org"
#   client: "@trellis:example.org"
#   min_level: error    # warn | error | critical
#   dedupe_seconds: 600
#   max_per_minute: 5

crypto:
  # Encrypts end-to-end encryption keys at rest; losing it loses them.
  pickle_key: ${q(v.pickleKey)}

# Bot accounts declared here are created at start and on SIGHUP, and are
# read-only in the API. Accounts can also be added through the API instead.
# clients:
#   "@ping:example.org":
#     homeserver: main
#     access_token_file: secrets/ping-access-token
#     device_id: TRELLISPING
#     display_name: Ping
#     autojoin: true
#     autojoin_allow: ["@admin:example.org", "example.org"]   # empty = anyone

# Rooms of an instance created through the API without "rooms" (as maubot's
# clients do): all = every room its bot is in (as maubot), none = no room until
# rooms are given (the bot then answers only in rooms you designate).
instances_default_rooms: all

# Plugin instances declared here are reconciled at start and on SIGHUP.
# rooms lists the only rooms the instance sees; "*" = every room the bot is in.
# instances:
#   ping:
#     plugin: org.trellis.ping
#     client: "@ping:example.org"
#     enabled: true
#     rooms: ["!abcdef:example.org"]
#     senders: []   # other bot accounts it may post as (e.g. one per webhook service)
#     config: {}
`;
}
