/**
 * A small Open Trivia DB on 127.0.0.1, speaking its API as documented at
 * https://opentdb.com/api_config.php: `GET /api.php?amount=N` with optional
 * `category` (numeric id), `difficulty` and `type`, answering
 * `{response_code, results}` with HTML-entity-encoded texts (response_code
 * 1 = not enough questions, 2 = invalid parameter), and
 * `GET /api_category.php`. Tests put in the questions and can make it fail.
 */
import { createServer, type Server } from 'node:http';

export interface FakeQuestion {
  category: string;
  type: 'multiple' | 'boolean';
  difficulty: 'easy' | 'medium' | 'hard';
  question: string;
  correct_answer: string;
  incorrect_answers: string[];
}

/** OTDB's category ids (api_category.php), for the names these tests use. */
const CATEGORY_IDS: Record<string, number> = { 'General Knowledge': 9, 'Science &amp; Nature': 17, 'Science: Computers': 18, Sports: 21, Geography: 22, History: 23 };

export class FakeOpenTdb {
  readonly requests: URL[] = [];
  questions: FakeQuestion[] = [];
  /** When set, every request gets this HTTP status and no JSON. */
  failWith: number | null = null;
  readonly #server: Server;
  readonly port: number;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(questions: FakeQuestion[] = []): Promise<FakeOpenTdb> {
    let fake: FakeOpenTdb | undefined;
    const server = createServer((req, res) =>
      fake!.handle(req.url ?? '/', (status, body) => {
        res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeOpenTdb(server, (server.address() as { port: number }).port);
    fake.questions = questions;
    return fake;
  }

  handle(path: string, send: (status: number, body: unknown) => void): void {
    const url = new URL(path, this.url);
    this.requests.push(url);
    if (this.failWith !== null) return send(this.failWith, '<html><body>Service Unavailable</body></html>');
    if (url.pathname === '/api_category.php') {
      return send(200, { trivia_categories: Object.entries(CATEGORY_IDS).map(([name, id]) => ({ id, name: name.replace('&amp;', '&') })) });
    }
    if (url.pathname !== '/api.php') return send(404, '<html><body>Not Found</body></html>');
    const amount = Number(url.searchParams.get('amount'));
    const difficulty = url.searchParams.get('difficulty');
    const type = url.searchParams.get('type');
    const category = url.searchParams.get('category');
    if (!Number.isInteger(amount) || amount < 1 || amount > 50) return send(200, { response_code: 2, results: [] });
    if (difficulty && !['easy', 'medium', 'hard'].includes(difficulty)) return send(200, { response_code: 2, results: [] });
    if (type && !['multiple', 'boolean'].includes(type)) return send(200, { response_code: 2, results: [] });
    const matching = this.questions.filter((q) => (!difficulty || q.difficulty === difficulty) && (!type || q.type === type) && (!category || String(CATEGORY_IDS[q.category]) === category));
    if (matching.length < amount) return send(200, { response_code: 1, results: [] });
    send(200, { response_code: 0, results: matching.slice(0, amount) });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
