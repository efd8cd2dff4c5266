#!/usr/bin/env node
/**
 * The `trellis` command: argument parsing and the subcommands (start, init,
 * plugin build/validate, hash-password); signals for the running daemon.
 */
import { parseArgs } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { loadConfig, ConfigError } from '../config/load.ts';
import { writeInitialConfig } from '../config/init.ts';
import { hashPassword } from '../config/password.ts';
import { buildPlugin } from '../plugin-package/build.ts';
import { validateArchiveFile } from '../plugin-package/validate-cli.ts';
import { Daemon, VERSION } from '../daemon.ts';
import { INITIAL_PASSWORD_FILE } from '../api/routes/auth.ts';
import { errorMessage } from '../shared/error-message.ts';
import { importMaubot, MaubotImportError } from '../migrate/maubot.ts';

const USAGE = `trellis ${VERSION} — self-hosted Matrix bot platform

Usage:
  trellis [start] --config <path>           run the daemon in the foreground
  trellis init --config <path> --admin-user <name> --admin-password <pw>
               [--homeserver-url <url>] [--port <n>] [--force]
  trellis plugin build <dir> [--out <file>] bundle a TypeScript plugin into an archive
  trellis plugin validate <archive>          check an archive without installing it
  trellis hash-password [--password <pw>]   print an argon2id hash for admin.password_hash
  trellis import-maubot --maubot-config <maubot config.yaml> [--config <path>] [--dry-run]
                                            bring maubot's bot accounts and instances over
                                            (Trellis stopped; see docs/maubot-compatibility.md)
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
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
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
    void daemon.reload();
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

async function main(argv: string[]): Promise<void> {
  const commands = ['start', 'init', 'plugin', 'hash-password', 'import-maubot', 'help'];
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
      force: { type: 'boolean' },
      out: { type: 'string', short: 'o' },
      password: { type: 'string' },
      'maubot-config': { type: 'string' },
      'dry-run': { type: 'boolean' },
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
        // An explicit path that does not exist is a mistake; the default path on a first run is not.
        if (values.config || process.env.TRELLIS_CONFIG)
          fail(`config file ${path} not found; create one with: trellis init --config ${path} --admin-user admin --admin-password '<at least 12 characters>'`, 2);
        await firstRunInit(path);
      }
      return start(path);
    }
    case 'init': {
      const path = configPath(values.config);
      const adminUser = values['admin-user'] ?? 'admin';
      const adminPassword = values['admin-password'] ?? (await readPassword('admin password: '));
      const port = values.port !== undefined ? Number(values.port) : undefined;
      if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) fail(`--port must be a port number, got "${values.port}"`, 2);
      try {
        await writeInitialConfig({ path, adminUser, adminPassword, homeserverUrl: values['homeserver-url'], port, force: values.force });
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
      try {
        const result = await importMaubot({ maubotConfig, trellisConfig: configPath(values.config), dryRun: values['dry-run'] ?? false });
        if (!result.ok) process.exitCode = 1;
      } catch (err) {
        fail(err instanceof MaubotImportError ? err.message : errorMessage(err), 2);
      }
      return;
    }
    case 'plugin': {
      const [sub, target] = positionals;
      if (sub === 'build' && target) {
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
