/**
 * The read-only SQL of `POST /instance/{id}/database/query` (maubot's
 * database browser): a Trellis plugin's storage is a key/value store, shown
 * as one table `kv (key, value, updated_at)`. Only a SELECT on that table is
 * understood (columns or *, WHERE with = / != / LIKE joined by AND, ORDER BY,
 * LIMIT); any other statement is refused, nothing is ever written. Pure: the
 * caller hands in the rows.
 */

export const KV_TABLE = 'kv';
export const KV_COLUMNS = ['key', 'value', 'updated_at'] as const;
type KvColumn = (typeof KV_COLUMNS)[number];
export type KvRow = Record<KvColumn, string | number>;

/** maubot's `{table: {columns: {col: …}}}` for the kv table. */
export const KV_SCHEMA = {
  [KV_TABLE]: {
    columns: {
      key: { type: 'TEXT', nullable: false, default: null, primary: true, unique: true },
      value: { type: 'TEXT', nullable: false, default: null, primary: false, unique: false },
      updated_at: { type: 'BIGINT', nullable: false, default: null, primary: false, unique: false },
    },
  },
};

export const MAX_QUERY_ROWS = 1000;

export interface KvQuery {
  columns: KvColumn[];
  where: Array<{ column: KvColumn; op: '=' | '!=' | 'LIKE'; value: string | number }>;
  order: Array<{ column: KvColumn; desc: boolean }>;
  limit: number;
}

/** A statement this view does not run: `readOnly` for anything but a SELECT (403), else not understood (400). */
export class KvQueryError extends Error {
  readonly readOnly: boolean;
  constructor(message: string, readOnly = false) {
    super(message);
    this.readOnly = readOnly;
  }
}

const READ_ONLY = 'the database of a Trellis instance is read-only here: only SELECT … FROM kv is run (plugins write their storage themselves)';

function column(name: string): KvColumn {
  const bare = name.replace(/^"(.*)"$/, '$1').toLowerCase();
  if ((KV_COLUMNS as readonly string[]).includes(bare)) return bare as KvColumn;
  throw new KvQueryError(`unknown column ${JSON.stringify(name)}; the kv table has ${KV_COLUMNS.join(', ')}`);
}

function literal(text: string): string | number {
  if (/^'(?:[^']|'')*'$/.test(text)) return text.slice(1, -1).replace(/''/g, "'");
  if (/^-?\d+$/.test(text)) return Number(text);
  throw new KvQueryError(`${JSON.stringify(text)} is not a value; quote strings with '…'`);
}

/** Parses one statement; throws KvQueryError naming what is not supported. */
export function parseKvQuery(sql: string, defaultLimit = 100): KvQuery {
  const text = sql.trim().replace(/;\s*$/, '');
  if (!/^select\b/i.test(text)) throw new KvQueryError(READ_ONLY, true);
  if (text.includes(';')) throw new KvQueryError('one statement at a time');
  const m = text.match(/^select\s+(?<cols>.+?)\s+from\s+(?<table>"?[a-z_][a-z0-9_]*"?)(?:\s+where\s+(?<where>.+?))?(?:\s+order\s+by\s+(?<order>.+?))?(?:\s+limit\s+(?<limit>\d+))?$/is);
  if (!m?.groups) throw new KvQueryError("not understood; this view runs SELECT <columns or *> FROM kv [WHERE col = '…' [AND …]] [ORDER BY col [ASC|DESC]] [LIMIT n]");
  const { cols = '', table = '', where, order, limit } = m.groups;
  if (table.replace(/"/g, '').toLowerCase() !== KV_TABLE) throw new KvQueryError(`no table ${table}; the only table is ${KV_TABLE}`);
  const columns = cols.trim() === '*' ? [...KV_COLUMNS] : cols.split(',').map((c) => column(c.trim()));
  const conditions = where
    ? where.split(/\s+and\s+/i).map((cond) => {
        const c = cond.trim().match(/^("?\w+"?)\s*(=|!=|<>|like)\s*('(?:[^']|'')*'|-?\d+)$/i);
        if (!c) throw new KvQueryError(`condition ${JSON.stringify(cond.trim())} not understood; use col = 'value', col != 'value' or col LIKE 'pattern%'`);
        const op = c[2]!.toUpperCase() === 'LIKE' ? 'LIKE' : c[2] === '=' ? '=' : '!=';
        return { column: column(c[1]!), op: op as KvQuery['where'][number]['op'], value: literal(c[3]!) };
      })
    : [];
  const ordering = order
    ? order.split(',').map((part) => {
        const o = part.trim().match(/^("?\w+"?)(?:\s+(asc|desc))?$/i);
        if (!o) throw new KvQueryError(`ORDER BY ${JSON.stringify(part.trim())} not understood`);
        return { column: column(o[1]!), desc: o[2]?.toLowerCase() === 'desc' };
      })
    : [];
  return { columns, where: conditions, order: ordering, limit: Math.min(limit === undefined ? defaultLimit : Number(limit), MAX_QUERY_ROWS) };
}

function like(value: string, pattern: string): boolean {
  const re = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${re}$`, 's').test(value);
}

/** Runs a parsed query over the rows: the selected columns of the matching rows, ordered and limited. */
export function runKvQuery(query: KvQuery, rows: KvRow[]): Array<Array<string | number>> {
  const matching = rows.filter((row) =>
    query.where.every(({ column: c, op, value }) => {
      const cell = row[c];
      if (op === 'LIKE') return like(String(cell), String(value));
      return op === '=' ? cell === value : cell !== value;
    }),
  );
  if (query.order.length) {
    matching.sort((a, b) => {
      for (const { column: c, desc } of query.order) {
        const x = a[c];
        const y = b[c];
        if (x === y) continue;
        return (x < y ? -1 : 1) * (desc ? -1 : 1);
      }
      return 0;
    });
  }
  return matching.slice(0, query.limit).map((row) => query.columns.map((c) => row[c]));
}
