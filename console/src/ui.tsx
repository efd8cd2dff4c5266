/** Shared UI pieces: cards, badges, avatars, times and ages, confirm buttons, error boxes, async actions. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, shownAvatar, shownName, type Client } from './api.ts';

export function ago(ms: number | null, nowMs: number): string {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function time(ms: number): string {
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

export function LevelBadge({ level }: { level: string }) {
  return <span class={`badge level-${level}`}>{level.toUpperCase()}</span>;
}

/** mxc → thumbnail on the bot's homeserver; falls back to initials when media needs auth or is missing. */
export function Avatar({
  client,
  size = 32,
}: {
  client: (Pick<Client, 'id' | 'displayname' | 'avatar_url' | 'homeserver'> & Partial<Pick<Client, 'remote_displayname' | 'remote_avatar_url'>>) | undefined;
  size?: number;
}) {
  const [broken, setBroken] = useState(false);
  const label = (client && shownName(client)) || client?.id || '?';
  const initial = label.replace(/^@/, '').charAt(0).toUpperCase();
  const m = (client && shownAvatar(client))?.match(/^mxc:\/\/([^/]+)\/(.+)$/);
  if (m && client && !broken) {
    const src = `${client.homeserver.replace(/\/$/, '')}/_matrix/media/v3/thumbnail/${m[1]}/${m[2]}?width=${size * 2}&height=${size * 2}&method=crop`;
    return <img class="avatar" src={src} width={size} height={size} alt="" onError={() => setBroken(true)} />;
  }
  return (
    <span class="avatar avatar-initial" style={{ width: `${size}px`, height: `${size}px` }} aria-hidden="true">
      {initial}
    </span>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const problems = error instanceof ApiError ? error.problems : [];
  return (
    <div class="error-box" role="alert">
      <strong>{message}</strong>
      {problems.length > 0 && (
        <ul>
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A button that asks for a second, explicit click before doing something destructive. */
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => Promise<void> | void; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={props.confirm}>
      <span>{props.confirm}</span>
      <button
        type="button"
        class="danger"
        disabled={busy}
        autoFocus
        onClick={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        Yes, {props.label.toLowerCase()}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function Card({ title, children, actions, id }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={id}>
      <header class="card-head">
        <h2 id={id}>{title}</h2>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** Runs an async action, tracking busy state and the last error for display. */
export function useAction(): { busy: boolean; error: unknown; run: (fn: () => Promise<unknown>) => Promise<boolean>; setError: (e: unknown) => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}
