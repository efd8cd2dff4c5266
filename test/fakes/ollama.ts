/**
 * A fake Ollama server on loopback speaking Ollama's HTTP API, for the
 * official `ollama` client:
 *
 * - `POST /api/chat`: with `"stream": true` (Ollama's default when the field
 *   is absent) an `application/x-ndjson` body of chunks
 *   `{"model","created_at","message":{"role":"assistant","content":"…"},"done":false}`
 *   and a last `{"…","done":true,"done_reason":"stop",` durations, eval counts `}`;
 *   with `"stream": false` one JSON object with the whole message.
 *   An unknown model → 404 `{"error":"model \"x\" not found, try pulling it first"}`;
 *   no model → 400 `{"error":"model is required"}`.
 * - `GET /api/version`, `GET /api/tags`, `GET /` ("Ollama is running").
 *
 * Model names without a tag mean `:latest`, as in Ollama. Answers are split
 * into word tokens; `chunkDelayMs` paces the chunks (and `firstChunkDelayMs`
 * the response headers), so tests can stream slowly or time out.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeOllamaOptions {
  /** Installed models (default: llama3.2:latest). */
  models?: string[];
  chunkDelayMs?: number;
}

interface ChatMessage {
  role: string;
  content: string;
}

export function normalizeModel(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

/** Splits text into tokens the way a model streams them: words with their leading space. */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

export class FakeOllama {
  readonly requests: RecordedRequest[] = [];
  readonly models: Set<string>;
  chunkDelayMs: number;
  /** Delay before the response headers of /api/chat are sent. */
  firstChunkDelayMs = 0;
  /** The assistant's answer to a conversation (default: a fixed sentence quoting the last question). */
  answer: (messages: ChatMessage[], model: string) => string = (messages) => `You asked: ${messages.at(-1)?.content ?? ''}. The answer is forty-two, as always.`;
  /** Streamed requests the client gave up on (closed the connection before the end). */
  aborted = 0;
  readonly #server: Server;

  private constructor(server: Server, options: FakeOllamaOptions) {
    this.#server = server;
    this.models = new Set((options.models ?? ['llama3.2']).map(normalizeModel));
    this.chunkDelayMs = options.chunkDelayMs ?? 0;
  }

  static async start(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
    const server = createServer();
    const fake = new FakeOllama(server, options);
    server.on('request', (req, res) => {
      fake.#handle(req, res).catch((err: Error) => {
        if (!res.headersSent) fake.#json(res, 500, { error: err.message });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.#port = (fake.#server.address() as { port: number }).port;
    return fake;
  }

  #port = 0;

  /** Stays the same after stop(), so a test can show the server gone at that address. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The chat requests received, in order. */
  get chats(): Array<{ model: string; messages: ChatMessage[]; stream?: boolean }> {
    return this.requests.filter((r) => r.path === '/api/chat').map((r) => r.body as { model: string; messages: ChatMessage[]; stream?: boolean });
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async #readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const raw = req.method === 'POST' ? await this.#readBody(req) : '';
    let body: unknown = null;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        this.requests.push({ method: req.method ?? '', path, body: raw });
        return this.#json(res, 400, { error: 'invalid character in request body' });
      }
    }
    this.requests.push({ method: req.method ?? '', path, body });

    if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Ollama is running');
      return;
    }
    if (req.method === 'GET' && path === '/api/version') return this.#json(res, 200, { version: '0.12.6' });
    if (req.method === 'GET' && path === '/api/tags') {
      return this.#json(res, 200, {
        models: [...this.models].map((name) => ({
          name,
          model: name,
          modified_at: '2025-10-01T12:00:00.000000000Z',
          size: 2019393189,
          digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
          details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
        })),
      });
    }
    if (req.method === 'POST' && path === '/api/chat') return this.#chat(body as Record<string, unknown> | null, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found');
  }

  async #chat(request: Record<string, unknown> | null, res: ServerResponse): Promise<void> {
    const model = typeof request?.model === 'string' ? request.model : '';
    if (!model) return this.#json(res, 400, { error: 'model is required' });
    if (!this.models.has(normalizeModel(model))) return this.#json(res, 404, { error: `model "${model}" not found, try pulling it first` });
    const messages = Array.isArray(request?.messages) ? (request.messages as ChatMessage[]) : [];
    const answer = this.answer(messages, model);
    const stream = request?.stream !== false;
    const started = process.hrtime.bigint();
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        closed = true;
        this.aborted++;
      }
    });
    if (this.firstChunkDelayMs) await sleep(this.firstChunkDelayMs);
    if (closed) return;
    const tokens = tokenize(answer);
    const final = (content: string) => {
      const total = Number(process.hrtime.bigint() - started);
      return {
        model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content },
        done_reason: 'stop',
        done: true,
        total_duration: total,
        load_duration: Math.round(total * 0.1),
        prompt_eval_count: messages.reduce((n, m) => n + tokenize(String(m.content ?? '')).length, 0) + 10,
        prompt_eval_duration: Math.round(total * 0.2),
        eval_count: tokens.length,
        eval_duration: Math.round(total * 0.7),
      };
    };
    if (!stream) {
      for (let i = 0; i < tokens.length && this.chunkDelayMs; i++) await sleep(this.chunkDelayMs);
      if (closed) return;
      return this.#json(res, 200, final(answer));
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const token of tokens) {
      if (closed) return;
      res.write(JSON.stringify({ model, created_at: new Date().toISOString(), message: { role: 'assistant', content: token }, done: false }) + '\n');
      if (this.chunkDelayMs) await sleep(this.chunkDelayMs);
    }
    if (closed) return;
    res.end(JSON.stringify(final('')) + '\n');
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
