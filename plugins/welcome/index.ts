/**
 * Welcome: someone joins the Space → the bot sends them a welcome in a DM →
 * they react to it with the configured emoji → the bot invites them to the
 * configured rooms and says so. Each step is kept in storage (one record per
 * user), so a restart between the welcome and the reaction changes nothing.
 */
import { definePlugin, SerialQueue, type JsonValue, type MembershipEvent, type PluginContext, type ReactionEvent, errorMessage } from 'trellis/sdk';
import { classifyReaction, confirmationText, displayNameOf, inviteFailureReason, isNewJoin, recordKey, renderTemplate, type InviteFailure, type WelcomeRecord } from './welcome.ts';

interface Config {
  [key: string]: unknown;
  prefix: string;
  space: string;
  rooms: string[];
  message: string;
  html_message: string;
  reaction: string;
  confirm_text: string;
  welcome_once: boolean;
}

function errorText(err: unknown): string {
  return errorMessage(err);
}

export default definePlugin<Config>({
  setup(ctx: PluginContext<Config>) {
    const welcomes = ctx.metrics.counter('welcomes_total', 'Welcome messages sent');
    const completions = ctx.metrics.counter('completions_total', 'People who confirmed and were invited');
    const inviteFailures = ctx.metrics.counter('invite_failures_total', 'Invites to a configured room that failed');
    const skippedJoins = ctx.metrics.counter('skipped_joins_total', 'Space joins not welcomed, by reason', ['reason']);
    const ignoredReactions = ctx.metrics.counter('ignored_reactions_total', 'Reactions that did not confirm a welcome, by reason', ['reason']);

    if (!ctx.config.space) ctx.log.warn('no space is configured: set "space" to the Space\'s room id (and add it to the instance\'s rooms) to welcome people');

    const load = async (userId: string) => (await ctx.storage.get(recordKey(userId))) as WelcomeRecord | undefined;
    const save = (record: WelcomeRecord) => ctx.storage.set(recordKey(record.user), record as unknown as JsonValue);

    /**
     * One step at a time per user: a reaction that arrives while its welcome is
     * still being sent waits for the record instead of finding none.
     */
    const perUser = new SerialQueue();

    async function welcome(change: MembershipEvent): Promise<void> {
      const config = ctx.config;
      const userId = change.userId;
      const existing = await load(userId);
      if (existing && config.welcome_once) {
        skippedJoins.inc({ reason: 'already_welcomed' });
        ctx.log.debug(`${userId} rejoined the space and was welcomed before; not welcoming again`);
        return;
      }
      const values = { user: userId, displayname: displayNameOf(userId, change.event.content), reaction: config.reaction };
      const text = renderTemplate(config.message, values);
      const html = config.html_message ? renderTemplate(config.html_message, values, true) : undefined;
      let room: string;
      try {
        room = await ctx.matrix.openDirectRoom(userId);
      } catch (err) {
        ctx.log.warn(`could not open a direct chat with ${userId} to welcome them: ${errorText(err)}`);
        return;
      }
      const event = await ctx.matrix.sendText(room, text, html, { notice: true });
      await save({ user: userId, room, event, state: 'welcomed', welcomed_at: Date.now() });
      welcomes.inc();
      ctx.log.info(`welcomed ${userId} in ${room}`);
    }

    /** The configured room's name for the user's eyes, else its id. */
    async function roomLabel(roomId: string): Promise<string> {
      const name = await ctx.matrix.getRoomState(roomId, 'm.room.name').catch(() => null);
      return typeof name?.name === 'string' && name.name.trim() ? `“${name.name.trim()}”` : roomId;
    }

    /** Whether the user is already in (or invited to) the room, as far as the bot can see. */
    async function alreadyThere(roomId: string, userId: string): Promise<boolean> {
      const member = await ctx.matrix.getRoomState(roomId, 'm.room.member', userId).catch(() => null);
      return member?.membership === 'join' || member?.membership === 'invite';
    }

    async function confirm(reaction: ReactionEvent): Promise<void> {
      const record = await load(reaction.sender);
      const verdict = classifyReaction(record, reaction, ctx.config.reaction);
      if (verdict !== 'confirm' || !record) {
        ignoredReactions.inc({ reason: verdict });
        return;
      }
      const userId = record.user;
      const rooms = [...new Set(ctx.config.rooms)];
      const failures: InviteFailure[] = [];
      for (const roomId of rooms) {
        if (await alreadyThere(roomId, userId)) continue;
        try {
          await ctx.matrix.invite(roomId, userId);
        } catch (err) {
          inviteFailures.inc();
          failures.push({ room: roomId, label: await roomLabel(roomId), reason: inviteFailureReason(err) });
          ctx.log.error(`could not invite ${userId} to ${roomId}: ${errorText(err)}`);
        }
      }
      // Recorded before the confirmation: a failed send must not invite twice.
      await save({ ...record, state: 'done', done_at: Date.now(), failed_rooms: failures.map((f) => f.room) });
      completions.inc();
      ctx.log.info(`${userId} confirmed; invited to ${rooms.length - failures.length} of ${rooms.length} room(s)`);
      await ctx.matrix.sendText(record.room, confirmationText(ctx.config.confirm_text, rooms.length, failures), undefined, { notice: true });
    }

    ctx.onMembership((change) => {
      if (!isNewJoin(change, ctx.config.space, ctx.matrix.userId)) return;
      return perUser.run(change.userId, () => welcome(change));
    });

    ctx.onReaction((reaction) => {
      if (reaction.sender === ctx.matrix.userId) return;
      return perUser.run(reaction.sender, () => confirm(reaction));
    });
  },
});
