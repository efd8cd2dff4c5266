import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import bcrypt from 'bcryptjs';
import { ConfigError, hashPassword, loadConfig, verifyPassword, writeInitialConfig } from '../../src/config/index.ts';

let root: string;
let argonHash: string;
let counter = 0;

const TOKEN_SECRET = 'token-secret-0123456789abcdefghijklmnop';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'trellis-config-'));
  argonHash = await hashPassword('a long admin password');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const dir = join(root, `case-${++counter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function baseConfig(): Record<string, unknown> {
  return {
    server: { token_secret: TOKEN_SECRET },
    admin: { username: 'admin', password_hash: argonHash },
    homeservers: { main: { url: 'http://127.0.0.1:8008' } },
  };
}

async function writeConfig(dir: string, content: Record<string, unknown> | string): Promise<string> {
  const file = join(dir, 'trellis.yaml');
  await writeFile(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

/** Loads and expects a ConfigError; returns it. */
async function loadError(file: string, env: NodeJS.ProcessEnv = {}): Promise<ConfigError> {
  try {
    await loadConfig(file, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected loadConfig to throw');
}

/** A bcrypt hash of `password` with the given cost, from the bcryptjs library. */
function bcryptHash(password: string, cost: number): string {
  return bcrypt.hashSync(password, cost);
}

describe('writeInitialConfig → loadConfig', () => {
  test('round-trips with defaults, random secrets, a hashed password and mode 0600', async () => {
    const dir = await freshDir();
    const file = join(dir, 'nested', 'etc', 'trellis.yaml');
    await writeInitialConfig({ path: file, adminUser: 'root-admin', adminPassword: 'correct horse battery' });

    const mode = (await stat(file)).mode & 0o777;
    assert.equal(mode, 0o600);
    const text = await readFile(file, 'utf8');
    assert.match(text, /^# /m, 'the template is commented');
    assert.match(text, /# clients:/);
    assert.match(text, /# instances:/);
    assert.match(text, /# notifications:/);
    assert.match(text, /TRELLIS__/);
    assert.match(text, /_credential/);
    assert.ok(!text.includes('correct horse battery'), 'the password itself is never written');

    const loaded = await loadConfig(file, {});
    const { config } = loaded;
    assert.equal(loaded.path, file);
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 29316);
    assert.equal(config.server.token_ttl_seconds, 86400);
    assert.match(config.server.token_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.match(config.crypto.pickle_key ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(config.server.token_secret, config.crypto.pickle_key);
    assert.equal(config.admin.username, 'root-admin');
    assert.match(config.admin.password_hash, /^\$argon2id\$/);
    assert.equal(await verifyPassword(config.admin.password_hash, 'correct horse battery'), true);
    assert.equal(await verifyPassword(config.admin.password_hash, 'wrong horse battery'), false);
    assert.equal(config.homeservers.main?.url, 'http://127.0.0.1:8008');
    assert.equal(config.data_dir, join(dir, 'nested', 'etc', 'data'));
    assert.equal(config.database.type, 'sqlite');
    assert.equal(config.database.path, join(dir, 'nested', 'etc', 'data', 'trellis.db'));
    assert.equal(config.logging.level, 'info');
    assert.deepEqual(config.clients, {});
    assert.deepEqual(config.instances, {});
    assert.equal(config.notifications, undefined);
    assert.deepEqual(new Set(loaded.secrets), new Set([config.server.token_secret, config.crypto.pickle_key]));
  });

  test('applies homeserverUrl and port, and refuses to overwrite unless forced', async () => {
    const dir = await freshDir();
    const file = join(dir, 'trellis.yaml');
    const options = {
      path: file,
      adminUser: 'admin',
      adminPassword: 'another long password',
      homeserverUrl: 'https://matrix.example.org',
      port: 8099,
    };
    await writeInitialConfig(options);
    const first = await loadConfig(file, {});
    assert.equal(first.config.homeservers.main?.url, 'https://matrix.example.org');
    assert.equal(first.config.server.port, 8099);

    await assert.rejects(writeInitialConfig(options), /already exists; pass --force/);
    assert.equal((await loadConfig(file, {})).config.server.token_secret, first.config.server.token_secret);

    await writeInitialConfig({ ...options, force: true });
    const second = await loadConfig(file, {});
    assert.notEqual(second.config.server.token_secret, first.config.server.token_secret);
  });

  test('rejects an admin password shorter than 12 characters', async () => {
    const dir = await freshDir();
    const file = join(dir, 'trellis.yaml');
    await assert.rejects(writeInitialConfig({ path: file, adminUser: 'admin', adminPassword: 'short-pw' }), /at least 12 characters/);
    await assert.rejects(stat(file), { code: 'ENOENT' });
  });
});

describe('problems', () => {
  test('lists every problem at once with its exact path', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.server = { token_secret: TOKEN_SECRET, prot: 8080, port: 'eighty' };
    config.homeservers = { main: { url: 'not a url' }, Bad_Name: { url: 'http://x' } };
    config.logging = { level: 'verbose' };
    config.instances = { ping: { plugin: 'org.trellis.ping', client: 'ping', rooms: ['#alias:example.org'] } };
    config.extra = true;
    const error = await loadError(await writeConfig(dir, config));

    const expected = [
      'server.prot: unknown key (did you mean port?)',
      'server.port: expected a number, got a string',
      'homeservers.main.url: not a URL',
      'logging.level: expected one of: debug, info, warn, error',
      'instances.ping.client: not a Matrix user id (expected @localpart:server.name)',
      'instances.ping.rooms[0]: expected a room id (!opaque:server.name) or "*" for every room the bot is in',
      'extra: unknown key',
    ];
    for (const line of expected) assert.ok(error.problems.includes(line), `missing "${line}" in:\n${error.message}`);
    assert.ok(error.problems.some((p) => p.startsWith('homeservers.Bad_Name: invalid homeserver name')));
    assert.equal(error.problems.length, expected.length + 1, error.message);
    assert.ok(error.message.startsWith(`Invalid configuration in ${join(dir, 'trellis.yaml')}:\n  - `));
    for (const line of error.problems) assert.ok(error.message.includes(`\n  - ${line}`));
  });

  test('a missing file says how to create one', async () => {
    const dir = await freshDir();
    const error = await loadError(join(dir, 'absent.yaml'));
    assert.equal(error.message, `config file ${join(dir, 'absent.yaml')} not found; create one with: trellis init --config ${join(dir, 'absent.yaml')} --admin-user admin --admin-password …`);
  });

  test('YAML syntax errors carry the line number', async () => {
    const dir = await freshDir();
    const file = await writeConfig(dir, 'server:\n  token_secret: abc\n  port: [1, 2\nadmin: {}\n');
    const error = await loadError(file);
    assert.equal(error.problems.length >= 1, true);
    assert.match(error.problems[0] ?? '', /^YAML syntax error at line \d+, column \d+: /);
  });

  test('an empty file lists the required sections', async () => {
    const dir = await freshDir();
    const error = await loadError(await writeConfig(dir, ''));
    assert.ok(error.problems.includes('server: required'), error.message);
    assert.ok(error.problems.includes('admin: required'), error.message);
  });

  test('a client naming an unknown homeserver is a problem', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.clients = { '@ping:example.org': { homeserver: 'mian', access_token: 'syt_abc' } };
    const error = await loadError(await writeConfig(dir, config));
    assert.deepEqual(error.problems, ['clients["@ping:example.org"].homeserver: unknown homeserver "mian"; configured: main']);
  });

  test('postgres requires a url', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.database = { type: 'postgres' };
    const error = await loadError(await writeConfig(dir, config));
    assert.deepEqual(error.problems, ['database.url: required when type is postgres (give url, url_file or url_credential)']);
  });
});

describe('admin password hash', () => {
  test('plain text is rejected with a hint, without echoing it', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.admin = { username: 'admin', password_hash: 'MyPlainPassword123' };
    const error = await loadError(await writeConfig(dir, config));
    assert.deepEqual(error.problems, ['admin.password_hash: not a password hash (plain-text passwords are not accepted); generate one with: trellis hash-password']);
    assert.ok(!error.message.includes('MyPlainPassword123'));
  });

  test('bcrypt cost 10 is rejected, cost 12 accepted and verifiable', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.admin = { username: 'admin', password_hash: bcryptHash('pw', 10) };
    const error = await loadError(await writeConfig(dir, config));
    assert.deepEqual(error.problems, ['admin.password_hash: bcrypt cost 10 is below the minimum of 12; generate one with: trellis hash-password']);

    const cost12 = bcryptHash('bcrypt admin password', 12);
    config.admin = { username: 'admin', password_hash: cost12 };
    const { config: loaded } = await loadConfig(await writeConfig(dir, config), {});
    assert.equal(loaded.admin.password_hash, cost12);
    assert.equal(await verifyPassword(cost12, 'bcrypt admin password'), true);
    assert.equal(await verifyPassword(cost12, 'bcrypt admin passwore'), false);
  });

  test('argon2i is rejected: only argon2id', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.admin = { username: 'admin', password_hash: argonHash.replace('$argon2id$', '$argon2i$') };
    const error = await loadError(await writeConfig(dir, config));
    assert.match(error.problems[0] ?? '', /^admin\.password_hash: must be an argon2id hash/);
  });

  test('bcrypt verification matches the crypt_blowfish reference vectors', async () => {
    // From Openwall's crypt_blowfish test suite.
    const vectors: [string, string][] = [
      ['U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'],
      ['U*U*', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK'],
      ['U*U*U', '$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a'],
      ['', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy'],
    ];
    for (const [password, hash] of vectors) {
      assert.equal(await verifyPassword(hash, password), true, hash);
      assert.equal(await verifyPassword(hash, `${password}x`), false, hash);
    }
  });
});

describe('secrets', () => {
  test('_file (relative to the config folder, newline trimmed) and _credential are resolved', async () => {
    const dir = await freshDir();
    const credentials = join(dir, 'credentials');
    await mkdir(join(dir, 'secrets'));
    await mkdir(credentials);
    await writeFile(join(dir, 'secrets', 'token'), `${TOKEN_SECRET}\n`);
    await writeFile(join(dir, 'secrets', 'shared'), 'shared-secret-value\n');
    await writeFile(join(credentials, 'ping-token'), 'syt_ping_access_token\n');
    await writeFile(join(credentials, 'pickle'), 'pickle-key-value');
    const config = baseConfig();
    config.server = { token_secret_file: 'secrets/token' };
    config.homeservers = {
      main: { url: 'http://127.0.0.1:8008', shared_secret_file: join(dir, 'secrets', 'shared'), registration_token: 'reg-token' },
    };
    config.crypto = { pickle_key_credential: 'pickle' };
    config.clients = { '@ping:example.org': { homeserver: 'main', access_token_credential: 'ping-token' } };

    const loaded = await loadConfig(await writeConfig(dir, config), { CREDENTIALS_DIRECTORY: credentials });
    assert.equal(loaded.config.server.token_secret, TOKEN_SECRET);
    assert.equal(loaded.config.homeservers.main?.shared_secret, 'shared-secret-value');
    assert.equal(loaded.config.homeservers.main?.registration_token, 'reg-token');
    assert.equal(loaded.config.crypto.pickle_key, 'pickle-key-value');
    assert.equal(loaded.config.clients['@ping:example.org']?.access_token, 'syt_ping_access_token');
    assert.equal(loaded.config.clients['@ping:example.org']?.autojoin, true);
    assert.deepEqual(new Set(loaded.secrets), new Set([TOKEN_SECRET, 'shared-secret-value', 'reg-token', 'pickle-key-value', 'syt_ping_access_token']));
  });

  test('two forms at once, a missing file and a credential without $CREDENTIALS_DIRECTORY are problems', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.server = { token_secret: TOKEN_SECRET, token_secret_file: 'token' };
    config.homeservers = { main: { url: 'http://127.0.0.1:8008', shared_secret_file: 'missing/shared' } };
    config.crypto = { pickle_key_credential: 'pickle' };
    const error = await loadError(await writeConfig(dir, config));
    assert.deepEqual(error.problems, [
      'server.token_secret: given more than one way (token_secret, token_secret_file); keep exactly one',
      `homeservers.main.shared_secret_file: file ${join(dir, 'missing', 'shared')} not found; create it (readable only by the trellis user, mode 0600) or fix the path`,
      'crypto.pickle_key_credential: $CREDENTIALS_DIRECTORY is not set, so credential "pickle" cannot be read; run trellis as a systemd service with LoadCredential=pickle:/path/to/secret, or use pickle_key_file instead',
    ]);
  });

  test('a credential missing from $CREDENTIALS_DIRECTORY is a problem', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.crypto = { pickle_key_credential: 'pickle' };
    const error = await loadError(await writeConfig(dir, config), { CREDENTIALS_DIRECTORY: dir });
    assert.deepEqual(error.problems, [`crypto.pickle_key_credential: credential "pickle" not found in $CREDENTIALS_DIRECTORY (${dir}); add LoadCredential=pickle:/path/to/secret to the service unit`]);
  });

  test('_file on a key that is not a secret is an unknown key', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.admin = { username: 'admin', password_hash_file: 'hash' };
    const error = await loadError(await writeConfig(dir, config));
    assert.ok(error.problems.includes('admin.password_hash_file: unknown key: password_hash is not a secret, so give it inline (no _file/_credential form)'), error.message);
  });

  test('no secret value appears in any error message', async () => {
    const dir = await freshDir();
    const credentials = join(dir, 'creds');
    await mkdir(credentials);
    const secrets = {
      shortToken: 'tooShortTokenSecret',
      registration: 'registration-token-secret-value',
      shared: 'shared-secret-value-xyz',
      access: 'syt_access_token_value',
      pickle: 'pickle-secret-value',
      envToken: 'envTokenSecretTooShort',
      plain: 'PlainTextPassword!',
    };
    await writeFile(join(credentials, 'access'), secrets.access);
    const config = baseConfig();
    config.server = { token_secret: secrets.shortToken, port: 99999 };
    config.admin = { username: 'admin', password_hash: secrets.plain };
    config.homeservers = {
      main: { url: 'http://127.0.0.1:8008', registration_token: secrets.registration, shared_secret: secrets.shared, shared_secret_file: 'x' },
    };
    config.crypto = { pickle_key: secrets.pickle, pickle_key_credential: 'pickle' };
    config.clients = { '@a:example.org': { homeserver: 'nope', access_token_credential: 'access', autojoin: 'sometimes' } };
    const file = await writeConfig(dir, config);
    const error = await loadError(file, { CREDENTIALS_DIRECTORY: credentials, TRELLIS__SERVER__TOKEN_SECRET: secrets.envToken });
    assert.ok(error.problems.length >= 6, error.message);
    for (const value of Object.values(secrets)) assert.ok(!error.message.includes(value), `"${value}" leaked:\n${error.message}`);

    // yaml's own messages quote the offending line; ours must not.
    await writeFile(file, `server:\n  token_secret: ${secrets.registration}: x\n  port: 1\n`);
    const syntax = await loadError(file);
    assert.match(syntax.message, /YAML syntax error at line/);
    assert.ok(!syntax.message.includes(secrets.registration), syntax.message);
  });
});

describe('environment overrides', () => {
  test('TRELLIS_PORT, TRELLIS_HOST and TRELLIS__<PATH> override keys, with coercion', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'shared'), 'from-env-file\n');
    const config = baseConfig();
    config.homeservers = { main: { url: 'http://127.0.0.1:8008', shared_secret: 'inline-shared-secret' } };
    config.instances = { ping: { plugin: 'org.trellis.ping', client: '@ping:example.org', rooms: ['*'] } };
    const loaded = await loadConfig(await writeConfig(dir, config), {
      TRELLIS_PORT: '8080',
      TRELLIS_HOST: '0.0.0.0',
      TRELLIS__HOMESERVERS__MAIN__URL: 'https://matrix.example.org/',
      TRELLIS__HOMESERVERS__MAIN__SHARED_SECRET_FILE: 'shared',
      TRELLIS__INSTANCES__PING__ENABLED: 'false',
      TRELLIS__LOGGING__KEEP_RECORDS: '250',
      TRELLIS__HOMESERVERS__BACKUP__URL: 'http://10.0.0.2:8008',
    });
    const { config: c } = loaded;
    assert.equal(c.server.port, 8080);
    assert.equal(c.server.host, '0.0.0.0');
    assert.equal(c.homeservers.main?.url, 'https://matrix.example.org');
    assert.equal(c.homeservers.main?.shared_secret, 'from-env-file');
    assert.equal(c.homeservers.backup?.url, 'http://10.0.0.2:8008');
    assert.equal(c.instances.ping?.enabled, false);
    assert.equal(c.logging.keep_records, 250);
    assert.ok(loaded.secrets.includes('from-env-file'));
    assert.ok(!loaded.secrets.includes('inline-shared-secret'));
  });

  test('TRELLIS_PORT wins over TRELLIS__SERVER__PORT; bad values name the variable', async () => {
    const dir = await freshDir();
    const file = await writeConfig(dir, baseConfig());
    const both = await loadConfig(file, { TRELLIS__SERVER__PORT: '1111', TRELLIS_PORT: '2222' });
    assert.equal(both.config.server.port, 2222);

    const error = await loadError(file, { TRELLIS_PORT: 'http', TRELLIS__HOMESERVERS__MAIN__URL: 'matrix.example.org' });
    assert.deepEqual(error.problems, [
      'server.port: expected a number, got a string (set by environment variable TRELLIS_PORT)',
      'homeservers.main.url: not a URL (set by environment variable TRELLIS__HOMESERVERS__MAIN__URL)',
    ]);
  });
});

describe('public listener', () => {
  test('init --public-port writes an active block; without it the block is commented out and there is no listener', async () => {
    const dir = await freshDir();
    const withPublic = join(dir, 'with.yaml');
    await writeInitialConfig({ path: withPublic, adminUser: 'admin', adminPassword: 'correct horse battery', publicPort: 8090 });
    const { config } = await loadConfig(withPublic, {});
    assert.deepEqual(config.public, { host: '127.0.0.1', port: 8090, max_body_bytes: 1048576 });
    const without = join(dir, 'without.yaml');
    await writeInitialConfig({ path: without, adminUser: 'admin', adminPassword: 'correct horse battery' });
    assert.match(await readFile(without, 'utf8'), /^# public:$/m);
    assert.equal((await loadConfig(without, {})).config.public, undefined);
    await assert.rejects(writeInitialConfig({ path: join(dir, 'same.yaml'), adminUser: 'admin', adminPassword: 'correct horse battery', port: 8090, publicPort: 8090 }), /must differ/);
  });

  test('TRELLIS_PUBLIC_PORT turns it on; bad values are refused with their path', async () => {
    const dir = await freshDir();
    const file = await writeConfig(dir, baseConfig());
    const { config } = await loadConfig(file, { TRELLIS_PUBLIC_PORT: '8091' });
    assert.equal(config.public?.port, 8091);
    const bad = baseConfig();
    bad.public = { port: 0, base_url: 'hooks.example.org', max_body_bytes: 10, extra: true };
    const error = await loadError(await writeConfig(dir, bad));
    assert.deepEqual(error.problems.map((p) => p.split(':')[0]).sort(), ['public.base_url', 'public.extra', 'public.max_body_bytes', 'public.port']);
  });
});

describe('instance senders', () => {
  test('default to none; entries must be user ids', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.instances = {
      hooks: { plugin: 'org.trellis.ping', client: '@hooks:example.org', rooms: ['*'], senders: ['@grafana:example.org'] },
      plain: { plugin: 'org.trellis.ping', client: '@hooks:example.org', rooms: ['*'] },
    };
    const { config: loaded } = await loadConfig(await writeConfig(dir, config), {});
    assert.deepEqual(loaded.instances.hooks?.senders, ['@grafana:example.org']);
    assert.deepEqual(loaded.instances.plain?.senders, []);
    (config.instances as Record<string, Record<string, unknown>>).hooks!.senders = ['grafana'];
    const error = await loadError(await writeConfig(dir, config));
    assert.deepEqual(error.problems, ['instances.hooks.senders[0]: not a Matrix user id (expected @localpart:server.name)']);
  });
});

describe('paths', () => {
  test('data_dir resolves against the config folder and database.path against data_dir', async () => {
    const dir = await freshDir();
    const config = baseConfig();
    config.data_dir = '../state';
    config.database = { path: 'db/main.sqlite' };
    const loaded = await loadConfig(await writeConfig(dir, config), {});
    assert.equal(loaded.config.data_dir, join(dir, '..', 'state'));
    assert.equal(loaded.config.database.path, join(dir, '..', 'state', 'db', 'main.sqlite'));

    config.data_dir = '/var/lib/trellis';
    config.database = { path: '/srv/trellis.db' };
    const absolute = await loadConfig(await writeConfig(dir, config), {});
    assert.equal(absolute.config.data_dir, '/var/lib/trellis');
    assert.equal(absolute.config.database.path, '/srv/trellis.db');
  });

  test('a relative config path is made absolute', async () => {
    const dir = await freshDir();
    await writeConfig(dir, baseConfig());
    const loaded = await loadConfig(relative(process.cwd(), join(dir, 'trellis.yaml')), {});
    assert.equal(loaded.path, join(dir, 'trellis.yaml'));
    assert.equal(loaded.config.data_dir, join(dir, 'data'));
  });
});

describe('sync and proxy settings', () => {
  test('sync.catch_up and server.trusted_proxies have defaults and accept valid values', async () => {
    const dir = await freshDir();
    const defaults = await loadConfig(await writeConfig(dir, baseConfig()), {});
    assert.deepEqual(defaults.config.sync.catch_up, { max_age_hours: 24, max_events: 10_000 });
    assert.deepEqual(defaults.config.server.trusted_proxies, []);
    const config = { ...baseConfig(), server: { token_secret: TOKEN_SECRET, trusted_proxies: ['127.0.0.1', '10.0.0.0/8', '::1'] }, sync: { catch_up: { max_age_hours: 1.5, max_events: 500 } } };
    const loaded = await loadConfig(await writeConfig(dir, config), { TRELLIS__SYNC__CATCH_UP__MAX_EVENTS: '700' });
    assert.deepEqual(loaded.config.server.trusted_proxies, ['127.0.0.1', '10.0.0.0/8', '::1']);
    assert.deepEqual(loaded.config.sync.catch_up, { max_age_hours: 1.5, max_events: 700 });
  });

  test('bad catch-up windows and proxy addresses are refused with their paths', async () => {
    const dir = await freshDir();
    const config = { ...baseConfig(), server: { token_secret: TOKEN_SECRET, trusted_proxies: ['proxy.example.org'] }, sync: { catch_up: { max_age_hours: 0, max_events: -1 } } };
    const error = await loadError(await writeConfig(dir, config));
    assert.match(error.message, /server\.trusted_proxies\[0\]: expected an IP address or CIDR range/);
    assert.match(error.message, /sync\.catch_up\.max_age_hours: expected a number of hours above 0/);
    assert.match(error.message, /sync\.catch_up\.max_events/);
  });
});
