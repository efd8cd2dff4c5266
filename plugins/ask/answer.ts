/**
 * One question to an Ollama model through the official `ollama` client,
 * streamed: every chunk's text goes to `onText` (the answer so far), the
 * whole exchange is bounded by a timeout, and failures come back as an
 * {@link AskFailure} whose kind the plugin can explain politely.
 */
import { Ollama, type Message } from 'ollama';

export interface AskSettings {
  host: string;
  model: string;
  systemPrompt: string;
  timeoutMs: number;
  /** Stop reading (and drop the request) once the answer is this long. */
  maxChars?: number;
  /** Aborts the request (e.g. the instance stops). */
  signal?: AbortSignal;
}

export interface AskResult {
  text: string;
  doneReason: string | undefined;
  /** Tokens generated, as the server counted them. */
  evalCount: number | undefined;
  /** The answer reached maxChars and was cut there. */
  truncated: boolean;
}

export type AskFailureKind = 'unreachable' | 'model_missing' | 'timeout' | 'aborted' | 'server';

export class AskFailure extends Error {
  readonly kind: AskFailureKind;
  /** The answer received before the failure (may be empty). */
  readonly partial: string;
  constructor(kind: AskFailureKind, message: string, partial = '') {
    super(message);
    this.name = 'AskFailure';
    this.kind = kind;
    this.partial = partial;
  }
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code || cause?.message ? `${err.message} (${cause.code ?? cause.message})` : err.message;
}

export function classify(err: unknown, partial: string, timedOut: boolean, aborted: boolean): AskFailure {
  if (err instanceof AskFailure) return err;
  const message = describeError(err);
  if (timedOut) return new AskFailure('timeout', message, partial);
  if (aborted) return new AskFailure('aborted', message, partial);
  const status = (err as { status_code?: number }).status_code;
  if ((err as Error)?.name === 'ResponseError') {
    if (status === 404 && /not found/i.test(message)) return new AskFailure('model_missing', message, partial);
    return new AskFailure('server', `HTTP ${status}: ${message}`, partial);
  }
  // Node's fetch: "fetch failed" with the socket error (ECONNREFUSED, ENOTFOUND…) as its cause.
  if (err instanceof TypeError && /fetch failed/i.test(err.message)) return new AskFailure('unreachable', message, partial);
  return new AskFailure('server', message, partial);
}

export function chatMessages(systemPrompt: string, question: string): Message[] {
  const messages: Message[] = [];
  if (systemPrompt.trim()) messages.push({ role: 'system', content: systemPrompt });
  messages.push({ role: 'user', content: question });
  return messages;
}

export async function askModel(settings: AskSettings, question: string, onText: (soFar: string) => void): Promise<AskResult> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`no complete answer within ${settings.timeoutMs} ms`));
  }, settings.timeoutMs);
  const onAbort = () => controller.abort(settings.signal?.reason);
  settings.signal?.addEventListener('abort', onAbort, { once: true });
  // Every request of this client (the POST and the streamed body) ends when the controller aborts.
  const boundFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal });
  const client = new Ollama({ host: settings.host, fetch: boundFetch });
  let text = '';
  try {
    if (settings.signal?.aborted) throw new AskFailure('aborted', 'stopped before the question was sent');
    const stream = await client.chat({ model: settings.model, messages: chatMessages(settings.systemPrompt, question), stream: true });
    let doneReason: string | undefined;
    let evalCount: number | undefined;
    for await (const chunk of stream) {
      const piece = chunk.message?.content ?? '';
      if (piece) {
        text += piece;
        if (settings.maxChars && text.length >= settings.maxChars) {
          // Enough: the rest would not fit in a message. Closing the request stops the generation.
          controller.abort();
          text = text.slice(0, settings.maxChars);
          onText(text);
          return { text, doneReason: 'length', evalCount, truncated: true };
        }
        onText(text);
      }
      if (chunk.done) {
        doneReason = chunk.done_reason;
        evalCount = chunk.eval_count;
      }
    }
    return { text, doneReason, evalCount, truncated: false };
  } catch (err) {
    throw classify(err, text, timedOut, controller.signal.aborted && !timedOut);
  } finally {
    clearTimeout(timer);
    settings.signal?.removeEventListener('abort', onAbort);
  }
}
