/**
 * One RCON exchange with rcon-client: connect, log in, send one command,
 * close. Everything is bounded by one deadline, and failures come back as
 * an {@link RconFailure} with a kind the plugin can explain. Error texts
 * never contain the password (rcon-client's do not, and ours neither).
 */
import { Rcon } from 'rcon-client';

export interface RconSettings {
  host: string;
  port: number;
  password: string;
  timeoutMs: number;
}

export type RconFailureKind = 'unreachable' | 'auth' | 'timeout' | 'closed' | 'other';

export class RconFailure extends Error {
  readonly kind: RconFailureKind;
  constructor(kind: RconFailureKind, message: string) {
    super(message);
    this.name = 'RconFailure';
    this.kind = kind;
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNRESET', 'EPIPE']);

export function classify(err: unknown): RconFailure {
  if (err instanceof RconFailure) return err;
  const error = err as { code?: string; message?: string };
  const message = error?.message ?? String(err);
  if (error?.code && UNREACHABLE.has(error.code)) return new RconFailure('unreachable', message);
  if (error?.code === 'ETIMEDOUT') return new RconFailure('timeout', message);
  if (/Authentication failed/i.test(message)) return new RconFailure('auth', message);
  if (/^Timeout for packet/i.test(message)) return new RconFailure('timeout', message);
  if (/Connection closed|Not connected/i.test(message)) return new RconFailure('closed', message);
  return new RconFailure('other', message);
}

/** Runs one command; resolves with the server's answer (its first response packet). */
export async function runRconCommand(settings: RconSettings, command: string): Promise<string> {
  const rcon = new Rcon({ host: settings.host, port: settings.port, password: settings.password, timeout: settings.timeoutMs });
  // rcon-client re-emits socket errors; without a listener an 'error' event would crash the process.
  rcon.on('error', () => undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RconFailure('timeout', `no answer within ${settings.timeoutMs} ms`)), settings.timeoutMs);
  });
  try {
    return await Promise.race([
      (async () => {
        await rcon.connect();
        return await rcon.send(command);
      })(),
      deadline,
    ]);
  } catch (err) {
    throw classify(err);
  } finally {
    clearTimeout(timer);
    const socket = rcon.socket;
    if (socket && rcon.authenticated && socket.writable) {
      // A polite close; destroyed below anyway if the server does not close its side.
      await Promise.race([rcon.end().catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
    }
    rcon.socket?.destroy();
  }
}
