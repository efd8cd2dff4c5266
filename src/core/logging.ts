/**
 * JSON log lines (pino), the in-memory hub that feeds the log websocket and
 * stored records, and child loggers per account/instance.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel, PluginLogger } from '../sdk/index.ts';
import { redactText } from './redact.ts';

export interface LogEntry {
  time: number;
  level: LogLevel;
  message: string;
  instanceId: string | null;
  clientId: string | null;
  context: Record<string, unknown> | null;
}

export type LogListener = (entry: LogEntry) => void;

const LEVEL_NAMES: Record<number, LogLevel> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 55: 'critical' };
const RESERVED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'instance', 'client']);

/**
 * Every log line goes through here: pino formats it as one JSON line
 * (journald-friendly), the hub scrubs secrets, writes it to stdout and fans
 * the parsed entry out to listeners (database history, live websocket,
 * admin-room notifier).
 */
export class LogHub {
  readonly root: PinoLogger<'critical'>;
  readonly #listeners = new Set<LogListener>();
  readonly #out: (line: string) => void;

  constructor(options: { level?: string; write?: (line: string) => void } = {}) {
    this.#out = options.write ?? ((line) => process.stdout.write(line));
    this.root = pino(
      {
        level: options.level ?? 'info',
        customLevels: { critical: 55 },
        base: undefined,
        messageKey: 'msg',
        timestamp: pino.stdTimeFunctions.epochTime,
        formatters: { level: (label) => ({ level: label }) },
        // Key-based redaction for structured context; redactText covers values anywhere.
        redact: { paths: ['access_token', 'accessToken', 'password', '*.access_token', '*.accessToken', '*.password', 'headers.authorization'], censor: '[REDACTED]' },
      },
      { write: (line: string) => this.#write(line) },
    );
  }

  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #write(rawLine: string): void {
    const line = redactText(rawLine);
    this.#out(line);
    if (this.#listeners.size === 0) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const context: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(parsed)) if (!RESERVED.has(k)) context[k] = v;
    const entry: LogEntry = {
      time: typeof parsed.time === 'number' ? parsed.time : Date.now(),
      level: typeof parsed.level === 'string' ? (parsed.level as LogLevel) : (LEVEL_NAMES[Number(parsed.level)] ?? 'info'),
      message: String(parsed.msg ?? ''),
      instanceId: typeof parsed.instance === 'string' ? parsed.instance : null,
      clientId: typeof parsed.client === 'string' ? parsed.client : null,
      context: Object.keys(context).length ? context : null,
    };
    for (const listener of this.#listeners) {
      try {
        listener(entry);
      } catch {
        // A failing listener must never break logging itself.
      }
    }
  }
}

export type Logger = PluginLogger & { child(bindings: Record<string, string>): Logger };

function serializeContext(context?: Record<string, unknown>): Record<string, unknown> {
  if (!context) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(context)) {
    out[k] = v instanceof Error ? { message: v.message, stack: v.stack, name: v.name } : v;
  }
  return out;
}

export function wrapLogger(logger: PinoLogger<'critical'>): Logger {
  return {
    debug: (msg, ctx) => logger.debug(serializeContext(ctx), msg),
    info: (msg, ctx) => logger.info(serializeContext(ctx), msg),
    warn: (msg, ctx) => logger.warn(serializeContext(ctx), msg),
    error: (msg, ctx) => logger.error(serializeContext(ctx), msg),
    critical: (msg, ctx) => logger.critical(serializeContext(ctx), msg),
    child: (bindings) => wrapLogger(logger.child(bindings)),
  };
}
