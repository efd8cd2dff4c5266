/**
 * Webhooks: services POST to <public base>/webhook/<id> and the bot posts the
 * message into the hook's room, as hookshot's generic webhooks do. A request
 * is checked (hook, expiry, method, size, secret, rate), read, rendered (a
 * transform, a built-in format, or hookshot's rules), stored, and only then
 * acknowledged; delivery posts it in order per hook (queue.ts). Hooks come
 * from the config, the admin API (admin.ts) and `!webhook` (commands.ts).
 */
import { definePlugin, errorMessage, type PluginContext, type WebRequest, type WebResponse } from 'trellis/sdk';
import { createHash } from 'node:crypto';
import { PayloadError, readPayload } from './body.ts';
import { FORMATS } from './formats/index.ts';
import { checkSecret, RateLimiter } from './guard.ts';
import { HookTable, type ConfigHook, type Hook } from './hooks.ts';
import { eventData, markdownToHtml, messageContent, renderGeneric, type OutgoingMessage } from './message.ts';
import { DeliveryQueue, type QueuedDelivery } from './queue.ts';
import { HookStats } from './stats.ts';
import { Transforms, type TransformFailure } from './transforms.ts';
import { registerAdminRoutes } from './admin.ts';
import { registerCommands } from './commands.ts';

export interface Config {
  [key: string]: unknown;
  prefix: string;
  hooks: ConfigHook[];
  command_power_level: number;
  wait_for_delivery_ms: number;
  include_hook_body: boolean;
  max_body_bytes: number;
  transform_timeout_ms: number;
  transform_memory_mb: number;
}

export const WEBHOOK_PREFIX = '/webhook/';

/** What a request's handling decided, before it becomes an HTTP answer. */
type Accepted = { message: OutgoingMessage | null; data: unknown; response?: WebResponse };

const refuse = (status: number, error: string, headers?: Record<string, string>): WebResponse => ({ status, headers, body: { ok: false, error } });

/** The wiring one instance needs, shared with the admin routes and commands. */
export interface Webhooks {
  ctx: PluginContext<Config>;
  table: HookTable;
  queue: DeliveryQueue;
  stats: HookStats;
  transforms: Transforms;
  /** The hook's public URL, or null without a public listener. */
  url(hook: Hook): string | null;
  /** Renders and stores one payload for a hook, as a request would (used by "send test payload"). */
  accept(hook: Hook, data: unknown, headers: Readonly<Record<string, string>>): Promise<{ response: WebResponse; delivered: Promise<string | null> | null }>;
  /** The event id if a delivery happens within `ms`, else null. */
  within(delivered: Promise<string | null>, ms: number): Promise<string | null>;
  /** Re-reads the config's hooks; the problems are logged. */
  reload(): Promise<void>;
}

export default definePlugin<Config>({
  async setup(ctx) {
    const table = new HookTable(ctx.storage);
    const stats = new HookStats(ctx.storage);
    const limiter = new RateLimiter();
    const transforms = new Transforms(() => ({ timeoutMs: ctx.config.transform_timeout_ms, memoryBytes: ctx.config.transform_memory_mb * 1024 * 1024 }), ctx.log);
    ctx.onStop(() => transforms.close());
    const accepted = ctx.metrics.counter('requests_total', 'Webhook requests, by outcome', ['outcome']);
    const delivered = ctx.metrics.counter('delivered_total', 'Webhook messages posted');

    const queue = new DeliveryQueue({
      storage: ctx.storage,
      log: ctx.log,
      signal: ctx.signal,
      deliver: async (entry, key) => {
        const hook = table.get(entry.hook);
        if (!hook) {
          ctx.log.warn(`a stored webhook request of a removed hook was dropped`, { hook: entry.hook });
          return '';
        }
        const eventId = await ctx.idempotent(`webhook:${key}`, () => post(hook, entry));
        delivered.inc();
        stats.delivered(hook.id, eventId);
        return eventId;
      },
      onRetry: (entry, err) => stats.failed(entry.hook, `delivery: ${errorMessage(err)}`),
    });

    /** Posts one message, editing the firing message of an alert that resolves (and replying in its thread). */
    async function post(hook: Hook, entry: QueuedDelivery): Promise<string> {
      const actions = hook.sender ? ctx.matrixAs(hook.sender) : ctx.matrix;
      const { message } = entry;
      const content = messageContent(message, entry.data);
      if (!message.alert) return actions.sendEvent(hook.room, 'm.room.message', content);
      const alertKey = `alert:${hook.id}:${createHash('sha256').update(message.alert.key).digest('hex').slice(0, 32)}`;
      const open = (await ctx.storage.get(alertKey)) as { event_id: string; sender: string } | undefined;
      if (open && open.sender === hook.sender) {
        await actions.edit(hook.room, open.event_id, message.plain, message.html);
        if (message.alert.state === 'firing') return open.event_id;
        await ctx.storage.delete(alertKey);
        return actions.sendEvent(hook.room, 'm.room.message', {
          ...content,
          'm.relates_to': { rel_type: 'm.thread', event_id: open.event_id, is_falling_back: true, 'm.in_reply_to': { event_id: open.event_id } },
        });
      }
      const eventId = await actions.sendEvent(hook.room, 'm.room.message', content);
      if (message.alert.state === 'firing') await ctx.storage.set(alertKey, { event_id: eventId, sender: hook.sender });
      return eventId;
    }

    /** The message a payload becomes for this hook: its transform, else its format, else hookshot's rules. */
    async function render(hook: Hook, data: unknown, headers: Readonly<Record<string, string>>): Promise<Accepted | TransformFailure> {
      if (hook.transform) {
        const outcome = await transforms.run(hook, data);
        if (!outcome.ok) return outcome;
        const { result } = outcome;
        const response: WebResponse | undefined = result.webhookResponse
          ? { status: result.webhookResponse.statusCode ?? 200, headers: { 'content-type': result.webhookResponse.contentType ?? 'text/plain; charset=utf-8' }, body: result.webhookResponse.body }
          : undefined;
        if (result.empty) return { message: null, data, response };
        const msgtype = result.msgtype === 'm.text' || result.msgtype === 'm.emote' ? result.msgtype : 'm.notice';
        // As hookshot: without html the plain text is read as Markdown.
        const html = result.html ?? markdownToHtml(result.plain);
        return { message: { plain: result.plain, html, msgtype, mentions: result.mentions, noPreviews: result.hints?.showUrlPreviews === false }, data, response };
      }
      const rendered = hook.format === 'generic' ? null : FORMATS[hook.format]({ body: data, headers });
      return { message: rendered ? { ...rendered, msgtype: rendered.msgtype ?? 'm.notice' } : renderGeneric(data), data };
    }

    async function accept(hook: Hook, data: unknown, headers: Readonly<Record<string, string>>): Promise<{ response: WebResponse; delivered: Promise<string | null> | null }> {
      // The place in line is taken before the (async) transform runs, so arrival order is posting order.
      const reservation = queue.reserve(hook.id);
      let outcome: Accepted | TransformFailure;
      try {
        outcome = await render(hook, data, headers);
      } catch (err) {
        queue.abandon(reservation);
        throw err;
      }
      if ('error' in outcome) {
        queue.abandon(reservation);
        accepted.inc({ outcome: 'transform_failed' });
        await transformFailed(hook, outcome.error);
        return { response: refuse(500, `webhook received but its transformation function failed: ${outcome.error}`), delivered: null };
      }
      stats.transformOk(hook.id);
      if (!outcome.message) {
        queue.abandon(reservation);
        accepted.inc({ outcome: 'empty' });
        return { response: outcome.response ?? { status: 200, body: { ok: true } }, delivered: null };
      }
      const entry: QueuedDelivery = { hook: hook.id, message: outcome.message, data: ctx.config.include_hook_body ? eventData(data) : null, received_at: Date.now() };
      try {
        await queue.commit(reservation, entry);
      } catch (err) {
        accepted.inc({ outcome: 'store_failed' });
        ctx.log.error(`could not store a webhook request: ${errorMessage(err)}`, { hook: hook.id });
        return { response: refuse(503, 'the request could not be stored; try again later'), delivered: null };
      }
      accepted.inc({ outcome: 'accepted' });
      return { response: outcome.response ?? { status: 200, body: { ok: true } }, delivered: reservation.delivered };
    }

    /** The first failure after a success is said in the room (once, not per request); every one is logged. */
    async function transformFailed(hook: Hook, error: string): Promise<void> {
      ctx.log.warn(`webhook "${hook.name}": transformation function failed: ${error}`, { hook: hook.id });
      if (!stats.transformFailed(hook.id, error)) return;
      const notice = `Webhook “${hook.name}” received a request but its transformation function failed: ${error}. Further failures are not posted here until it works again.`;
      const reservation = queue.reserve(hook.id);
      await queue.commit(reservation, { hook: hook.id, message: { plain: notice, msgtype: 'm.notice' }, data: null, received_at: Date.now() }).catch(() => undefined);
    }

    async function handle(request: WebRequest): Promise<WebResponse> {
      const id = request.path.split('/')[1] ?? '';
      const hook = table.get(id);
      if (!hook) return refuse(404, 'no webhook has this URL; check it, or create the hook again');
      if (hook.expiresAt !== null && hook.expiresAt <= Date.now()) return refuse(404, 'This hook has expired');
      const methods = hook.allow_get ? ['GET', 'POST', 'PUT'] : ['POST', 'PUT'];
      if (!methods.includes(request.method)) {
        const why = request.method === 'GET' ? 'GET is not enabled for this hook (allow_get)' : `${request.method} is not accepted`;
        return refuse(405, `${why}; use ${methods.join(' or ')}`, { allow: methods.join(', ') });
      }
      if (request.body.byteLength > ctx.config.max_body_bytes) return refuse(413, `the payload is larger than this hook takes (${ctx.config.max_body_bytes} bytes)`);
      const denied = checkSecret(request, await table.secret(hook.id));
      if (denied) return refuse(denied.status, denied.error);
      if (!limiter.take(hook.id, hook.rate_limit_per_minute)) {
        accepted.inc({ outcome: 'rate_limited' });
        return refuse(429, `too many requests for this hook (limit ${hook.rate_limit_per_minute} a minute)`, { 'retry-after': String(limiter.retryAfter(hook.id, hook.rate_limit_per_minute)) });
      }
      let data: unknown;
      try {
        data = readPayload(request);
      } catch (err) {
        if (err instanceof PayloadError) return refuse(err.status, err.message);
        throw err;
      }
      const { response, delivered: posted } = await accept(hook, data, request.headers);
      if (!posted) return response;
      const eventId = await within(posted, ctx.config.wait_for_delivery_ms);
      if (eventId !== null) return response;
      // Stored, not yet posted (homeserver slow or away): it goes out in order when it can.
      return response.status === 200 && !response.headers ? { status: 202, body: { ok: true, queued: true } } : response;
    }

    /** The event id if the delivery happens within `ms`, else null (it still happens later). */
    async function within(delivered: Promise<string | null>, ms: number): Promise<string | null> {
      if (ms <= 0) return null;
      let cancel = () => {};
      const timeout = new Promise<null>((resolve) => (cancel = ctx.timers.setTimeout(() => resolve(null), ms)));
      try {
        return await Promise.race([delivered, timeout]);
      } finally {
        cancel();
      }
    }

    const webhooks: Webhooks = {
      ctx,
      table,
      queue,
      stats,
      transforms,
      url: (hook) => ctx.web.publicUrl(`${WEBHOOK_PREFIX}${hook.id}`),
      accept,
      within,
      async reload() {
        for (const problem of await table.load(ctx.config.hooks)) ctx.log.error(problem);
        await transforms.checkAll(table.all());
      },
    };

    await webhooks.reload();
    await stats.load();
    const waiting = await queue.restore();
    if (waiting > 0) ctx.log.info(`${waiting} stored webhook request(s) from before the restart are being delivered`);
    ctx.web.claimPrefix(WEBHOOK_PREFIX, handle);
    registerAdminRoutes(webhooks);
    registerCommands(webhooks);
    ctx.onConfigChange(() => webhooks.reload());
    if (!ctx.web.publicUrl('/')) ctx.log.warn('no public listener is configured (public: in the config file): webhook URLs cannot be reached');
  },
});
