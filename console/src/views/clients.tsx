/** Bot accounts page: the accounts with their state, and adding one (registration, login, access token). */
import { useState } from 'preact/hooks';
import { api, shownName, type Client } from '../api.ts';
import { clients, now, refreshClients } from '../state.ts';
import { Avatar, Card, ConfirmButton, ErrorBox, ago, useAction } from '../ui.tsx';

type Method = 'register-token' | 'register-secret' | 'login' | 'token';

const METHODS: Array<[Method, string]> = [
  ['register-token', 'Register with a registration token'],
  ['register-secret', "Register with the homeserver's shared secret"],
  ['login', 'Log in to an existing account'],
  ['token', 'Use an existing access token'],
];

function AddClient() {
  const [method, setMethod] = useState<Method>('register-token');
  const [homeserver, setHomeserver] = useState('main');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [regToken, setRegToken] = useState('');
  const [accessToken, setAccessToken] = useState('');
  const [displayname, setDisplayname] = useState('');
  const [added, setAdded] = useState<string | null>(null);
  const action = useAction();
  const submit = (ev: Event) => {
    ev.preventDefault();
    setAdded(null);
    void action.run(async () => {
      const hs = encodeURIComponent(homeserver.trim());
      const profile = displayname.trim() ? { displayname: displayname.trim() } : {};
      let client: Client;
      if (method === 'token') client = await api<Client>('POST', '/client/new', { body: { homeserver: homeserver.trim(), access_token: accessToken.trim(), ...profile } });
      else if (method === 'login') client = await api<Client>('POST', `/client/auth/${hs}/login?update_client=true`, { body: { username, password, ...profile } });
      else {
        const body: Record<string, unknown> = { username, password, method: method === 'register-token' ? 'token' : 'shared_secret', ...profile };
        if (method === 'register-token' && regToken.trim()) body.registration_token = regToken.trim();
        client = await api<Client>('POST', `/client/auth/${hs}/register?update_client=true`, { body });
      }
      await refreshClients();
      setAdded(client.id);
      setPassword('');
      setAccessToken('');
      setRegToken('');
    });
  };
  const needsPassword = method !== 'token';
  return (
    <Card title="Add a bot account" id="add-client-title">
      <form onSubmit={submit} class="grid2">
        <div class="field">
          <label for="client-method">How</label>
          <select id="client-method" value={method} onChange={(e) => setMethod(e.currentTarget.value as Method)}>
            {METHODS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="client-hs">Homeserver</label>
          <input id="client-hs" value={homeserver} onInput={(e) => setHomeserver(e.currentTarget.value)} required />
          <small class="muted">A name from the config's homeservers section{method === 'token' ? ', or a full URL' : ''}.</small>
        </div>
        {needsPassword && (
          <>
            <div class="field">
              <label for="client-user">Username</label>
              <input id="client-user" value={username} autoComplete="off" placeholder="e.g. pingbot" onInput={(e) => setUsername(e.currentTarget.value)} required />
            </div>
            <div class="field">
              <label for="client-pass">Password</label>
              <input id="client-pass" type="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
            </div>
          </>
        )}
        {method === 'register-token' && (
          <div class="field">
            <label for="client-regtoken">Registration token</label>
            <input id="client-regtoken" value={regToken} autoComplete="off" placeholder="leave empty to use the configured one" onInput={(e) => setRegToken(e.currentTarget.value)} />
          </div>
        )}
        {method === 'token' && (
          <div class="field">
            <label for="client-token">Access token</label>
            <input id="client-token" type="password" autoComplete="off" value={accessToken} onInput={(e) => setAccessToken(e.currentTarget.value)} required />
          </div>
        )}
        <div class="field">
          <label for="client-name">Display name (optional)</label>
          <input id="client-name" value={displayname} onInput={(e) => setDisplayname(e.currentTarget.value)} />
        </div>
        <div class="form-actions span2">
          <ErrorBox error={action.error} />
          {added && (
            <p class="ok-text" role="status">
              Added {added}.
            </p>
          )}
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Adding…' : 'Add bot account'}
          </button>
        </div>
      </form>
    </Card>
  );
}

function ClientCard({ client, nowMs }: { client: Client; nowMs: number }) {
  const [name, setName] = useState(shownName(client) ?? '');
  const action = useAction();
  const readOnly = client.managed_by === 'config';
  const crypto = client.crypto;
  const encryption = !client.encryption ? 'off' : crypto ? ('error' in crypto && crypto.error ? `error: ${crypto.error}` : crypto.state) : 'not started';
  const uid = client.id.replace(/[^a-z0-9]/gi, '-');
  return (
    <li class="client" data-client={client.id}>
      <div class="who">
        <Avatar client={client} size={48} />
        <div class="names">
          <strong>{shownName(client) || client.id}</strong>
          <span class="mono small">{client.id}</span>
        </div>
      </div>
      <dl class="kv">
        <dt>Device</dt>
        <dd class="mono">{client.device_id ?? '—'}</dd>
        <dt>Encryption</dt>
        <dd>{encryption}</dd>
        <dt>Sync</dt>
        <dd>
          {client.sync_state}, last {ago(client.last_sync_at, nowMs)}
          {client.last_error && <span class="warn-text"> ({client.last_error})</span>}
        </dd>
        <dt>Homeserver</dt>
        <dd class="mono">{client.homeserver_name ?? client.homeserver}</dd>
        <dt>Instances</dt>
        <dd>{client.instances.length ? client.instances.map((i) => i.id).join(', ') : 'none'}</dd>
        <dt>Rooms</dt>
        <dd>{client.rooms.length}</dd>
      </dl>
      {readOnly && (
        <p class="note-box">
          Defined in the config file under <code>clients</code>; profile changes still work here.
        </p>
      )}
      <form
        class="inline"
        onSubmit={(ev) => {
          ev.preventDefault();
          void action.run(async () => {
            await api('PUT', `/client/${encodeURIComponent(client.id)}`, { body: { displayname: name } });
            await refreshClients();
          });
        }}
      >
        <label for={`name-${uid}`}>Display name</label>
        <input id={`name-${uid}`} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" disabled={action.busy}>
          Set
        </button>
      </form>
      <div class="inline">
        <label for={`avatar-${uid}`}>Avatar image</label>
        <input
          id={`avatar-${uid}`}
          type="file"
          accept="image/png,image/jpeg,image/gif,image/webp"
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (!file) return;
            void action.run(async () => {
              await api('PUT', `/client/${encodeURIComponent(client.id)}/avatar`, { raw: file, contentType: file.type || 'application/octet-stream' });
              await refreshClients();
            });
          }}
        />
      </div>
      {!readOnly && (
        <div class="inline">
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              void action.run(async () => {
                await api('PUT', `/client/${encodeURIComponent(client.id)}`, { body: { encryption: !client.encryption } });
                await refreshClients();
              })
            }
          >
            {client.encryption ? 'Turn encryption off' : 'Turn encryption on'}
          </button>
        </div>
      )}
      <ErrorBox error={action.error} />
      {!readOnly && (
        <ConfirmButton
          label="Remove"
          confirm={`Remove ${client.id}?`}
          onConfirm={() =>
            action
              .run(async () => {
                await api('DELETE', `/client/${encodeURIComponent(client.id)}`);
                await refreshClients();
              })
              .then(() => undefined)
          }
        />
      )}
    </li>
  );
}

export function Clients() {
  const list = clients.value;
  return (
    <div class="stack">
      <Card title="Bot accounts" id="clients-title">
        {list === null ? (
          <p class="muted">Loading…</p>
        ) : list.length === 0 ? (
          <p class="muted">No bot accounts yet. Add one below.</p>
        ) : (
          <ul class="client-list">
            {list.map((c) => (
              <ClientCard key={c.id} client={c} nowMs={now.value} />
            ))}
          </ul>
        )}
      </Card>
      <AddClient />
    </div>
  );
}
