/**
 * Polls: `!poll Question? | A | B` starts a native Matrix poll (MSC3381) or
 * a reaction poll; votes are counted as they arrive (each user's latest
 * counts), `!poll close` or a timer ends the poll with the results.
 *
 * Open polls and their votes live in storage (`open:<room>:<event>`), so a
 * restart keeps them and re-arms their timers; the latest closed poll of a
 * room is kept as `closed:<room>` for `!poll results`.
 */
import {
  addReactionPollKeys,
  applyPollVote,
  buildPollEnd,
  buildPollStart,
  definePlugin,
  escapeHtml,
  onPollResponse,
  onReactionVote,
  REACTION_POLL_MAX_OPTIONS,
  reactionPollAnswers,
  reactionPollMessage,
  SerialQueue,
  tallyPoll,
  type JsonValue,
  type PluginContext,
  type PollAnswer,
  type PollVote,
} from 'trellis/sdk';
import { describeDuration, MAX_OPTIONS, parsePollCommand, resultLines } from './parse.ts';

interface Config {
  [key: string]: unknown;
  prefix: string;
  mode: 'native' | 'reactions';
  kind: 'disclosed' | 'undisclosed';
  close_power_level: number;
  auto_close_minutes: number;
}

interface StoredPoll {
  roomId: string;
  /** The poll start event (native) or the poll message (reactions). */
  eventId: string;
  creator: string;
  question: string;
  answers: PollAnswer[];
  mode: 'native' | 'reactions';
  kind: 'disclosed' | 'undisclosed';
  createdAt: number;
  closesAt: number;
  votes: Record<string, PollVote>;
  closedAt?: number;
}

const openKey = (poll: Pick<StoredPoll, 'roomId' | 'eventId'>) => `open:${poll.roomId}:${poll.eventId}`;
const closedKey = (roomId: string) => `closed:${roomId}`;
const toJson = (poll: StoredPoll) => JSON.parse(JSON.stringify(poll)) as JsonValue;

export default definePlugin<Config>({
  async setup(ctx: PluginContext<Config>) {
    const created = ctx.metrics.counter('polls_created_total', 'Polls started');
    const votesCounted = ctx.metrics.counter('votes_total', 'Votes counted (changed votes included)');
    const closedTotal = ctx.metrics.counter('polls_closed_total', 'Polls closed, by how', ['by']);

    /** Open polls by event id. */
    const open = new Map<string, StoredPoll>();
    const timers = new Map<string, () => void>();
    let stopped = false;

    // A room's storage writes run one after another, so a poll's latest state is what ends up stored.
    const writes = new SerialQueue();
    const write = (roomId: string, fn: () => Promise<unknown>): Promise<void> =>
      writes.run(roomId, fn).then(
        () => undefined,
        (err: Error) => {
          ctx.log.error(`poll storage failed: ${err.message}`, { err });
          throw err;
        },
      );

    function arm(poll: StoredPoll): void {
      timers.get(poll.eventId)?.();
      // ctx.timers wait any length (auto_close_minutes allows a year, beyond Node's 24.8-day setTimeout).
      timers.set(
        poll.eventId,
        ctx.timers.setTimeout(
          async () => {
            timers.delete(poll.eventId);
            if (stopped || !open.has(poll.eventId)) return;
            // Early by the wall clock (it was set back meanwhile): wait for the rest.
            if (Date.now() < poll.closesAt) return arm(poll);
            await close(poll, 'timer');
          },
          Math.max(0, poll.closesAt - Date.now()),
        ),
      );
    }

    function describeResults(poll: StoredPoll, heading: string): { text: string; html: string } {
      const tally = tallyPoll(poll, poll.votes);
      const lines = resultLines(poll.answers, tally);
      const text = [`${heading}: ${poll.question}`, ...lines].join('\n');
      const html = `<b>${escapeHtml(heading)}:</b> ${escapeHtml(poll.question)}<ul>${lines
        .slice(0, -1)
        .map((l) => `<li>${escapeHtml(l)}</li>`)
        .join('')}</ul>${escapeHtml(lines.at(-1)!)}`;
      return { text, html };
    }

    /** Ends a poll: no vote counts after this; the room gets the results. */
    async function close(poll: StoredPoll, by: 'command' | 'timer'): Promise<void> {
      if (!open.delete(poll.eventId)) return;
      timers.get(poll.eventId)?.();
      timers.delete(poll.eventId);
      poll.closedAt = Date.now();
      closedTotal.inc({ by });
      await write(poll.roomId, async () => {
        await ctx.storage.set(closedKey(poll.roomId), toJson(poll));
        await ctx.storage.delete(openKey(poll));
      });
      const { text, html } = describeResults(poll, 'Poll closed');
      if (poll.mode === 'native') {
        const tally = tallyPoll(poll, poll.votes);
        const end = buildPollEnd(poll.eventId, text, tally.counts);
        await ctx.matrix.sendEvent(poll.roomId, end.type, end.content);
      }
      await ctx.matrix.sendText(poll.roomId, text, html, { notice: true, replyTo: poll.eventId });
      ctx.log.info(`poll ${poll.eventId} closed (${by})`, { room: poll.roomId });
    }

    function latestOpen(roomId: string): StoredPoll | undefined {
      let latest: StoredPoll | undefined;
      for (const poll of open.values()) if (poll.roomId === roomId && (!latest || poll.createdAt >= latest.createdAt)) latest = poll;
      return latest;
    }

    async function vote(roomId: string, pollEventId: string, sender: string, answers: string[], ts: number): Promise<void> {
      const poll = open.get(pollEventId);
      // Unknown (another bot's poll) or already closed: a vote after the end does not count.
      if (!poll || poll.roomId !== roomId) return;
      if (!applyPollVote(poll.votes, poll, sender, answers, ts, { rule: 'latest' })) return;
      votesCounted.inc();
      await write(poll.roomId, () => ctx.storage.set(openKey(poll), toJson(poll)));
    }

    onPollResponse(ctx, (v) => vote(v.roomId, v.pollEventId, v.sender, v.answers, v.ts));

    // Reaction polls: a user's latest number reaction counts. Removing a reaction (a redaction) is not seen as a vote change.
    onReactionVote(
      ctx,
      (reaction) => {
        const poll = open.get(reaction.targetEventId);
        return poll?.mode === 'reactions' ? poll.answers : null;
      },
      (v) => vote(v.roomId, v.pollEventId, v.sender, v.answers, v.ts),
    );

    async function start(roomId: string, creator: string, question: string, options: string[]): Promise<void> {
      const config = ctx.config;
      const closesIn = config.auto_close_minutes * 60_000;
      const closeHint = `Closes in ${describeDuration(closesIn)} or with ${ctx.prefix}poll close.`;
      let eventId: string;
      let answers: PollAnswer[];
      if (config.mode === 'reactions') {
        answers = reactionPollAnswers(options);
        const { text, html } = reactionPollMessage(`📊 ${question}`, answers, `React with a number to vote; your latest reaction counts. ${closeHint}`);
        eventId = await ctx.matrix.sendText(roomId, text, html, { notice: true });
      } else {
        const built = buildPollStart({ question, answers: options, kind: config.kind });
        answers = built.answers;
        eventId = await ctx.matrix.sendEvent(roomId, built.type, built.content);
      }
      const now = Date.now();
      const poll: StoredPoll = { roomId, eventId, creator, question, answers, mode: config.mode, kind: config.kind, createdAt: now, closesAt: now + closesIn, votes: {} };
      open.set(eventId, poll);
      created.inc();
      await write(poll.roomId, () => ctx.storage.set(openKey(poll), toJson(poll)));
      arm(poll);
      if (config.mode === 'reactions') await addReactionPollKeys(ctx.matrix, roomId, eventId, answers.length);
      ctx.log.info(`poll ${eventId} started by ${creator} with ${answers.length} options`, { room: roomId });
    }

    ctx.command({
      name: 'poll',
      description: 'Start a poll (Question? | option | option …), or close / show the results of the latest one',
      args: [{ name: 'question | option | option… | close | results', rest: true }],
      handler: async ({ text, message }) => {
        const maxOptions = ctx.config.mode === 'reactions' ? REACTION_POLL_MAX_OPTIONS : MAX_OPTIONS;
        const command = parsePollCommand(text, ctx.prefix, maxOptions);
        if (command.kind === 'error') {
          const hint = ctx.config.mode === 'reactions' && /options; you gave/.test(command.message) ? ' (Reaction polls have one number emoji per option.)' : '';
          await message.reply(command.message + hint);
          return;
        }
        if (command.kind === 'create') {
          await start(message.roomId, message.sender, command.question, command.options);
          return;
        }
        if (command.kind === 'results') {
          const current = latestOpen(message.roomId);
          if (current) {
            if (current.kind === 'undisclosed' && current.mode === 'native') {
              const voters = Object.keys(current.votes).length;
              await message.reply(`Poll open: ${current.question}\n${voters} ${voters === 1 ? 'person has' : 'people have'} voted so far; the results are shown when it closes.`);
            } else {
              const { text: body, html } = describeResults(current, 'Poll open');
              await message.reply(body, html);
            }
            return;
          }
          const last = (await ctx.storage.get(closedKey(message.roomId))) as StoredPoll | undefined;
          if (!last) {
            await message.reply('There has been no poll in this room yet.');
            return;
          }
          const { text: body, html } = describeResults(last, 'Poll closed');
          await message.reply(body, html);
          return;
        }
        const poll = latestOpen(message.roomId);
        if (!poll) {
          await message.reply('There is no open poll in this room.');
          return;
        }
        if (message.sender !== poll.creator) {
          const needed = ctx.config.close_power_level;
          if ((await ctx.matrix.powerLevel(message.roomId, message.sender).catch(() => 0)) < needed) {
            await message.reply(`Only the poll's creator or someone with power level ${needed} or more can close it.`);
            return;
          }
        }
        await close(poll, 'command');
      },
    });

    // Polls that were open at the last stop: back in memory, timers re-armed (overdue ones close now).
    const stored = await ctx.storage.list('open:');
    for (const { value } of stored) {
      const poll = value as unknown as StoredPoll;
      if (!poll?.eventId || !Array.isArray(poll.answers)) continue;
      poll.votes ??= {};
      open.set(poll.eventId, poll);
    }
    for (const poll of open.values()) arm(poll);
    if (open.size) ctx.log.info(`resumed ${open.size} open poll(s)`);

    ctx.onStop(() => {
      stopped = true;
    });
  },
});
