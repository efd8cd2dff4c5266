/**
 * A fake Minecraft server's RCON port on loopback, speaking the Source RCON
 * protocol the way the vanilla server does:
 *
 *   packet = int32le size | int32le id | int32le type | body (UTF-8) | 0x00 0x00
 *   (size counts everything after itself: 4 + 4 + body + 2)
 *
 * - SERVERDATA_AUTH (3) with the right password → SERVERDATA_AUTH_RESPONSE (2)
 *   echoing the request id; a wrong (or empty) password → AUTH_RESPONSE with id -1.
 * - SERVERDATA_EXECCOMMAND (2) once authenticated → SERVERDATA_RESPONSE_VALUE (0)
 *   with the same id; an answer longer than 4096 bytes is split into several
 *   RESPONSE_VALUE packets with that id, as Minecraft's RconClient does.
 *   A command before authenticating gets the auth failure (id -1).
 * - Any other type → RESPONSE_VALUE "Unknown request <type in hex>".
 * - An incoming packet larger than the server accepts (1460 bytes) closes the connection.
 *
 * Commands are answered like a vanilla server (whitelist add/remove/list,
 * list, say); tests may replace `respond` for anything else.
 */
import { createServer, type Server, type Socket } from 'node:net';

export const SERVERDATA_AUTH = 3;
export const SERVERDATA_AUTH_RESPONSE = 2;
export const SERVERDATA_EXECCOMMAND = 2;
export const SERVERDATA_RESPONSE_VALUE = 0;
/** Largest body of one response packet; longer answers span several packets. */
export const MAX_RESPONSE_BODY = 4096;
/** Largest packet (including its size field) the vanilla server reads. */
export const MAX_INCOMING_PACKET = 1460;

export interface RconPacket {
  id: number;
  type: number;
  body: string;
}

export function encodePacket(packet: RconPacket): Buffer {
  return encodeRaw(packet.id, packet.type, Buffer.from(packet.body, 'utf8'));
}

function encodeRaw(id: number, type: number, body: Buffer): Buffer {
  const buffer = Buffer.alloc(14 + body.length);
  buffer.writeInt32LE(10 + body.length, 0);
  buffer.writeInt32LE(id, 4);
  buffer.writeInt32LE(type, 8);
  body.copy(buffer, 12);
  // The two trailing NULs are already zero.
  return buffer;
}

export class RconProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RconProtocolError';
  }
}

/**
 * Splits a byte stream into packets. Returns the complete packets and the
 * bytes of an incomplete one at the end (to be prefixed to the next read).
 */
export function decodePackets(buffer: Buffer, maxPacket = Infinity): { packets: RconPacket[]; rest: Buffer } {
  const packets: RconPacket[] = [];
  let offset = 0;
  while (buffer.length - offset >= 4) {
    const size = buffer.readInt32LE(offset);
    if (size < 10) throw new RconProtocolError(`packet size ${size} is below the minimum of 10`);
    if (size + 4 > maxPacket) throw new RconProtocolError(`packet of ${size + 4} bytes exceeds the limit of ${maxPacket}`);
    if (buffer.length - offset < size + 4) break;
    const id = buffer.readInt32LE(offset + 4);
    const type = buffer.readInt32LE(offset + 8);
    const bodyEnd = offset + 4 + size - 2;
    if (buffer[bodyEnd] !== 0 || buffer[bodyEnd + 1] !== 0) throw new RconProtocolError('packet does not end with two NUL bytes');
    packets.push({ id, type, body: buffer.subarray(offset + 12, bodyEnd).toString('utf8') });
    offset += size + 4;
  }
  return { packets, rest: buffer.subarray(offset) };
}

/** The RESPONSE_VALUE packets for one answer: bodies of at most 4096 bytes, all with the request's id. */
export function responsePackets(id: number, text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return [encodeRaw(id, SERVERDATA_RESPONSE_VALUE, bytes)];
  const packets: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += MAX_RESPONSE_BODY) {
    packets.push(encodeRaw(id, SERVERDATA_RESPONSE_VALUE, bytes.subarray(start, start + MAX_RESPONSE_BODY)));
  }
  return packets;
}

export interface ReceivedCommand {
  command: string;
  /** The id the client gave the packet. */
  id: number;
}

export interface FakeRconOptions {
  password?: string;
  /** Player names the fake's "Mojang lookup" does not know. */
  unknownPlayers?: string[];
}

const NAME = /^[A-Za-z0-9_]{1,16}$/;

export class FakeRcon {
  password: string;
  /** Authenticated commands, in arrival order. */
  readonly commands: ReceivedCommand[] = [];
  /** Every auth attempt: whether the password was right (the password itself is not kept). */
  readonly authAttempts: Array<{ ok: boolean }> = [];
  readonly whitelist = new Set<string>();
  readonly unknownPlayers: Set<string>;
  /** When true, the server accepts connections and reads packets but never answers (for timeouts). */
  silent = false;
  /** Answers a command; the default behaves like a vanilla server for the commands the tests use. */
  respond: (command: string) => string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, options: FakeRconOptions) {
    this.#server = server;
    this.password = options.password ?? 'rcon-password';
    this.unknownPlayers = new Set((options.unknownPlayers ?? []).map((n) => n.toLowerCase()));
    this.respond = (command) => this.vanilla(command);
  }

  static async start(options: FakeRconOptions = {}): Promise<FakeRcon> {
    const server = createServer();
    const fake = new FakeRcon(server, options);
    server.on('connection', (socket) => fake.#serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.#port = (fake.#server.address() as { port: number }).port;
    return fake;
  }

  get host(): string {
    return '127.0.0.1';
  }

  /** TCP connections accepted so far (health checks connect without logging in). */
  connections = 0;

  #port = 0;

  /** Stays the same after stop(), so a test can show the server gone at that address. */
  get port(): number {
    return this.#port;
  }

  /** What a vanilla 1.21 server answers. */
  vanilla(command: string): string {
    const parts = command.trim().split(/\s+/);
    const [verb, sub, arg] = parts;
    if (verb === 'whitelist') {
      if (sub === 'add' || sub === 'remove') {
        if (!arg || !NAME.test(arg) || this.unknownPlayers.has(arg.toLowerCase())) return 'That player does not exist';
        const key = arg.toLowerCase();
        if (sub === 'add') {
          if (this.whitelist.has(key)) return 'Player is already whitelisted';
          this.whitelist.add(key);
          return `Added ${arg} to the whitelist`;
        }
        if (!this.whitelist.delete(key)) return 'Player is not whitelisted';
        return `Removed ${arg} from the whitelist`;
      }
      if (sub === 'list') {
        const names = [...this.whitelist];
        return names.length ? `There are ${names.length} whitelisted player(s): ${names.join(', ')}` : 'There are no whitelisted players';
      }
    }
    if (verb === 'list') return 'There are 0 of a max of 20 players online: ';
    if (verb === 'say') return '';
    return `Unknown or incomplete command, see below for error${command}<--[HERE]`;
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    this.connections++;
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let authed = false;
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let packets: RconPacket[];
      try {
        ({ packets, rest: pending } = decodePackets(pending, MAX_INCOMING_PACKET));
      } catch {
        socket.destroy();
        return;
      }
      if (this.silent) return;
      for (const packet of packets) {
        if (packet.type === SERVERDATA_AUTH) {
          authed = packet.body !== '' && packet.body === this.password;
          this.authAttempts.push({ ok: authed });
          socket.write(encodeRaw(authed ? packet.id : -1, SERVERDATA_AUTH_RESPONSE, Buffer.alloc(0)));
        } else if (packet.type === SERVERDATA_EXECCOMMAND) {
          if (!authed) {
            socket.write(encodeRaw(-1, SERVERDATA_AUTH_RESPONSE, Buffer.alloc(0)));
            continue;
          }
          this.commands.push({ command: packet.body, id: packet.id });
          for (const out of responsePackets(packet.id, this.respond(packet.body))) socket.write(out);
        } else {
          for (const out of responsePackets(packet.id, `Unknown request ${packet.type.toString(16)}`)) socket.write(out);
        }
      }
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
