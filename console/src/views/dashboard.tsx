/** Dashboard: every instance with its bot and state, daemon health, warnings and errors. */
import { shownName, type Client, type Instance, type LogEntry } from '../api.ts';
import { clients, health, instances, notifications, now } from '../state.ts';
import { Avatar, Card, LevelBadge, StateBadge, ago, time } from '../ui.tsx';

function HealthCard() {
  const h = health.value;
  if (!h)
    return (
      <Card title="Daemon health" id="health-title">
        <p class="muted">Loading…</p>
      </Card>
    );
  const syncing = h.clients.filter((c) => c.state === 'syncing' || (c.last_sync_age_seconds !== null && c.last_sync_age_seconds < 90)).length;
  return (
    <Card title="Daemon health" id="health-title">
      <dl class="stats" data-testid="health">
        <div>
          <dt>Status</dt>
          <dd>
            <span class={`badge health-${h.status}`}>{h.status === 'ok' ? 'healthy' : 'degraded'}</span>
          </dd>
        </div>
        <div>
          <dt>Instances running</dt>
          <dd>
            {h.instances.running} / {h.instances.enabled}
          </dd>
        </div>
        <div>
          <dt>Bot accounts syncing</dt>
          <dd>
            {syncing} / {h.clients.length}
          </dd>
        </div>
        <div>
          <dt>Errors (5 min)</dt>
          <dd>{h.errors_last_5m}</dd>
        </div>
      </dl>
    </Card>
  );
}

function InstanceRow({ inst, client, nowMs }: { inst: Instance; client: Client | undefined; nowMs: number }) {
  const rooms = inst.rooms.includes('*') ? 'all rooms' : inst.hears_no_room ? 'none (hears nothing)' : `${inst.rooms.length} room${inst.rooms.length === 1 ? '' : 's'}`;
  return (
    <li class={`instance-row state-row-${inst.state}`} data-instance={inst.id} data-state={inst.state}>
      <div class="who">
        <Avatar client={client ?? { id: inst.primary_user, displayname: 'disable', avatar_url: 'disable', homeserver: '' }} />
        <div class="names">
          <a href={`/instances/${encodeURIComponent(inst.id)}`} class="instance-id">
            {inst.id}
          </a>
          <span class="muted small">
            {inst.type} · {client && shownName(client) ? `${shownName(client)} ` : ''}
            <span class="mono">{inst.primary_user}</span>
          </span>
        </div>
        <StateBadge state={inst.state} />
      </div>
      <dl class="metrics">
        <div>
          <dt>Rooms</dt>
          <dd title={inst.rooms.join('\n')}>{rooms}</dd>
        </div>
        <div>
          <dt>Last sync</dt>
          <dd>{ago(client?.last_sync_at ?? null, nowMs)}</dd>
        </div>
        <div>
          <dt>Events</dt>
          <dd>{inst.events_handled}</dd>
        </div>
        <div>
          <dt>Errors (1 h)</dt>
          <dd class={inst.errors_last_hour > 0 ? 'warn-text' : ''}>{inst.errors_last_hour}</dd>
        </div>
      </dl>
      {inst.last_error && inst.state !== 'running' && (
        <p class="last-error" role="note">
          Last error: {inst.last_error}
        </p>
      )}
    </li>
  );
}

function Notification({ entry }: { entry: LogEntry }) {
  const ctx = entry.context ? Object.entries(entry.context).filter(([k]) => k !== 'err') : [];
  return (
    <li class={`note level-row-${entry.level}`}>
      <div class="note-head">
        <LevelBadge level={entry.level} />
        <time dateTime={new Date(entry.time).toISOString()}>{time(entry.time)}</time>
        {entry.instance_id && (
          <a href={`/instances/${encodeURIComponent(entry.instance_id)}`} class="mono small">
            {entry.instance_id}
          </a>
        )}
        {!entry.instance_id && entry.client_id && <span class="mono small">{entry.client_id}</span>}
      </div>
      <p class="note-msg">{entry.message}</p>
      {ctx.length > 0 && <p class="muted small mono note-ctx">{ctx.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ')}</p>}
    </li>
  );
}

export function Dashboard() {
  const list = instances.value;
  const byId = new Map((clients.value ?? []).map((c) => [c.id, c]));
  const nowMs = now.value;
  const notes = notifications.value;
  return (
    <div class="dashboard">
      <div class="dash-main">
        <Card
          title="Instances"
          id="dash-instances-title"
          actions={
            <a class="button" href="/instances/new">
              New instance
            </a>
          }
        >
          {list === null ? (
            <p class="muted">Loading…</p>
          ) : list.length === 0 ? (
            <p class="muted">
              No instances yet. <a href="/instances/new">Create one</a> after adding a <a href="/bots">bot account</a>.
            </p>
          ) : (
            <ul class="instance-list" data-testid="instance-list">
              {list.map((inst) => (
                <InstanceRow key={inst.id} inst={inst} client={byId.get(inst.primary_user)} nowMs={nowMs} />
              ))}
            </ul>
          )}
        </Card>
      </div>
      <aside class="dash-side">
        <HealthCard />
        <Card title="Warnings and errors" id="notes-title" actions={<a href="/logs">All logs</a>}>
          {notes.length === 0 ? (
            <p class="muted">Nothing to report.</p>
          ) : (
            <ul class="notes" data-testid="notifications" aria-live="polite">
              {notes.slice(0, 50).map((e, i) => (
                <Notification key={`${e.time}-${i}-${e.message}`} entry={e} />
              ))}
            </ul>
          )}
        </Card>
      </aside>
    </div>
  );
}
