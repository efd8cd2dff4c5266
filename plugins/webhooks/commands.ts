/**
 * `!webhook create <name> [duration]`, `!webhook list`, `!webhook remove <name>`
 * in a room: hooks for that room. The URL is the secret, so it goes to the
 * requester in a direct message, never into the room (hookshot #265).
 */
import { errorMessage, escapeHtml, type MessageEvent } from 'trellis/sdk';
import { parseDuration, withDefaults, type Hook } from './hooks.ts';
import { fieldProblems } from './admin.ts';
import type { Webhooks } from './index.ts';

function ago(ms: number): string {
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

function describe(w: Webhooks, hook: Hook): string {
  const stat = w.stats.get(hook.id);
  const parts = [hook.format === 'generic' && hook.transform ? 'transform' : hook.format];
  if (hook.sender) parts.push(`as ${hook.sender}`);
  if (hook.expiresAt !== null) parts.push(hook.expiresAt <= Date.now() ? 'expired' : `expires ${new Date(hook.expiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  parts.push(stat.last_delivery_at ? `last message ${ago(stat.last_delivery_at)}` : 'nothing received yet');
  if (stat.transform_failing || (stat.last_error_at && stat.last_error_at > (stat.last_delivery_at ?? 0))) parts.push(`failing: ${stat.last_error}`);
  return `${hook.name} (${parts.join(', ')})`;
}

export function registerCommands(w: Webhooks): void {
  const { ctx, table } = w;

  /** Whether the sender may create and remove hooks here; says why not. */
  async function allowed(message: MessageEvent): Promise<boolean> {
    const needed = ctx.config.command_power_level;
    let level: number;
    try {
      level = await ctx.matrix.powerLevel(message.roomId, message.sender);
    } catch (err) {
      ctx.log.warn(`could not read the power levels of ${message.roomId}: ${errorMessage(err)}`);
      await message.reply('I could not check your power level in this room; please try again later.');
      return false;
    }
    if (level >= needed) return true;
    await message.reply(`Only members with power level ${needed} or more can manage webhooks here (yours is ${level}).`);
    return false;
  }

  async function create(message: MessageEvent, name: string, duration: string | undefined): Promise<void> {
    if (!(await allowed(message))) return;
    let expires = '';
    if (duration) {
      const ms = parseDuration(duration);
      if (ms === null) return void (await message.reply(`“${duration}” is not a duration; use e.g. 30m, 12h, 7d or 2w.`));
      expires = new Date(Date.now() + ms).toISOString();
    }
    const fields = withDefaults({ name, room: message.roomId, expires });
    const problems = await fieldProblems(w, fields);
    if (problems.length) return void (await message.reply(`The webhook was not created: ${problems.join('; ')}.`));
    if (ctx.web.publicUrl('/') === null) {
      return void (await message.reply('Webhooks cannot be reached yet: the operator needs to configure the public listener (public: in the Trellis config).'));
    }
    const hook = await table.create(fields, message.sender);
    const url = w.url(hook)!;
    const until = expires ? ` It expires ${expires.slice(0, 16).replace('T', ' ')} UTC.` : '';
    try {
      const dm = await ctx.matrix.openDirectRoom(message.sender);
      await ctx.matrix.sendText(
        dm,
        `The URL of webhook “${hook.name}” (for ${message.roomId}) is ${url} — keep it secret: whoever has it can post into the room.${until}`,
        `The URL of webhook <strong>${escapeHtml(hook.name)}</strong> (for <code>${escapeHtml(message.roomId)}</code>) is <code>${escapeHtml(url)}</code> — keep it secret: whoever has it can post into the room.${escapeHtml(until)}`,
        { notice: true },
      );
    } catch (err) {
      // Without the DM nobody knows the URL: undo rather than leave a hook no one can use.
      await table.remove(hook);
      ctx.log.warn(`could not send ${message.sender} the URL of a new webhook: ${errorMessage(err)}`);
      return void (await message.reply('I could not send you the URL in a direct message, so the webhook was not created. Check that you accept invites from me.'));
    }
    ctx.log.info(`webhook "${hook.name}" created by ${message.sender} in ${message.roomId}`, { hook: hook.id });
    await message.reply(`Created webhook “${hook.name}”. I sent you its URL in a direct message.${until}`);
  }

  async function remove(message: MessageEvent, name: string): Promise<void> {
    if (!(await allowed(message))) return;
    const hook = table.byName(message.roomId, name);
    if (!hook) return void (await message.reply(`This room has no webhook named “${name}”. ${ctx.prefix}webhook list shows them.`));
    if (hook.source === 'config') return void (await message.reply(`Webhook “${hook.name}” is declared in the bot's config; an operator removes it there.`));
    await table.remove(hook);
    await w.queue.drop(hook.id);
    await w.stats.forget(hook.id);
    w.transforms.forget(hook.id);
    ctx.log.info(`webhook "${hook.name}" removed by ${message.sender} in ${message.roomId}`, { hook: hook.id });
    await message.reply(`Removed webhook “${hook.name}”; its URL no longer works.`);
  }

  ctx.command({
    name: 'webhook',
    description: 'Manage this room’s webhooks: create <name> [duration], list, remove <name>',
    args: [
      { name: 'action', description: 'create, list or remove', required: true },
      { name: 'rest', description: 'the hook’s name (and for create an optional duration such as 7d)', rest: true },
    ],
    async handler({ args, message }) {
      const action = args.action.toLowerCase();
      const rest = (args.rest ?? '').trim();
      if (action === 'list') {
        const hooks = table.inRoom(message.roomId);
        if (hooks.length === 0) return void (await message.reply(`This room has no webhooks. ${ctx.prefix}webhook create <name> makes one.`));
        return void (await message.reply(`Webhooks in this room:\n${hooks.map((h) => `• ${describe(w, h)}`).join('\n')}`));
      }
      if (action === 'create' || action === 'remove') {
        // A trailing duration belongs to create; names may contain spaces.
        const m = action === 'create' ? /^(.*?)(?:\s+(\d+\s*(?:m|min|h|d|w)))?$/i.exec(rest) : null;
        const name = (m ? m[1] : rest).trim();
        if (!name) return void (await message.reply(`Usage: ${ctx.prefix}webhook ${action} <name>${action === 'create' ? ' [duration, e.g. 7d]' : ''}`));
        return action === 'create' ? create(message, name, m?.[2]) : remove(message, name);
      }
      await message.reply(`Unknown action “${args.action}”. Use ${ctx.prefix}webhook create <name> [duration], ${ctx.prefix}webhook list or ${ctx.prefix}webhook remove <name>.`);
    },
  });
}
