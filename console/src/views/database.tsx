/** Read-only view of an instance's plugin storage: its one table kv (key, value as JSON text, updated_at). */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Card, ErrorBox, useAction } from '../ui.tsx';

interface Table {
  name: string;
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && v > 1e12 && v < 1e13) return new Date(v).toLocaleString();
  return JSON.stringify(v);
}

export function Database({ id }: { id: string }) {
  const [tables, setTables] = useState<Table[] | null>(null);
  const [prefix, setPrefix] = useState('');
  const action = useAction();
  const load = () =>
    action.run(async () => {
      const query = `rows_as_dict=true&limit=1000&order=key:asc${prefix ? `&prefix=${encodeURIComponent(prefix)}` : ''}`;
      const res = await api<{ columns: string[]; rows: Array<Record<string, unknown>> }>('GET', `/instance/${encodeURIComponent(id)}/database/kv?${query}`);
      setTables([{ name: 'kv', columns: res.columns, rows: res.rows }]);
    });
  useEffect(() => {
    void load();
  }, [id]);
  return (
    <Card
      title={
        <>
          Database of <code>{id}</code>
        </>
      }
      id="db-title"
      actions={<a href={`/instances/${encodeURIComponent(id)}`}>Back to instance</a>}
    >
      <p class="muted small">Read-only view of the plugin's storage for this instance.</p>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <label for="db-prefix">Key prefix</label>
        <input id="db-prefix" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} />
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={action.error} />
      {tables?.map((t) => (
        <section key={t.name}>
          <h3>
            {t.name} <span class="muted small">({t.rows.length} rows)</span>
          </h3>
          {t.rows.length === 0 ? (
            <p class="muted">Empty.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    {t.columns.map((c) => (
                      <th key={c} scope="col">
                        {c}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {t.rows.map((r, i) => (
                    <tr key={i}>
                      {t.columns.map((c) => (
                        <td key={c} class="mono">
                          {cell(r[c])}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ))}
    </Card>
  );
}
