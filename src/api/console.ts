import { existsSync } from 'node:fs';
import { readdir, readFile, stat, mkdir, writeFile, rm } from 'node:fs/promises';
import { extname, join, dirname, relative } from 'node:path';
import { PROJECT_ROOT } from '../shared/paths.ts';
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from './deps.ts';

/*
 * The web console: a single-page app bundled by esbuild from console/src.
 * `npm install` builds console/dist (the "prepare" script); the daemon serves
 * that when it is current, and otherwise bundles the sources in memory, so
 * `npm start` always serves the console matching the checkout.
 */

export const CONSOLE_ROOT = join(PROJECT_ROOT, 'console');
const SRC = join(CONSOLE_ROOT, 'src');
const DIST = join(CONSOLE_ROOT, 'dist');

export interface ConsoleAsset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.ico': 'image/x-icon',
};

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

/** Bundles console/src into assets keyed by URL path ("/index.html", "/app.js", …). */
export async function buildConsoleAssets(options: { minify?: boolean } = {}): Promise<Map<string, ConsoleAsset>> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: { app: join(SRC, 'main.tsx') },
    bundle: true,
    write: false,
    outdir: '/',
    format: 'esm',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    target: 'es2022',
    minify: options.minify ?? true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    loader: { '.css': 'css' },
    logLevel: 'silent',
    legalComments: 'none',
  });
  const assets = new Map<string, ConsoleAsset>();
  for (const file of result.outputFiles) {
    assets.set(file.path, { body: Buffer.from(file.contents), type: TYPES[extname(file.path)] ?? 'application/octet-stream' });
  }
  const html = await readFile(join(CONSOLE_ROOT, 'index.html'));
  assets.set('/index.html', { body: html, type: TYPES['.html'] });
  return assets;
}

/** Writes the bundle to console/dist (used by `npm install` through scripts/build-console.ts). */
export async function writeConsoleDist(): Promise<string[]> {
  const assets = await buildConsoleAssets();
  await rm(DIST, { recursive: true, force: true });
  await mkdir(DIST, { recursive: true });
  for (const [path, asset] of assets) {
    await mkdir(dirname(join(DIST, path)), { recursive: true });
    await writeFile(join(DIST, path), asset.body);
  }
  return [...assets.keys()];
}

async function readDist(): Promise<Map<string, ConsoleAsset>> {
  const assets = new Map<string, ConsoleAsset>();
  for (const entry of await readdir(DIST, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    assets.set('/' + relative(DIST, full).split('\\').join('/'), { body: await readFile(full), type: TYPES[extname(full)] ?? 'application/octet-stream' });
  }
  return assets;
}

/** console/dist if it is newer than every source file, else a fresh in-memory build; a release bundle has only console/dist. */
export async function loadConsoleAssets(): Promise<{ assets: Map<string, ConsoleAsset>; source: 'dist' | 'memory' }> {
  if (!existsSync(SRC)) {
    const assets = await readDist();
    if (assets.has('/app.js')) return { assets, source: 'dist' };
    throw new Error(`${DIST} has no app.js and there is no console/src to build it from; unpack the release again`);
  }
  const sourcesChanged = Math.max(await newestMtime(SRC), (await stat(join(CONSOLE_ROOT, 'index.html'))).mtimeMs);
  const distBuilt = await stat(join(DIST, 'index.html')).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (distBuilt >= sourcesChanged) {
    const assets = await readDist();
    if (assets.has('/app.js')) return { assets, source: 'dist' };
  }
  return { assets: await buildConsoleAssets(), source: 'memory' };
}

/**
 * The console's Content-Security-Policy: its own scripts only (index.html has
 * no inline script), no framing (clickjacking), API and websocket calls to
 * this origin only. Inline styles stay allowed for the style attributes
 * Preact renders; images may come from the bots' homeservers (avatars).
 * The websocket origin is spelled out because older browsers do not count
 * ws:/wss: as 'self'.
 */
export function consolePolicy(host: string | undefined): string {
  const sockets = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob: http: https:",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Serves the console at `/`: known assets by path, and index.html for any
 * other GET that a browser navigates to (client-side routes such as
 * /instances/foo), except API, health and metrics paths: the function it
 * returns serves index.html for those (true) and leaves the rest (false).
 */
export function registerConsole(app: FastifyInstance, assets: Map<string, ConsoleAsset>): ((req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => boolean) | null {
  const index = assets.get('/index.html');
  const send = (asset: ConsoleAsset, reply: import('fastify').FastifyReply, immutable: boolean) =>
    reply
      .type(asset.type)
      .header('cache-control', immutable ? 'public, max-age=300' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      .header('content-security-policy', consolePolicy(reply.request.headers.host))
      .send(asset.body);

  for (const [path, asset] of assets) {
    if (path === '/index.html') continue;
    app.get(path, { config: { public: true }, schema: { hide: true } }, async (_req, reply) => send(asset, reply, true));
  }
  if (!index) return null;
  app.get('/', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => send(index, reply, false));
  // server.ts's not-found handler asks this first; anything else is its 404/405.
  return (req, reply) => {
    const path = req.url.split('?')[0];
    const apiLike = path.startsWith(API_PREFIX) || path.startsWith('/_matrix') || path === '/health' || path === '/metrics' || extname(path) !== '';
    if (req.method !== 'GET' || apiLike) return false;
    void send(index, reply, false);
    return true;
  };
}
