/**
 * The servers the community plugin's !health checks, faked on loopback:
 *
 * - FakeRconPort: a TCP listener speaking Source RCON (what a game server's
 *   RCON port is): packet = int32le size | int32le id | int32le type | body | 0x00 0x00.
 *   SERVERDATA_AUTH (3) → SERVERDATA_AUTH_RESPONSE (2) with the request id
 *   (or -1 for a wrong password); SERVERDATA_EXECCOMMAND (2) after auth →
 *   SERVERDATA_RESPONSE_VALUE (0) with the same id and an empty body.
 *   The plugin only opens a TCP connection; the protocol is there so the
 *   port behaves like a real one to anything that talks to it.
 * - FakeOllama: an HTTP server answering `GET /api/version` with
 *   `{"version": "..."}` like Ollama, and anything else with Ollama's plain-text
 *   "404 page not found".
 *
 * stop() closes the listener and every open connection, so the port then
 * refuses connections the way a stopped server's does.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

function encode(id: number, type: number, body: string): Buffer {
  const text = Buffer.from(body, 'utf8');
  const packet = Buffer.alloc(4 + 4 + 4 + text.length + 2);
  packet.writeInt32LE(4 + 4 + text.length + 2, 0);
  packet.writeInt32LE(id, 4);
  packet.writeInt32LE(type, 8);
  text.copy(packet, 12);
  return packet;
}

export class FakeRconPort {
  port = 0;
  /** Connections accepted so far. */
  connections = 0;
  readonly #password: string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(password: string) {
    this.#password = password;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  static async start(password = 'secret'): Promise<FakeRconPort> {
    const fake = new FakeRconPort(password);
    fake.port = await listen(fake.#server);
    return fake;
  }

  #serve(socket: Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    let authed = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4) {
        const size = buffer.readInt32LE(0);
        if (size < 10 || size > 4096) return void socket.destroy();
        if (buffer.length < 4 + size) return;
        const id = buffer.readInt32LE(4);
        const type = buffer.readInt32LE(8);
        const body = buffer.subarray(12, 4 + size - 2).toString('utf8');
        buffer = buffer.subarray(4 + size);
        if (type === 3) {
          authed = body === this.#password;
          socket.write(encode(authed ? id : -1, 2, ''));
        } else if (type === 2) {
          socket.write(authed ? encode(id, 0, '') : encode(-1, 2, ''));
        } else {
          socket.write(encode(id, 0, `Unknown request ${type.toString(16)}`));
        }
      }
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export class FakeOllama {
  url = '';
  readonly version: string;
  /** Requests so far, as "METHOD /path". */
  readonly requests: string[] = [];
  readonly #server: HttpServer;

  private constructor(version: string) {
    this.version = version;
    this.#server = createHttpServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/api/version' && (req.method === 'GET' || req.method === 'HEAD')) return json(200, { version: this.version });
      // Ollama's router (Gin) answers unknown routes like this.
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
    });
  }

  static async start(version = '0.12.6'): Promise<FakeOllama> {
    const fake = new FakeOllama(version);
    fake.url = `http://127.0.0.1:${await listen(fake.#server)}`;
    return fake;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
