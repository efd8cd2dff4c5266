/**
 * The hooks of a webhooks instance (org.trellis.webhooks), through the
 * plugin's admin API (/instance/<id>/plugin/hooks): each with its URL and a
 * copy button, last delivery and failures; create and edit with a transform
 * editor; send a test payload.
 */
import { useEffect, useState } from 'preact/hooks';
import type { HookTestResult, HookView } from '../../../plugins/webhooks/admin-types.ts';
import { api, type JsonSchema } from '../api.ts';
import { instances, now, plugins } from '../state.ts';
import { ago, Card, ConfirmButton, ErrorBox, useAction } from '../ui.tsx';

export const WEBHOOKS_PLUGIN = 'org.trellis.webhooks';

type Draft = Record<string, string | boolean>;

const EMPTY: Draft = { name: '', room: '', sender: '', format: 'generic', expires: '', allow_get: false, rate_limit_per_minute: '600', transform: '', token: '', hmac_secret: '' };

function draftOf(hook: HookView): Draft {
  const { name, room, sender, format, expires, allow_get, transform } = hook;
  return { ...EMPTY, name, room, sender, format, expires, allow_get, transform, rate_limit_per_minute: String(hook.rate_limit_per_minute) };
}

/** The fields to send: secrets only when typed (empty = keep), numbers as numbers. */
function bodyOf(draft: Draft, isNew: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { ...draft, rate_limit_per_minute: Number(draft.rate_limit_per_minute) };
  for (const secret of ['token', 'hmac_secret']) if (draft[secret] === '') delete body[secret];
  if (isNew && draft.expires === '') delete body.expires;
  return body;
}

function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="small"
      onClick={async () => {
        await navigator.clipboard.writeText(text);
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? 'Copied' : 'Copy URL'}
    </button>
  );
}

function HookForm(props: { instanceId: string; hook: HookView | null; formats: string[]; senders: string[]; onDone: () => void }) {
  const { hook } = props;
  const [draft, setDraft] = useState<Draft>(hook ? draftOf(hook) : EMPTY);
  const save = useAction();
  const readOnly = hook?.source === 'config';
  const set = (key: string, value: string | boolean) => setDraft({ ...draft, [key]: value });
  const text = (key: string, label: string, hint?: string, type = 'text') => (
    <div class="field">
      <label for={`hook-${key}`}>{label}</label>
      <input id={`hook-${key}`} type={type} value={String(draft[key])} disabled={readOnly && !['token', 'hmac_secret'].includes(key)} onInput={(e) => set(key, e.currentTarget.value)} />
      {hint && <p class="muted small">{hint}</p>}
    </div>
  );
  return (
    <form
      aria-label={hook ? `Edit hook ${hook.name}` : 'New hook'}
      onSubmit={async (e) => {
        e.preventDefault();
        const base = `/instance/${encodeURIComponent(props.instanceId)}/plugin/hooks`;
        const body = readOnly ? Object.fromEntries(Object.entries(bodyOf(draft, false)).filter(([k]) => k === 'token' || k === 'hmac_secret')) : bodyOf(draft, !hook);
        if (await save.run(() => api(hook ? 'PUT' : 'POST', hook ? `${base}/${encodeURIComponent(hook.id)}` : base, { body }))) props.onDone();
      }}
    >
      {readOnly && <p class="muted">Declared in the instance config: only its token and HMAC secret can be set here.</p>}
      {text('name', 'Name', '3–64 characters, unique in its room')}
      {text('room', 'Room id', 'e.g. !abc:example.org; the bot (or the sender) must be in it')}
      <div class="field">
        <label for="hook-sender">Post as</label>
        <select id="hook-sender" value={String(draft.sender)} disabled={readOnly} onChange={(e) => set('sender', e.currentTarget.value)}>
          <option value="">the instance's bot account</option>
          {props.senders.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="hook-format">Format</label>
        <select id="hook-format" value={String(draft.format)} disabled={readOnly} onChange={(e) => set('format', e.currentTarget.value)}>
          {props.formats.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </div>
      {text('expires', 'Expires', 'an ISO date-time or a duration such as 7d; empty = never')}
      {text('rate_limit_per_minute', 'Requests a minute', '0 = no limit', 'number')}
      <div class="field">
        <label>
          <input type="checkbox" checked={Boolean(draft.allow_get)} disabled={readOnly} onChange={(e) => set('allow_get', e.currentTarget.checked)} /> Also accept GET (query string as payload)
        </label>
      </div>
      {text('token', 'Token', hook?.has_token ? 'set; type a new one to replace it' : 'optional: required as Authorization: Bearer or X-Gitlab-Token (16+ characters)', 'password')}
      {text('hmac_secret', 'HMAC secret', hook?.has_hmac_secret ? 'set; type a new one to replace it' : "optional: checks GitHub's X-Hub-Signature-256 (16+ characters)", 'password')}
      <div class="field">
        <label for="hook-transform">Transformation function</label>
        <textarea id="hook-transform" class="mono" rows={8} spellcheck={false} value={String(draft.transform)} disabled={readOnly} onInput={(e) => set('transform', e.currentTarget.value)} />
        <p class="muted small">
          JavaScript in a sandbox: reads <code>data</code>, sets{' '}
          <code>
            result = {'{'} version: "v2", plain, html, msgtype {'}'}
          </code>{' '}
          or returns it. Checked when saved; overrides the format.
        </p>
      </div>
      <ErrorBox error={save.error} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled={save.busy}>
          {save.busy ? 'Saving…' : hook ? 'Save hook' : 'Create hook'}
        </button>
        <button type="button" onClick={props.onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function TestPayload({ instanceId, hook }: { instanceId: string; hook: HookView }) {
  const [payload, setPayload] = useState('{"text": "Test message from the Trellis console"}');
  const [result, setResult] = useState<HookTestResult | null>(null);
  const send = useAction();
  return (
    <div class="test-payload">
      <label for={`test-${hook.id}`}>Test payload (JSON)</label>
      <textarea id={`test-${hook.id}`} class="mono" rows={3} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />
      <button
        type="button"
        disabled={send.busy}
        onClick={() =>
          send.run(async () => {
            setResult(null);
            const body = JSON.parse(payload) as unknown;
            setResult(await api<HookTestResult>('POST', `/instance/${encodeURIComponent(instanceId)}/plugin/hooks/${encodeURIComponent(hook.id)}/test`, { body }));
          })
        }
      >
        {send.busy ? 'Sending…' : 'Send test payload'}
      </button>
      <ErrorBox error={send.error} />
      {result && (
        <p role="status" class={result.ok ? 'ok-text' : 'error-text'}>
          {result.delivered
            ? `Posted (${result.event_id}).`
            : result.ok
              ? 'Accepted; not posted yet (is the homeserver reachable?).'
              : `Refused with ${result.status}: ${JSON.stringify(result.answer)}`}
        </p>
      )}
    </div>
  );
}

export function Webhooks({ id }: { id: string }) {
  const [hooks, setHooks] = useState<HookView[] | null>(null);
  const [editing, setEditing] = useState<HookView | 'new' | null>(null);
  const load = useAction();
  const remove = useAction();
  const instance = instances.value?.find((i) => i.id === id);
  const schema = plugins.value?.find((p) => p.id === WEBHOOKS_PLUGIN)?.config_schema as JsonSchema | undefined;
  const formats = (schema?.properties?.hooks?.items?.properties?.format?.enum as string[] | undefined) ?? ['generic'];
  const refresh = () => load.run(async () => setHooks(await api<HookView[]>('GET', `/instance/${encodeURIComponent(id)}/plugin/hooks`)));
  useEffect(() => {
    void refresh();
  }, [id]);
  const nowMs = now.value;
  return (
    <Card
      title={
        <>
          Webhooks of <code>{id}</code>
        </>
      }
      id="webhooks-title"
      actions={
        <>
          <button type="button" class="primary" onClick={() => setEditing('new')}>
            New hook
          </button>
          <a href={`/instances/${encodeURIComponent(id)}`}>Back to instance</a>
        </>
      }
    >
      <ErrorBox error={load.error ?? remove.error} />
      {editing && (
        <HookForm
          instanceId={id}
          hook={editing === 'new' ? null : editing}
          formats={formats}
          senders={instance?.senders ?? []}
          onDone={() => {
            setEditing(null);
            void refresh();
          }}
        />
      )}
      {hooks?.length === 0 && <p class="muted">No hooks yet. Create one here, declare them in the instance config, or say !webhook create &lt;name&gt; in a room.</p>}
      {hooks?.map((hook) => (
        <section key={hook.id} class="hook" aria-label={`hook ${hook.name}`}>
          <h3>
            {hook.name}{' '}
            <span class="muted small">
              ({hook.format === 'generic' && hook.transform ? 'transform' : hook.format}, {hook.source})
            </span>
          </h3>
          <p>
            {hook.url ? (
              <>
                <code class="hook-url">{hook.url}</code> <CopyButton text={hook.url} />
              </>
            ) : (
              <span class="muted">No public listener is configured (public: in the config file), so this hook cannot be reached.</span>
            )}
          </p>
          <dl class="kv">
            <dt>Room</dt>
            <dd>
              <code>{hook.room}</code>
              {hook.sender && (
                <>
                  {' '}
                  as <code>{hook.sender}</code>
                </>
              )}
            </dd>
            <dt>Last delivery</dt>
            <dd>{hook.stats.last_delivery_at ? `${ago(hook.stats.last_delivery_at, nowMs)} (${hook.stats.delivered} in all)` : 'none yet'}</dd>
            <dt>Failures</dt>
            <dd>{hook.stats.failures ? `${hook.stats.failures}; last: ${hook.stats.last_error ?? ''}` : 'none'}</dd>
            {hook.queued > 0 && (
              <>
                <dt>Waiting</dt>
                <dd>{hook.queued} stored, not posted yet</dd>
              </>
            )}
            {hook.expires && (
              <>
                <dt>Expires</dt>
                <dd>{hook.expired ? 'expired' : new Date(hook.expires).toLocaleString()}</dd>
              </>
            )}
          </dl>
          <div class="form-actions">
            <button type="button" onClick={() => setEditing(hook)}>
              Edit
            </button>
            {hook.source !== 'config' && (
              <ConfirmButton
                label="Delete"
                confirm={`Delete hook ${hook.name}? Its URL stops working.`}
                onConfirm={() =>
                  remove
                    .run(async () => {
                      await api('DELETE', `/instance/${encodeURIComponent(id)}/plugin/hooks/${encodeURIComponent(hook.id)}`);
                      await refresh();
                    })
                    .then(() => undefined)
                }
              />
            )}
          </div>
          <TestPayload instanceId={id} hook={hook} />
        </section>
      ))}
    </Card>
  );
}
