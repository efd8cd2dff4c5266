/** API tokens page: named, long-lived tokens for scripts and mbc — create (shown once), list, revoke. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { ApiTokenInfo } from '../../../src/api/schemas.ts';
import { Card, ConfirmButton, ErrorBox, ago, time, useAction } from '../ui.tsx';

export function Tokens() {
  const [list, setList] = useState<ApiTokenInfo[] | null>(null);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const load = useAction();
  const create = useAction();
  const revoke = useAction();
  const refresh = () => load.run(async () => setList((await api<{ tokens: ApiTokenInfo[] }>('GET', '/tokens')).tokens));
  useEffect(() => void refresh(), []);
  const submit = (ev: Event) => {
    ev.preventDefault();
    setCreated(null);
    void create.run(async () => {
      const res = await api<ApiTokenInfo & { token: string }>('POST', '/tokens', { body: { name: name.trim() } });
      setCreated({ name: res.name, token: res.token });
      setName('');
      await refresh();
    });
  };
  const now = Date.now();
  return (
    <div class="stack">
      <Card title="API tokens" id="tokens-title">
        <p class="muted">
          Named tokens for scripts and <code>mbc</code>. They never expire (console sign-ins do); revoke one here or with <code>trellis token revoke &lt;name&gt;</code>.
        </p>
        <ErrorBox error={load.error ?? revoke.error} />
        {list === null ? (
          <p class="muted">Loading…</p>
        ) : list.length === 0 ? (
          <p>No API tokens yet.</p>
        ) : (
          <table class="tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((t) => (
                <tr key={t.name} data-token={t.name}>
                  <td class="mono">{t.name}</td>
                  <td>{time(t.created_at)}</td>
                  <td>{ago(t.last_used_at, now)}</td>
                  <td>
                    <ConfirmButton
                      label="Revoke"
                      confirm={`Revoke token ${t.name}? Scripts using it stop working at once.`}
                      onConfirm={() =>
                        revoke
                          .run(async () => {
                            await api('DELETE', `/tokens/${encodeURIComponent(t.name)}`);
                            await refresh();
                          })
                          .then(() => undefined)
                      }
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="New token" id="new-token-title">
        <form onSubmit={submit} class="stack">
          <div class="field">
            <label for="token-name">Name</label>
            <input id="token-name" name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="ci" pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}" required />
            <small class="muted">Letters, digits, "_", "." or "-"; what the token is for.</small>
          </div>
          <ErrorBox error={create.error} />
          <div class="form-actions">
            <button type="submit" class="primary" disabled={create.busy}>
              {create.busy ? 'Creating…' : 'Create token'}
            </button>
          </div>
        </form>
        {created && (
          <div role="status" class="new-token">
            <p class="ok-text">
              Token <strong>{created.name}</strong> created. Copy it now: it is not shown again.
            </p>
            <input class="mono" readOnly value={created.token} aria-label={`The token ${created.name}`} onFocus={(e) => e.currentTarget.select()} />
          </div>
        )}
      </Card>
    </div>
  );
}
