/**
 * Stored log records (bounded), queried by level, instance and text for
 * `/logs` and the console.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

export interface LogRecord {
  id: number;
  time: number;
  level: string;
  message: string;
  instanceId: string | null;
  clientId: string | null;
  context: Record<string, unknown> | null;
}

export interface LogQuery {
  levels?: string[];
  instanceId?: string;
  search?: string;
  /** Only records with an id below this (for paging backwards). */
  before?: number;
  limit?: number;
}

/** Recent log records, bounded to `keep` rows so the database never grows without limit. */
export class LogRecordRepository {
  readonly #db: Kysely<Database>;
  readonly #keep: number;
  #sinceTrim = 0;
  constructor(db: Kysely<Database>, keep: number) {
    this.#db = db;
    this.#keep = keep;
  }

  async append(record: Omit<LogRecord, 'id'>): Promise<number> {
    const result = await this.#db
      .insertInto('log_records')
      .values({
        time: record.time,
        level: record.level,
        message: record.message,
        instance_id: record.instanceId,
        client_id: record.clientId,
        context: record.context ? JSON.stringify(record.context) : null,
      })
      .executeTakeFirst();
    const id = Number(result.insertId);
    // Trim in batches rather than per insert to keep logging cheap.
    if (++this.#sinceTrim >= 100) {
      this.#sinceTrim = 0;
      await this.#db
        .deleteFrom('log_records')
        .where('id', '<=', id - this.#keep)
        .execute();
    }
    return id;
  }

  async query(q: LogQuery): Promise<LogRecord[]> {
    let query = this.#db.selectFrom('log_records').selectAll();
    if (q.levels?.length) query = query.where('level', 'in', q.levels);
    if (q.instanceId) query = query.where('instance_id', '=', q.instanceId);
    if (q.before) query = query.where('id', '<', q.before);
    if (q.search) {
      const pattern = `%${q.search.replace(/[%_\\]/g, (c) => '\\' + c)}%`;
      query = query.where(sql<boolean>`message like ${pattern} escape '\\'`);
    }
    const rows = await query
      .orderBy('id', 'desc')
      .limit(Math.min(q.limit ?? 100, 1000))
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      time: Number(r.time),
      level: r.level,
      message: r.message,
      instanceId: r.instance_id,
      clientId: r.client_id,
      context: r.context ? (JSON.parse(r.context) as Record<string, unknown>) : null,
    }));
  }
}
