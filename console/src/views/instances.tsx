/** Instances list and editor: plugin, bot account, rooms, config (form or YAML), start/stop/delete. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, shownName, type Instance, type JsonSchema } from '../api.ts';
import { clients, instances, plugins, refreshInstances } from '../state.ts';
import { navigate } from '../router.ts';
import { Card, ConfirmButton, ErrorBox, StateBadge, useAction } from '../ui.tsx';
import { SchemaForm } from './schema-form.tsx';
import { WEBHOOKS_PLUGIN } from './webhooks.tsx';

// The YAML library is most of the bundle's weight; loading it on demand keeps the dashboard's first render fast.
let yamlModule: Promise<typeof import('yaml')> | null = null;
const loadYaml = () => (yamlModule ??= import('yaml'));

export function InstanceList() {
  const list = instances.value;
  return (
    <Card
      title="Instances"
      id="instances-title"
      actions={
        <a class="button primary" href="/instances/new">
          New instance
        </a>
      }
    >
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : list.length === 0 ? (
        <p class="muted">No instances yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">Plugin</th>
                <th scope="col">Bot account</th>
                <th scope="col">State</th>
                <th scope="col">Managed by</th>
              </tr>
            </thead>
            <tbody>
              {list.map((i) => (
                <tr key={i.id}>
                  <td>
                    <a href={`/instances/${encodeURIComponent(i.id)}`}>{i.id}</a>
                  </td>
                  <td class="mono">{i.type}</td>
                  <td class="mono">{i.primary_user}</td>
                  <td>
                    <StateBadge state={i.state} />
                    {i.hears_no_room && (
                      <span class="badge level-warn" title="Its rooms list is empty: it reacts in no room" data-hears-no-room>
                        hears no room
                      </span>
                    )}
                  </td>
                  <td>{i.managed_by === 'config' ? 'config file' : 'API'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

interface RoomOption {
  room_id: string;
  name: string | null;
}

function RoomsEditor(props: { clientId: string; rooms: string[]; disabled: boolean; onChange: (rooms: string[]) => void }) {
  const [known, setKnown] = useState<RoomOption[]>([]);
  const [manual, setManual] = useState('');
  useEffect(() => {
    if (!props.clientId) return;
    let cancelled = false;
    api<{ rooms: RoomOption[] }>('GET', `/client/${encodeURIComponent(props.clientId)}/rooms`)
      .then((r) => !cancelled && setKnown(r.rooms))
      .catch(() => !cancelled && setKnown([]));
    return () => {
      cancelled = true;
    };
  }, [props.clientId]);
  const all = props.rooms.includes('*');
  const nameOf = (id: string) => known.find((r) => r.room_id === id)?.name;
  const toggle = (id: string, on: boolean) => props.onChange(on ? [...props.rooms, id] : props.rooms.filter((r) => r !== id));
  const listed = [...new Set([...known.map((r) => r.room_id), ...props.rooms.filter((r) => r !== '*')])];
  return (
    <fieldset class="rooms" disabled={props.disabled}>
      <legend>Rooms the instance answers in</legend>
      <label class="check">
        <input type="checkbox" checked={all} onChange={(e) => props.onChange(e.currentTarget.checked ? ['*'] : [])} />
        Every room the bot is in (<code>*</code>)
      </label>
      {!all && (
        <>
          {listed.length === 0 && <p class="muted small">The bot is in no rooms yet. Invite it, or add a room id below.</p>}
          <ul class="room-list">
            {listed.map((id) => (
              <li key={id}>
                <label class="check">
                  <input type="checkbox" checked={props.rooms.includes(id)} onChange={(e) => toggle(id, e.currentTarget.checked)} />
                  <span>{nameOf(id) ?? <em class="muted">unnamed room</em>}</span> <code class="small">{id}</code>
                </label>
              </li>
            ))}
          </ul>
          <div class="inline">
            <label for="room-add" class="sr-only">
              Room id to add
            </label>
            <input id="room-add" placeholder="!roomid or !roomid:server" value={manual} onInput={(e) => setManual(e.currentTarget.value)} />
            <button
              type="button"
              disabled={!manual.trim()}
              onClick={() => {
                props.onChange([...new Set([...props.rooms, manual.trim()])]);
                setManual('');
              }}
            >
              Add room
            </button>
          </div>
        </>
      )}
    </fieldset>
  );
}

export function InstanceEditor({ id }: { id: string | null }) {
  const isNew = id === null;
  const current = id ? instances.value?.find((i) => i.id === id) : undefined;
  const [newId, setNewId] = useState('');
  const [pluginId, setPluginId] = useState('');
  const [clientId, setClientId] = useState('');
  const [enabled, setEnabled] = useState(true);
  const [rooms, setRooms] = useState<string[]>([]);
  const [config, setConfig] = useState<Record<string, unknown>>({});
  const [mode, setMode] = useState<'form' | 'yaml'>('form');
  const [yamlText, setYamlText] = useState('');
  const [loadedFor, setLoadedFor] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const save = useAction();
  const control = useAction();

  // Copy the server's record into the form once per instance, so live updates don't overwrite edits.
  useEffect(() => {
    if (current && loadedFor !== current.id) {
      setPluginId(current.type);
      setClientId(current.primary_user);
      setEnabled(current.enabled);
      setRooms(current.rooms);
      setConfig(current.config_object);
      setLoadedFor(current.id);
    }
  }, [current, loadedFor]);
  useEffect(() => {
    if (isNew && !pluginId && plugins.value?.length) setPluginId(plugins.value[0].id);
    if (isNew && !clientId && clients.value?.length) setClientId(clients.value[0].id);
  }, [plugins.value, clients.value]);

  const plugin = plugins.value?.find((p) => p.id === pluginId);
  const readOnly = current?.managed_by === 'config';
  const problems = save.error instanceof ApiError ? save.error.problems : [];
  const configProblems = problems.filter((p) => p.startsWith('config'));
  const otherProblems = problems.filter((p) => !p.startsWith('config'));
  const fieldProblem = (prefix: string) => otherProblems.filter((p) => p.startsWith(prefix)).join('; ');
  const instanceId = isNew ? newId.trim() : id;

  const switchMode = async (next: 'form' | 'yaml') => {
    if (next === mode) return;
    const YAML = await loadYaml();
    if (next === 'yaml') setYamlText(YAML.stringify(config));
    else {
      try {
        const parsed: unknown = yamlText.trim() ? YAML.parse(yamlText) : {};
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the YAML must be a mapping (key: value lines)');
        setConfig(parsed as Record<string, unknown>);
      } catch (err) {
        save.setError(new ApiError(400, `Cannot switch to the form: ${(err as Error).message}`, []));
        return;
      }
    }
    setMode(next);
  };

  const submit = (ev: Event) => {
    ev.preventDefault();
    setSaved(false);
    void save.run(async () => {
      if (!instanceId) throw new ApiError(400, 'Give the instance an id', ['id: required (letters, digits, "-", "_", ".")']);
      const body = { type: pluginId, primary_user: clientId, enabled, rooms, config: mode === 'yaml' ? yamlText : config };
      const res = await api<Instance>('PUT', `/instance/${encodeURIComponent(instanceId)}`, { body });
      setConfig(res.config_object);
      if (mode === 'yaml') setYamlText((await loadYaml()).stringify(res.config_object));
      await refreshInstances();
      setSaved(true);
      if (isNew) navigate(`/instances/${encodeURIComponent(res.id)}`);
    });
  };

  const act = (action: 'start' | 'stop' | 'restart') =>
    control.run(async () => {
      await api('POST', `/instance/${encodeURIComponent(id!)}/${action}`);
      await refreshInstances();
    });

  const pluginOptions = useMemo(() => plugins.value ?? [], [plugins.value]);
  if (!isNew && instances.value && !current) {
    return (
      <Card title="Instance not found" id="inst-missing">
        <p>
          There is no instance <code>{id}</code>. <a href="/instances">Back to instances</a>.
        </p>
      </Card>
    );
  }

  return (
    <form class="editor" onSubmit={submit} aria-labelledby="editor-title" novalidate>
      <Card
        id="editor-title"
        title={
          isNew ? (
            'New instance'
          ) : (
            <>
              Instance <code>{id}</code>
            </>
          )
        }
        actions={
          current && (
            <>
              <StateBadge state={current.state} />
              <button type="button" onClick={() => act('start')} disabled={control.busy || readOnly || current.state === 'running'}>
                Start
              </button>
              <button type="button" onClick={() => act('stop')} disabled={control.busy || readOnly || current.state === 'stopped' || current.state === 'disabled'}>
                Stop
              </button>
              <button type="button" onClick={() => act('restart')} disabled={control.busy || readOnly}>
                Restart
              </button>
            </>
          )
        }
      >
        {readOnly && (
          <p class="note-box" role="note">
            This instance is defined in the daemon's config file under <code>instances.{id}</code> and is read-only here. Edit the file and reload the daemon (<code>systemctl reload trellis</code> or
            SIGHUP).
          </p>
        )}
        {current?.last_error && current.state !== 'running' && <p class="last-error">Last error: {current.last_error}</p>}
        <ErrorBox error={control.error} />
        <fieldset disabled={readOnly} class="grid2">
          <div class={`field ${fieldProblem('id') ? 'has-error' : ''}`}>
            <label for="inst-id">Instance id</label>
            {isNew ? (
              <input id="inst-id" value={newId} onInput={(e) => setNewId(e.currentTarget.value)} placeholder="e.g. ping-main" required pattern="[A-Za-z0-9._-]+" />
            ) : (
              <input id="inst-id" value={id ?? ''} readOnly />
            )}
            {fieldProblem('id') && <small class="field-error">{fieldProblem('id')}</small>}
          </div>
          <div class={`field ${fieldProblem('type') ? 'has-error' : ''}`}>
            <label for="inst-plugin">Plugin</label>
            <select id="inst-plugin" value={pluginId} onChange={(e) => setPluginId(e.currentTarget.value)}>
              {pluginOptions.length === 0 && <option value="">No plugins installed</option>}
              {pluginOptions.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.id} {p.version})
                </option>
              ))}
            </select>
            {fieldProblem('type') && <small class="field-error">{fieldProblem('type')}</small>}
          </div>
          <div class={`field ${fieldProblem('primary_user') ? 'has-error' : ''}`}>
            <label for="inst-client">Bot account</label>
            <select id="inst-client" value={clientId} onChange={(e) => setClientId(e.currentTarget.value)}>
              {(clients.value ?? []).length === 0 && <option value="">No bot accounts; add one first</option>}
              {(clients.value ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {shownName(c) ? `${shownName(c)} (${c.id})` : c.id}
                </option>
              ))}
            </select>
            {fieldProblem('primary_user') && <small class="field-error">{fieldProblem('primary_user')}</small>}
          </div>
          <div class="field field-check">
            <label for="inst-enabled">Enabled</label>
            <input id="inst-enabled" type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
            <small class="muted">Disabled instances are not started, also after a daemon restart.</small>
          </div>
        </fieldset>
        <RoomsEditor clientId={clientId} rooms={rooms} disabled={readOnly} onChange={setRooms} />
        {fieldProblem('rooms') && <p class="field-error">{fieldProblem('rooms')}</p>}
        {rooms.length === 0 && (
          <p class="note-box" role="note" data-hears-no-room>
            No room is selected: this instance hears nothing. Pick rooms, or "every room the bot is in".
          </p>
        )}
      </Card>
      <Card
        id="config-title"
        title="Configuration"
        actions={
          <div class="tabs" role="tablist" aria-label="Config editor">
            <button type="button" role="tab" aria-selected={mode === 'form'} onClick={() => void switchMode('form')}>
              Form
            </button>
            <button type="button" role="tab" aria-selected={mode === 'yaml'} onClick={() => void switchMode('yaml')}>
              YAML
            </button>
          </div>
        }
      >
        {mode === 'form' ? (
          <SchemaForm schema={(plugin?.config_schema as JsonSchema | undefined) ?? null} value={config} problems={configProblems} disabled={readOnly} onChange={setConfig} />
        ) : (
          <div class={`field ${configProblems.length ? 'has-error' : ''}`}>
            <label for="inst-yaml">Config (YAML)</label>
            <textarea id="inst-yaml" class="mono" rows={12} spellcheck={false} disabled={readOnly} value={yamlText} onInput={(e) => setYamlText(e.currentTarget.value)} />
            {configProblems.length > 0 && (
              <ul class="field-error" role="alert">
                {configProblems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            )}
          </div>
        )}
      </Card>
      <div class="form-actions">
        <ErrorBox error={save.error} />
        {saved && !save.error && (
          <p class="ok-text" role="status">
            Saved.
          </p>
        )}
        {!readOnly && (
          <button type="submit" class="primary" disabled={save.busy}>
            {save.busy ? 'Saving…' : isNew ? 'Create instance' : 'Save'}
          </button>
        )}
        {current && <a href={`/instances/${encodeURIComponent(current.id)}/database`}>Browse database</a>}
        {current?.type === WEBHOOKS_PLUGIN && <a href={`/instances/${encodeURIComponent(current.id)}/webhooks`}>Webhooks</a>}
        {current && !readOnly && (
          <ConfirmButton
            label="Delete"
            confirm={`Delete ${current.id} and its stored data?`}
            onConfirm={() =>
              control
                .run(async () => {
                  await api('DELETE', `/instance/${encodeURIComponent(current.id)}`);
                  await refreshInstances();
                  navigate('/instances');
                })
                .then(() => undefined)
            }
          />
        )}
      </div>
    </form>
  );
}
