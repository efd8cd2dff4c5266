/** Plugins page: installed plugins with their instances, upload and delete. */
import { useState } from 'preact/hooks';
import { api, type Plugin } from '../api.ts';
import { plugins, refreshPlugins } from '../state.ts';
import { Card, ConfirmButton, ErrorBox, useAction } from '../ui.tsx';

function Upload() {
  const [override, setOverride] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const upload = (file: File) => {
    setDone(null);
    void action.run(async () => {
      const p = await api<Plugin>('POST', `/plugins/upload${override ? '?allow_override=true' : ''}`, { raw: file, contentType: 'application/zip' });
      await refreshPlugins();
      setDone(`Installed ${p.id} ${p.version}.`);
    });
  };
  return (
    <Card title="Upload a plugin" id="upload-title">
      <div
        class={`dropzone ${dragging ? 'dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          const file = e.dataTransfer?.files[0];
          if (file) upload(file);
        }}
      >
        <p>
          Drop a plugin archive (.zip or .mbp, built with <code>trellis plugin build</code>) here, or
        </p>
        <label class="button" for="plugin-file">
          Choose a file…
        </label>
        <input
          id="plugin-file"
          class="sr-only"
          type="file"
          accept=".zip,.mbp,application/zip"
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (file) upload(file);
            e.currentTarget.value = '';
          }}
        />
        <label class="check">
          <input type="checkbox" checked={override} onChange={(e) => setOverride(e.currentTarget.checked)} />
          Replace an installed plugin with the same id
        </label>
      </div>
      {action.busy && <p role="status">Uploading and validating…</p>}
      <ErrorBox error={action.error} />
      {done && (
        <p class="ok-text" role="status">
          {done}
        </p>
      )}
    </Card>
  );
}

function PluginRow({ plugin }: { plugin: Plugin }) {
  const action = useAction();
  return (
    <li class="plugin" data-plugin={plugin.id}>
      <div>
        <strong>{plugin.name}</strong> <span class="mono small">{plugin.id}</span> <span class="badge">{plugin.version}</span>
        {plugin.source === 'bundled' && <span class="badge">bundled</span>}
        {plugin.kind === 'maubot' && <span class="badge">maubot .mbp</span>}
      </div>
      {plugin.description && <p class="muted small">{plugin.description}</p>}
      <p class="small">
        Used by:{' '}
        {plugin.instances.length
          ? plugin.instances.map(({ id }, i) => (
              <span key={id}>
                {i > 0 && ', '}
                <a href={`/instances/${encodeURIComponent(id)}`}>{id}</a>
              </span>
            ))
          : 'no instances'}
      </p>
      <ErrorBox error={action.error} />
      {plugin.source !== 'bundled' && (
        <ConfirmButton
          label="Delete"
          confirm={`Delete plugin ${plugin.id}?`}
          onConfirm={() =>
            action
              .run(async () => {
                await api('DELETE', `/plugin/${encodeURIComponent(plugin.id)}`);
                await refreshPlugins();
              })
              .then(() => undefined)
          }
        />
      )}
    </li>
  );
}

export function Plugins() {
  const list = plugins.value;
  return (
    <div class="stack">
      <Card title="Plugins" id="plugins-title">
        {list === null ? (
          <p class="muted">Loading…</p>
        ) : (
          <ul class="plugin-list">
            {list.map((p) => (
              <PluginRow key={p.id} plugin={p} />
            ))}
          </ul>
        )}
      </Card>
      <Upload />
    </div>
  );
}
