/** The console's entry: login form or the app shell with its pages. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { api, setToken, token } from './api.ts';
import { live, startSession, stopSession } from './state.ts';
import { match, navigate, onLinkClick, path } from './router.ts';
import { ErrorBox, useAction } from './ui.tsx';
import { Dashboard } from './views/dashboard.tsx';
import { InstanceEditor, InstanceList } from './views/instances.tsx';
import { Clients } from './views/clients.tsx';
import { Plugins } from './views/plugins.tsx';
import { Logs } from './views/logs.tsx';
import { Database } from './views/database.tsx';
import { Webhooks } from './views/webhooks.tsx';
import { Tokens } from './views/tokens.tsx';

function Login() {
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const action = useAction();
  const submit = (ev: Event) => {
    ev.preventDefault();
    void action.run(async () => {
      const res = await api<{ token: string }>('POST', '/auth/login', { body: { username, password } });
      setToken(res.token);
    });
  };
  return (
    <main class="login">
      <form class="card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Trellis</h1>
        <p class="muted">Sign in with the admin account from the daemon's config.</p>
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required autoFocus />
        </label>
        <ErrorBox error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

const NAV: Array<[string, string]> = [
  ['/', 'Dashboard'],
  ['/instances', 'Instances'],
  ['/bots', 'Bot accounts'],
  ['/plugins', 'Plugins'],
  ['/logs', 'Logs'],
  ['/tokens', 'API tokens'],
];

function Page() {
  const p = path.value;
  let params: Record<string, string> | null;
  if (match('/', p)) return <Dashboard />;
  if (match('/instances', p)) return <InstanceList />;
  if (match('/instances/new', p)) return <InstanceEditor id={null} />;
  if ((params = match('/instances/:id/database', p))) return <Database id={params.id} />;
  if ((params = match('/instances/:id/webhooks', p))) return <Webhooks id={params.id} />;
  if ((params = match('/instances/:id', p))) return <InstanceEditor id={params.id} />;
  if (match('/bots', p)) return <Clients />;
  if (match('/plugins', p)) return <Plugins />;
  if (match('/logs', p)) return <Logs />;
  if (match('/tokens', p)) return <Tokens />;
  return (
    <section class="card">
      <h2>Not found</h2>
      <p>
        There is no console page at <code>{p}</code>. <a href="/">Go to the dashboard</a>.
      </p>
    </section>
  );
}

function Shell() {
  const p = path.value;
  const current = (href: string) => (href === '/' ? p === '/' : p === href || p.startsWith(href + '/'));
  return (
    <div class="shell" onClick={onLinkClick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/">
          Trellis
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={current(href) ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class={`live live-${live.value}`} role="status" title="Live updates from the daemon">
          {live.value === 'live' ? 'Live' : live.value === 'connecting' ? 'Connecting…' : 'Offline'}
        </span>
        <button
          type="button"
          class="logout"
          onClick={() => {
            // Revoke the token on the server too (best effort: the console forgets it either way).
            void api('POST', '/auth/logout').catch(() => undefined);
            setToken(null);
            navigate('/');
          }}
        >
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page />
      </main>
    </div>
  );
}

function App() {
  const t = token.value;
  useEffect(() => {
    if (t) startSession();
    else stopSession();
  }, [t]);
  return t ? <Shell /> : <Login />;
}

const root = document.getElementById('app')!;
// Drop the static "Loading…" placeholder; Preact appends to existing children otherwise.
root.textContent = '';
render(<App />, root);
