/**
 * maubot's own management web app (the built React app shipped in the PyPI
 * package maubot 0.6.0, `.venv-maubot`) served on a loopback port the way
 * maubot's `server.py` serves it, in front of a Trellis daemon: the app at
 * `/_matrix/maubot/` (index.html for any unknown path under it, as maubot's
 * 404 middleware does), `paths.json` with the API path, and
 * `/_matrix/maubot/v1/*` passed through to Trellis, websocket upgrades (the
 * log stream) included. Same origin for app and API, as with maubot.
 * node:http and node:net only.
 */
import { readFile, stat } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import { type Socket, connect } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { maubotWebAppDir } from './maubot.ts';

export const UI_BASE = '/_matrix/maubot';
export const API_PATH = '/_matrix/maubot/v1';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain',
};

export interface MaubotWebApp {
  /** The app's address, e.g. http://127.0.0.1:1234/_matrix/maubot/ */
  readonly url: string;
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves maubot's web app from `buildDir` with the API of the Trellis listening at `apiOrigin` (http://host:port). */
export async function serveMaubotWebApp(apiOrigin: string, buildDir: string = maubotWebAppDir()): Promise<MaubotWebApp> {
  const api = new URL(apiOrigin);
  const index = await readFile(join(buildDir, 'index.html'));
  const sockets = new Set<Socket>();

  const proxy = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = httpRequest({ host: api.hostname, port: api.port, method: req.method, path: req.url, headers: { ...req.headers, host: api.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${err.message}`);
    });
    req.pipe(upstream);
  };

  const serveFile = async (path: string, res: ServerResponse) => {
    // maubot: static files and the root files; anything else under the base is the app (index.html).
    const file = normalize(join(buildDir, decodeURIComponent(path)));
    if (file.startsWith(buildDir + sep)) {
      const info = await stat(file).catch(() => null);
      if (info?.isFile()) {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(await readFile(file));
        return;
      }
    }
    res.writeHead(200, { 'content-type': TYPES['.html']! });
    res.end(index);
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === API_PATH || path.startsWith(`${API_PATH}/`)) return proxy(req, res);
    if (path === UI_BASE) {
      res.writeHead(302, { location: `${UI_BASE}/` });
      return res.end();
    }
    if (!path.startsWith(`${UI_BASE}/`) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    if (path === `${UI_BASE}/paths.json`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ api_path: API_PATH }));
    }
    serveFile(path.slice(UI_BASE.length + 1), res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });

  // The log websocket: the upgrade request goes to Trellis as it came, then bytes flow both ways.
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(`${API_PATH}/`)) return client.destroy();
    const upstream = connect(Number(api.port), api.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? api.host : req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: `${origin}${UI_BASE}/`,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
