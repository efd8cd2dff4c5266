#!/usr/bin/env node
/**
 * The `trellis` command: argument parsing and the subcommands (start, init,
 * plugin build/validate, hash-password, import-maubot, token); signals for
 * the running daemon.
 */
import { ServiceManager } from './service-manager.ts';
import { parseArgs } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { loadConfig, ConfigError } from '../config/load.ts';
import { writeInitialConfig } from '../config/init.ts';
import { hashPassword } from '../config/password.ts';
import { Daemon, VERSION } from '../daemon.ts';
import { INITIAL_PASSWORD_FILE } from '../api/routes/auth.ts';
import { errorMessage } from '../shared/error-message.ts';
import { openStorage } from '../storage/database.ts';
import { ApiTokens, TokenNameError } from '../api/api-tokens.ts';

const USAGE = `trellis ${VERSION} — self-hosted Matrix bot platform

Usage:
  trellis [start] --config <path>           run the daemon in the foreground
  trellis start --check-config [--config <path>]   validate the config (and its secret files), print every problem, exit 0/1
  trellis init --config <path> --admin-user <name> --admin-password <pw>
               [--homeserver-url <url>] [--port <n>] [--public-port <n>] [--force]
  trellis plugin build <dir> [--out <file>] bundle a TypeScript plugin into an archive
  trellis plugin validate <archive>          check an archive without installing it
  trellis hash-password [--password <pw>]   print an argon2id hash for admin.password_hash
  trellis import-maubot --maubot-config <maubot config.yaml> [--config <path>] [--dry-run]
                                            bring maubot's bot accounts and instances over
                                            (Trellis stopped; see docs/maubot-compatibility.md)
  trellis token create --name <name> [--config <path>]
                                            a named API token for scripts and mbc (printed once; never expires)
  trellis token list [--config <path>]      named API tokens: name, created, last used (no secrets)
  trellis token revoke <name> [--config <path>]
                                            the token stops working at once (the daemon may be running)
  trellis --version

The config path defaults to $TRELLIS_CONFIG or ./trellis.yaml.
Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads declarative clients/instances.`;

function fail(message: string, code = 1): never {
  process.stderr.write(`trellis: ${message}\n`);
  process.exit(code);
}

function configPath(value: string | undefined): string {
  return resolve(value ?? process.env.TRELLIS_CONFIG ?? 'trellis.yaml');
}

async function start(path: string): Promise<void> {
  let loaded;
  try {
    loaded = await loadConfig(path);
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : `cannot load ${path}: ${errorMessage(err)}`, 2);
  }
  const daemon = new Daemon(loaded);
  // Under systemd (Type=notify): readiness, status, reload and the watchdog (service-manager.ts).
  const manager = ServiceManager.fromEnv({ onError: (message) => daemon.log.warn(message) });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    manager?.stopping();
    daemon.log.info(`received ${signal}`);
    // Hard limit so a stuck plugin can never keep systemd waiting.
    setTimeout(() => process.exit(1), 9_000).unref();
    try {
      await daemon.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    daemon.log.info('received SIGHUP: reloading configuration');
    manager?.reloading();
    void daemon.reload().finally(() => manager?.ready(daemon.statusLine()));
  });
  // A plugin's stray throw is its instance's problem (logged, counted, the daemon goes on). Anything
  // else means the daemon's own state is unknown: say so and exit non-zero so the service manager
  // restarts it (the documented unit has Restart=on-failure); the sync state on disk is consistent.
  const fatal = (kind: string) => (err: unknown) => {
    if (daemon.blamePlugin(err)) return;
    daemon.log.critical(`${kind} outside any plugin: ${errorMessage(err)}; exiting so the service manager restarts trellis`, { err });
    process.exitCode = 1;
    setImmediate(() => process.exit(1));
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));
  try {
    await daemon.start();
  } catch (err) {
    daemon.log.critical(`startup failed: ${errorMessage(err)}`);
    await daemon.stop().catch(() => undefined);
    process.exit(1);
  }
  if (manager) {
    manager.ready(daemon.statusLine());
    setInterval(() => manager.status(daemon.statusLine()), STATUS_EVERY_MS).unref();
  }
}

/** How often the status line under systemd is brought up to date (sent only when it changed). */
const STATUS_EVERY_MS = 5_000;

/** `trellis start --check-config`: load and validate the config (secrets files included), print every problem, exit 0 or 1. */
async function checkConfig(path: string): Promise<void> {
  try {
    const loaded = await loadConfig(path);
    process.stdout.write(`${path}: the configuration is valid (${Object.keys(loaded.config.clients).length} bot accounts, ${Object.keys(loaded.config.instances).length} instances declared)\n`);
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : `cannot load ${path}: ${errorMessage(err)}`, 1);
  }
}

/**
 * `npm start` on a fresh checkout: write a default config so the platform
 * runs at once. The generated admin password goes to a 0600 file in the
 * private (0700) data folder, never to the log; the first successful admin
 * login deletes it (src/api/routes/auth.ts).
 */
async function firstRunInit(path: string): Promise<void> {
  const passwordFile = join(dirname(path), 'data', INITIAL_PASSWORD_FILE);
  const password = randomBytes(18).toString('base64url');
  await writeInitialConfig({ path, adminUser: 'admin', adminPassword: password });
  // The data folder will hold the database (access tokens) and crypto stores: private from the start.
  await mkdir(dirname(passwordFile), { recursive: true, mode: 0o700 });
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  process.stderr.write(`trellis: first run: wrote ${path} (admin user "admin"; password in ${passwordFile}, deleted after the first login). Edit homeservers.main.url, then restart.\n`);
}

async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(prompt);
  } finally {
    rl.close();
  }
}

const TOKEN_USAGE = 'usage: trellis token create --name <name> | trellis token list | trellis token revoke <name>  [--config <path>]';

function formatTime(ms: number | null): string {
  return ms === null ? 'never' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * `trellis token create|list|revoke`: named API tokens, written straight into
 * the daemon's database (SQLite in WAL mode: the daemon may be running, and
 * asks the database on every request, so no restart or reload is needed).
 */
async function tokenCommand(path: string, positionals: string[], name: string | undefined): Promise<void> {
  const [sub, arg] = positionals;
  if (!['create', 'list', 'revoke'].includes(sub ?? '')) fail(TOKEN_USAGE, 2);
  let config;
  try {
    config = (await loadConfig(path)).config;
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : `cannot load ${path}: ${errorMessage(err)}`, 2);
  }
  let storage;
  try {
    storage = await openStorage({ type: config.database.type, path: config.database.path, url: config.database.url, cryptoDir: join(config.data_dir, 'crypto') });
  } catch (err) {
    fail(errorMessage(err), 2);
  }
  const tokens = new ApiTokens(storage.apiTokens);
  try {
    if (sub === 'create') {
      const tokenName = name ?? arg;
      if (!tokenName) fail(TOKEN_USAGE, 2);
      try {
        const created = await tokens.create(tokenName);
        // The token alone on stdout (for $(trellis token create …)); the words on stderr.
        process.stdout.write(`${created.token}\n`);
        process.stderr.write(
          `created API token ${created.name}: it is shown only now and never expires (revoke: trellis token revoke ${created.name}).\n` +
            'Send it as Authorization: Bearer <token> or ?access_token=<token>; for mbc, put it in ~/.config/maubot-cli.json (docs/maubot-compatibility.md).\n',
        );
      } catch (err) {
        if (err instanceof TokenNameError) fail(err.message, err.reason === 'invalid' ? 2 : 1);
        throw err;
      }
    } else if (sub === 'list') {
      const list = await tokens.list();
      if (list.length === 0) process.stderr.write('no API tokens; create one with: trellis token create --name <name>\n');
      else {
        const width = Math.max(4, ...list.map((t) => t.name.length));
        process.stdout.write(`${'NAME'.padEnd(width)}  CREATED               LAST USED\n`);
        for (const t of list) process.stdout.write(`${t.name.padEnd(width)}  ${formatTime(t.createdAt).padEnd(20)}  ${formatTime(t.lastUsedAt)}\n`);
      }
    } else {
      const tokenName = arg ?? name;
      if (!tokenName) fail(TOKEN_USAGE, 2);
      if (!(await tokens.revoke(tokenName))) fail(`no API token named ${tokenName} (trellis token list shows them)`, 1);
      process.stdout.write(`revoked API token ${tokenName}\n`);
    }
  } finally {
    await storage.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const commands = ['start', 'init', 'plugin', 'hash-password', 'import-maubot', 'token', 'help'];
  const command = argv[0] && commands.includes(argv[0]) ? argv[0] : 'start';
  const rest = command === 'start' && argv[0] !== 'start' ? argv : argv.slice(1);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      'admin-user': { type: 'string' },
      'admin-password': { type: 'string' },
      'homeserver-url': { type: 'string' },
      port: { type: 'string' },
      'public-port': { type: 'string' },
      force: { type: 'boolean' },
      out: { type: 'string', short: 'o' },
      password: { type: 'string' },
      'maubot-config': { type: 'string' },
      'dry-run': { type: 'boolean' },
      'check-config': { type: 'boolean' },
      name: { type: 'string' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  if (values.help || command === 'help') return void process.stdout.write(`${USAGE}\n`);

  switch (command) {
    case 'start': {
      const path = configPath(values.config);
      if (!existsSync(path)) {
        if (values['check-config']) fail(`config file ${path} not found`, 1);
        // An explicit path that does not exist is a mistake; the default path on a first run is not.
        if (values.config || process.env.TRELLIS_CONFIG)
          fail(`config file ${path} not found; create one with: trellis init --config ${path} --admin-user admin --admin-password '<at least 12 characters>'`, 2);
        await firstRunInit(path);
      }
      return values['check-config'] ? checkConfig(path) : start(path);
    }
    case 'init': {
      const path = configPath(values.config);
      const adminUser = values['admin-user'] ?? 'admin';
      const adminPassword = values['admin-password'] ?? (await readPassword('admin password: '));
      const port = values.port !== undefined ? Number(values.port) : undefined;
      if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) fail(`--port must be a port number, got "${values.port}"`, 2);
      const publicPort = values['public-port'] !== undefined ? Number(values['public-port']) : undefined;
      if (publicPort !== undefined && (!Number.isInteger(publicPort) || publicPort < 1 || publicPort > 65535)) fail(`--public-port must be a port number, got "${values['public-port']}"`, 2);
      try {
        await writeInitialConfig({ path, adminUser, adminPassword, homeserverUrl: values['homeserver-url'], port, publicPort, force: values.force });
      } catch (err) {
        fail(errorMessage(err), 2);
      }
      process.stdout.write(`wrote ${path}\nstart with: trellis start --config ${path}\n`);
      return;
    }
    case 'hash-password': {
      const password = values.password ?? (await readPassword('password: '));
      if (!password) fail('empty password', 2);
      process.stdout.write(`${await hashPassword(password)}\n`);
      return;
    }
    case 'import-maubot': {
      const maubotConfig = values['maubot-config'];
      if (!maubotConfig) fail('usage: trellis import-maubot --maubot-config <maubot config.yaml> [--config <trellis config>] [--dry-run]', 2);
      // Subcommand-only modules are imported when used, so `trellis start` never loads them (issue 12: start-up memory).
      const { importMaubot, MaubotImportError } = await import('../migrate/maubot.ts');
      try {
        const result = await importMaubot({ maubotConfig, trellisConfig: configPath(values.config), dryRun: values['dry-run'] ?? false });
        if (!result.ok) process.exitCode = 1;
      } catch (err) {
        fail(err instanceof MaubotImportError ? err.message : errorMessage(err), 2);
      }
      return;
    }
    case 'token':
      return tokenCommand(configPath(values.config), positionals, values.name);
    case 'plugin': {
      const [sub, target] = positionals;
      if (sub === 'build' && target) {
        const { buildPlugin } = await import('../plugin-package/build.ts');
        try {
          const { file, manifest, bytes, configType } = await buildPlugin(resolve(target), { outFile: values.out ? resolve(values.out) : undefined });
          process.stdout.write(`built ${manifest.id} ${manifest.version}: ${file} (${bytes} bytes)\n`);
          if (!configType.checked) process.stderr.write(`note: the config type was not checked against config_schema: ${configType.reason}\n`);
        } catch (err) {
          fail(errorMessage(err));
        }
        return;
      }
      if (sub === 'validate' && target) {
        const { validateArchiveFile } = await import('../plugin-package/validate-cli.ts');
        try {
          process.stdout.write(`${await validateArchiveFile(resolve(target))}\n`);
        } catch (err) {
          fail(errorMessage(err));
        }
        return;
      }
      fail('usage: trellis plugin build <dir> [--out <file>] | trellis plugin validate <archive>', 2);
    }
  }
}

main(process.argv.slice(2)).catch((err: Error) => fail(err.message));
