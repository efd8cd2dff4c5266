/**
 * The instance's admin API on the management listener (behind its token), at
 * /_matrix/maubot/v1/instance/<id>/plugin/hooks: list, create, change, remove
 * hooks and send a test payload. Used by the console and scripts. Secrets are
 * write-only: a listing says whether a hook has one, never what it is.
 */
import type { JsonValue, WebRequest, WebResponse } from 'trellis/sdk';
import { hookProblems, parseDuration, withDefaults, type ConfigHook, type Hook, type HookSecret } from './hooks.ts';
import type { Webhooks } from './index.ts';
import type { HookTestResult, HookView } from './admin-types.ts';

const bad = (error: string, problems: string[] = []): WebResponse => ({ status: 400, body: { errcode: 'bad_request', error: problems.length ? `${error}: ${problems.join('; ')}` : error, problems } });
const notFound = (id: string): WebResponse => ({ status: 404, body: { errcode: 'hook_not_found', error: `no hook ${id} in this instance`, problems: [] } });

/** The fields a create or change may carry, besides the secrets. */
const FIELDS = ['id', 'name', 'room', 'sender', 'format', 'transform', 'expires', 'allow_get', 'rate_limit_per_minute'] as const;
const SECRET_FIELDS = ['token', 'hmac_secret'] as const;

export async function hookView(w: Webhooks, hook: Hook): Promise<JsonValue> {
  const secret = await w.table.secret(hook.id);
  const { expiresAt: _parsed, ...fields } = hook;
  const view: HookView = {
    ...fields,
    url: w.url(hook),
    expired: hook.expiresAt !== null && hook.expiresAt <= Date.now(),
    has_token: Boolean(secret.token),
    has_hmac_secret: Boolean(secret.hmac),
    queued: w.queue.depth(hook.id),
    stats: { ...w.stats.get(hook.id) },
  };
  return view as unknown as JsonValue;
}

/** The request's JSON object (an empty body is an empty object); null when it is something else. */
function body(request: WebRequest): Record<string, unknown> | null {
  if (request.text().trim() === '') return {};
  const parsed = request.json();
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
}

/** `expires` as given (an ISO date-time, or a duration such as 7d from now) → ISO, or a problem. */
function expiry(value: unknown): string | { problem: string } {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string') return { problem: 'expires: an ISO date-time or a duration such as 7d' };
  const duration = parseDuration(value);
  if (duration !== null) return new Date(Date.now() + duration).toISOString();
  if (Number.isNaN(Date.parse(value))) return { problem: 'expires: an ISO date-time such as 2027-01-31T00:00:00Z or a duration such as 12h, 7d' };
  return new Date(Date.parse(value)).toISOString();
}

/** Checks a hook's fields as a whole (format, room, unique name, allowed sender, compiling transform). */
export async function fieldProblems(w: Webhooks, fields: Partial<ConfigHook>, self?: Hook): Promise<string[]> {
  const problems = hookProblems(fields);
  if (problems.length) return problems;
  const { name, room, sender, transform, id } = fields as ConfigHook;
  const clash = w.table.byName(room, name);
  if (clash && clash.id !== self?.id) problems.push(`name: ${room} already has a hook named "${clash.name}"`);
  if (id && !self && w.table.get(id)) problems.push('id: another hook has this id');
  if (sender && !w.ctx.senders.includes(sender)) problems.push(`sender: ${sender} is not one of this instance's senders; add it to the instance's senders first`);
  if (transform) {
    const error = await w.transforms.check(transform);
    if (error !== null) problems.push(`transform: does not compile: ${error}`);
  }
  return problems;
}

function secretsOf(input: Record<string, unknown>, current: HookSecret): HookSecret | { problem: string } {
  const next = { ...current };
  for (const [field, slot] of [
    ['token', 'token'],
    ['hmac_secret', 'hmac'],
  ] as const) {
    const value = input[field];
    if (value === undefined) continue;
    if (value !== null && (typeof value !== 'string' || (value !== '' && value.length < 16))) return { problem: `${field}: at least 16 characters (or "" / null to remove it)` };
    if (value) next[slot] = value;
    else delete next[slot];
  }
  return next;
}

export function registerAdminRoutes(w: Webhooks): void {
  const { ctx, table } = w;

  ctx.web.adminRoute('GET', '/hooks', async () => ({ body: await Promise.all(table.all().map((h) => hookView(w, h))) }));

  ctx.web.adminRoute('GET', '/hooks/:id', async (request) => {
    const hook = table.get(request.params.id);
    return hook ? { body: await hookView(w, hook) } : notFound(request.params.id);
  });

  ctx.web.adminRoute('POST', '/hooks', async (request) => {
    const input = body(request);
    if (input === null) return bad('send the hook as a JSON object');
    const unknown = Object.keys(input).filter((k) => !(FIELDS as readonly string[]).includes(k) && !(SECRET_FIELDS as readonly string[]).includes(k));
    if (unknown.length)
      return bad(
        'unknown fields',
        unknown.map((k) => `${k}: not a hook field (use ${[...FIELDS, ...SECRET_FIELDS].join(', ')})`),
      );
    const expires = expiry(input.expires);
    if (typeof expires !== 'string') return bad('the hook was not created', [expires.problem]);
    const fields = { ...input, expires } as Partial<ConfigHook>;
    const secret = secretsOf(input, {});
    const problems = [...(await fieldProblems(w, fields)), ...('problem' in secret ? [secret.problem] : [])];
    if (problems.length || 'problem' in secret) return bad('the hook was not created', problems);
    const hook = await table.create(withDefaults(fields as ConfigHook), 'api', fields.id);
    await table.setSecret(hook.id, secret);
    ctx.log.info(`webhook "${hook.name}" created over the API for ${hook.room}`, { hook: hook.id });
    return { status: 201, body: await hookView(w, hook) };
  });

  ctx.web.adminRoute('PUT', '/hooks/:id', async (request) => {
    const hook = table.get(request.params.id);
    if (!hook) return notFound(request.params.id);
    const input = body(request);
    if (input === null) return bad('send the hook as a JSON object');
    const changing = Object.keys(input).filter((k) => !(SECRET_FIELDS as readonly string[]).includes(k));
    const unknown = changing.filter((k) => !(FIELDS as readonly string[]).includes(k) || k === 'id');
    if (unknown.length)
      return bad(
        'unknown fields',
        unknown.map((k) => `${k}: cannot be changed (use ${[...FIELDS.slice(1), ...SECRET_FIELDS].join(', ')})`),
      );
    if (hook.source === 'config' && changing.length) {
      return {
        status: 403,
        body: { errcode: 'config_managed', error: `hook "${hook.name}" is declared in the instance config; change it there (only token and hmac_secret can be set here)`, problems: [] },
      };
    }
    const expires = input.expires === undefined ? hook.expires : expiry(input.expires);
    if (typeof expires !== 'string') return bad('the hook was not changed', [expires.problem]);
    const { id: _id, source: _source, created_at: _at, created_by: _by, expiresAt: _exp, ...current } = hook;
    const fields = { ...current, ...input, expires } as ConfigHook;
    const secret = secretsOf(input, await table.secret(hook.id));
    const problems = [...(await fieldProblems(w, fields, hook)), ...('problem' in secret ? [secret.problem] : [])];
    if (problems.length || 'problem' in secret) return bad('the hook was not changed', problems);
    const next = changing.length ? await table.update(hook, withDefaults(fields)) : hook;
    await table.setSecret(hook.id, secret);
    w.transforms.forget(hook.id);
    return { body: await hookView(w, next) };
  });

  ctx.web.adminRoute('DELETE', '/hooks/:id', async (request) => {
    const hook = table.get(request.params.id);
    if (!hook) return notFound(request.params.id);
    if (hook.source === 'config') return { status: 403, body: { errcode: 'config_managed', error: `hook "${hook.name}" is declared in the instance config; remove it there`, problems: [] } };
    await table.remove(hook);
    const dropped = await w.queue.drop(hook.id);
    await w.stats.forget(hook.id);
    ctx.log.info(`webhook "${hook.name}" removed over the API${dropped ? `; ${dropped} undelivered request(s) dropped` : ''}`, { hook: hook.id });
    return { status: 204 };
  });

  // The console's "send test payload": the same path as a request, without the secret and rate checks.
  ctx.web.adminRoute('POST', '/hooks/:id/test', async (request) => {
    const hook = table.get(request.params.id);
    if (!hook) return notFound(request.params.id);
    const text = request.text().trim();
    const data = text === '' ? { text: `Test message for webhook “${hook.name}” from Trellis` } : request.json();
    const { response, delivered } = await w.accept(hook, data, {});
    const eventId = delivered ? await w.within(delivered, 10_000) : null;
    const result: HookTestResult = { ok: (response.status ?? 200) < 300, status: response.status ?? 200, answer: response.body ?? null, delivered: eventId !== null, event_id: eventId };
    return { status: 200, body: result as unknown as JsonValue };
  });
}
