import type { JsonSchema } from '../api.ts';

/*
 * A form generated from a plugin's JSON Schema (top-level object properties):
 * string, number, integer, boolean, enum and arrays of strings get real
 * controls; anything else is edited as JSON. Server problems
 * ("config.key: message") are shown under their field.
 */

type Config = Record<string, unknown>;

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return 'enum';
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  if (t === 'array' && schema.items && (schema.items.type === 'string' || schema.items.type === undefined)) return 'string-array';
  return t ?? 'json';
}

/** Problems keyed by top-level config key; "" holds the ones about the whole config. */
export function problemsByField(problems: string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const p of problems) {
    const m = p.match(/^config\.([^.[:\s]+)[^:]*:\s*(.*)$/);
    const key = m && m[1] !== 'config' ? m[1] : '';
    map.set(key, [...(map.get(key) ?? []), m ? m[2] : p]);
  }
  return map;
}

function Field(props: { name: string; schema: JsonSchema; value: unknown; required: boolean; problems: string[]; disabled: boolean; onChange: (v: unknown) => void }) {
  const { name, schema, value, problems, disabled, onChange } = props;
  const kind = typeOf(schema);
  const id = `cfg-${name}`;
  const help = schema.description ? `${id}-help` : undefined;
  const errId = problems.length ? `${id}-err` : undefined;
  const describedBy = [help, errId].filter(Boolean).join(' ') || undefined;
  const label = schema.title ?? name;
  const placeholder = schema.default !== undefined && typeof schema.default !== 'object' ? `default: ${String(schema.default)}` : undefined;
  let control;
  if (kind === 'boolean') {
    control = (
      <input
        id={id}
        type="checkbox"
        checked={value === undefined ? schema.default === true : value === true}
        disabled={disabled}
        aria-describedby={describedBy}
        aria-invalid={problems.length > 0}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
    );
  } else if (kind === 'enum') {
    control = (
      <select
        id={id}
        disabled={disabled}
        aria-describedby={describedBy}
        aria-invalid={problems.length > 0}
        value={value === undefined ? '' : JSON.stringify(value)}
        onChange={(e) => onChange(e.currentTarget.value === '' ? undefined : JSON.parse(e.currentTarget.value))}
      >
        <option value="">{schema.default !== undefined ? `(default: ${String(schema.default)})` : '(not set)'}</option>
        {(schema.enum ?? []).map((v) => (
          <option key={JSON.stringify(v)} value={JSON.stringify(v)}>
            {String(v)}
          </option>
        ))}
      </select>
    );
  } else if (kind === 'number' || kind === 'integer') {
    control = (
      <input
        id={id}
        type="number"
        step={kind === 'integer' ? 1 : 'any'}
        min={schema.minimum}
        max={schema.maximum}
        placeholder={placeholder}
        disabled={disabled}
        aria-describedby={describedBy}
        aria-invalid={problems.length > 0}
        value={value === undefined || value === null ? '' : String(value)}
        onInput={(e) => {
          const raw = e.currentTarget.value;
          // Leave the conversion to the server's validator when the text is not a number yet.
          onChange(raw === '' ? undefined : Number.isNaN(Number(raw)) ? raw : Number(raw));
        }}
      />
    );
  } else if (kind === 'string-array') {
    const list = Array.isArray(value) ? (value as unknown[]).map(String) : [];
    control = (
      <textarea
        id={id}
        rows={Math.max(2, list.length + 1)}
        placeholder="one per line"
        disabled={disabled}
        aria-describedby={describedBy}
        aria-invalid={problems.length > 0}
        value={list.join('\n')}
        onInput={(e) => {
          const lines = e.currentTarget.value
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean);
          onChange(lines.length ? lines : value === undefined ? undefined : []);
        }}
      />
    );
  } else if (kind === 'string') {
    control = (
      <input
        id={id}
        type="text"
        placeholder={placeholder}
        disabled={disabled}
        aria-describedby={describedBy}
        aria-invalid={problems.length > 0}
        value={value === undefined || value === null ? '' : String(value)}
        onInput={(e) => onChange(e.currentTarget.value === '' ? undefined : e.currentTarget.value)}
      />
    );
  } else {
    control = (
      <textarea
        id={id}
        class="mono"
        rows={3}
        placeholder="JSON"
        disabled={disabled}
        aria-describedby={describedBy}
        aria-invalid={problems.length > 0}
        value={value === undefined ? '' : JSON.stringify(value, null, 2)}
        onInput={(e) => {
          const raw = e.currentTarget.value;
          try {
            onChange(raw.trim() === '' ? undefined : JSON.parse(raw));
          } catch {
            onChange(raw);
          }
        }}
      />
    );
  }
  return (
    <div class={`field ${kind === 'boolean' ? 'field-check' : ''} ${problems.length ? 'has-error' : ''}`}>
      <label for={id}>
        {label}
        {props.required && <span aria-label="required"> *</span>}
      </label>
      {control}
      {schema.description && (
        <small id={help} class="muted">
          {schema.description}
        </small>
      )}
      {problems.length > 0 && (
        <small id={errId} class="field-error" role="alert">
          {problems.join('; ')}
        </small>
      )}
    </div>
  );
}

export function SchemaForm(props: { schema: JsonSchema | null; value: Config; problems: string[]; disabled: boolean; onChange: (v: Config) => void }) {
  const props_ = props.schema?.properties ?? {};
  const names = Object.keys(props_);
  const byField = problemsByField(props.problems);
  const extra = Object.keys(props.value).filter((k) => !(k in props_));
  if (names.length === 0) return <p class="muted">This plugin declares no config options. Use the YAML editor for free-form settings.</p>;
  return (
    <div class="schema-form">
      {names.map((name) => (
        <Field
          key={name}
          name={name}
          schema={props_[name]}
          value={props.value[name]}
          required={props.schema?.required?.includes(name) ?? false}
          problems={byField.get(name) ?? []}
          disabled={props.disabled}
          onChange={(v) => {
            const next = { ...props.value };
            if (v === undefined) delete next[name];
            else next[name] = v;
            props.onChange(next);
          }}
        />
      ))}
      {extra.length > 0 && <p class="muted small">Also set (not in the schema): {extra.join(', ')}. Edit them in YAML.</p>}
      {[...byField.entries()]
        .filter(([k]) => k === '' || !(k in props_))
        .map(([k, msgs]) => (
          <p key={k} class="field-error" role="alert">
            {k ? `${k}: ` : ''}
            {msgs.join('; ')}
          </p>
        ))}
    </div>
  );
}
