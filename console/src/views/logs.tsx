/** Logs page: filtered history with paging and a live tail over the /logs websocket. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, token, wsUrl, type LogEntry, type LogRecord, type LogStreamMessage, type LogStreamRecord } from '../api.ts';
import { instances } from '../state.ts';
import { Card, ErrorBox, LevelBadge, time, useAction } from '../ui.tsx';

const LEVELS = ['debug', 'info', 'warn', 'error', 'critical'] as const;
const PAGE = 100;
const MAX_LINES = 2000;

/** A line shown: a stored record (with its id, for paging) or one from the live tail. */
type Line = LogEntry & { id?: number };

/** The websocket's record (maubot's fields and Trellis's) as the line the history shows. */
function fromStream(record: LogStreamRecord): Line {
  return { time: Date.parse(record.time), level: record.level, message: record.message, instance_id: record.instance_id, client_id: record.client_id, context: record.context };
}

function stackOf(entry: LogEntry): string | null {
  const ctx = entry.context;
  if (!ctx) return null;
  const err = ctx.err as { stack?: unknown } | undefined;
  if (err && typeof err.stack === 'string') return err.stack;
  return typeof ctx.stack === 'string' ? ctx.stack : null;
}

function LogLine({ entry }: { entry: LogEntry }) {
  const stack = stackOf(entry);
  const ctx = entry.context ? Object.entries(entry.context).filter(([k]) => k !== 'err' && k !== 'stack') : [];
  return (
    <li class={`log level-row-${entry.level}`}>
      <div class="log-head">
        <time dateTime={new Date(entry.time).toISOString()}>{time(entry.time)}</time>
        <LevelBadge level={entry.level} />
        {entry.instance_id && <span class="mono small">{entry.instance_id}</span>}
        {!entry.instance_id && entry.client_id && <span class="mono small">{entry.client_id}</span>}
      </div>
      <div class="log-msg">{entry.message}</div>
      {ctx.length > 0 && <div class="muted small mono">{ctx.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ')}</div>}
      {stack && (
        <details>
          <summary>Stack trace</summary>
          <pre>{stack}</pre>
        </details>
      )}
    </li>
  );
}

export function Logs() {
  const [level, setLevel] = useState<string>('info');
  const [instance, setInstance] = useState('');
  const [query, setQuery] = useState('');
  const [debounced, setDebounced] = useState('');
  const [lines, setLines] = useState<Line[]>([]);
  const [more, setMore] = useState(true);
  const [paused, setPaused] = useState(false);
  const action = useAction();
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    const t = setTimeout(() => setDebounced(query.trim()), 250);
    return () => clearTimeout(t);
  }, [query]);

  const params = (before?: number) => {
    const p = new URLSearchParams({ level, limit: String(PAGE) });
    if (instance) p.set('instance', instance);
    if (debounced) p.set('q', debounced);
    if (before !== undefined) p.set('before', String(before));
    return p.toString();
  };

  useEffect(() => {
    void action.run(async () => {
      const res = await api<{ records: LogRecord[] }>('GET', `/logs?${params()}`);
      setLines(res.records);
      setMore(res.records.length === PAGE);
    });
  }, [level, instance, debounced]);

  // Live tail: the server filters by level; instance and text are filtered here.
  useEffect(() => {
    const ws = new WebSocket(wsUrl(`/logs?level=${level}`));
    ws.onopen = () => ws.send(token.value ?? '');
    ws.onmessage = (ev) => {
      // The socket speaks maubot's protocol: {auth_success}, then {history} (the REST history above is used instead), then records.
      const message = JSON.parse(String(ev.data)) as LogStreamMessage;
      if ('auth_success' in message || 'history' in message || pausedRef.current) return;
      const entry = fromStream(message);
      if (instance && entry.instance_id !== instance) return;
      if (debounced && !`${entry.message} ${JSON.stringify(entry.context ?? {})}`.toLowerCase().includes(debounced.toLowerCase())) return;
      setLines((prev) => [entry, ...prev].slice(0, MAX_LINES));
    };
    return () => ws.close();
  }, [level, instance, debounced]);

  const older = () =>
    action.run(async () => {
      // Paging goes by record id: the oldest stored record shown (live lines come first and have none).
      const oldest = lines.findLast((line) => line.id !== undefined)?.id;
      if (oldest === undefined) return;
      const res = await api<{ records: LogRecord[] }>('GET', `/logs?${params(oldest)}`);
      setLines((prev) => [...prev, ...res.records]);
      setMore(res.records.length === PAGE);
    });

  return (
    <Card title="Logs" id="logs-title">
      <div class="filters" role="search">
        <div class="field">
          <label for="log-level">Level (and above)</label>
          <select id="log-level" value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="log-instance">Instance</label>
          <select id="log-instance" value={instance} onChange={(e) => setInstance(e.currentTarget.value)}>
            <option value="">All</option>
            {(instances.value ?? []).map((i) => (
              <option key={i.id} value={i.id}>
                {i.id}
              </option>
            ))}
          </select>
        </div>
        <div class="field grow">
          <label for="log-search">Search</label>
          <input id="log-search" type="search" value={query} placeholder="text in message or context" onInput={(e) => setQuery(e.currentTarget.value)} />
        </div>
        <label class="check">
          <input type="checkbox" checked={paused} onChange={(e) => setPaused(e.currentTarget.checked)} />
          Pause live tail
        </label>
      </div>
      <ErrorBox error={action.error} />
      {lines.length === 0 && !action.busy && <p class="muted">No log records match.</p>}
      <ol class="logs" data-testid="log-lines" aria-live="off">
        {lines.map((e, i) => (
          <LogLine key={`${e.time}-${i}`} entry={e} />
        ))}
      </ol>
      {more && lines.length > 0 && (
        <button type="button" onClick={older} disabled={action.busy}>
          Older records
        </button>
      )}
    </Card>
  );
}
