/**
 * Trivia: `!trivia [category] [difficulty]` asks a question from the bank
 * shipped with the plugin (Open Trivia DB format) or an OTDB-format HTTP
 * source, as an undisclosed native poll or a reaction message. After
 * `reveal_seconds` the answer is revealed with who was right (each player's
 * FIRST answer counts) and the room's scoreboard is updated.
 *
 * Storage: `active:<room>` the open question with its answers so far (a
 * restart re-arms the reveal), `scores:<room>` the scoreboard,
 * `recent:<room>` recently asked questions (not asked again soon).
 */
import { join } from 'node:path';
import {
  addReactionPollKeys,
  applyPollVote,
  buildPollEnd,
  buildPollStart,
  definePlugin,
  escapeHtml,
  onPollResponse,
  onReactionVote,
  reactionPollAnswers,
  reactionPollMessage,
  SerialQueue,
  tallyPoll,
  type JsonValue,
  type PluginContext,
  type PollAnswer,
  type PollVote,
  errorMessage,
} from 'trellis/sdk';
import { addRound, judge, revealText, scoreboardText, showQuestion, type Scoreboard, type ShownQuestion } from './game.ts';
import { categoriesOf, categoryList, DIFFICULTIES, fetchOtdb, filterQuestions, loadBank, parseTriviaCommand, type Category, type Difficulty, type OtdbQuestion } from './otdb.ts';

interface Config {
  [key: string]: unknown;
  prefix: string;
  answer_mode: 'native' | 'reactions';
  reveal_seconds: number;
  source_url: string;
  source_timeout_seconds: number;
  scoreboard_size: number;
}

interface ActiveQuestion {
  roomId: string;
  /** The poll (native) or the question message (reactions). */
  eventId: string;
  mode: 'native' | 'reactions';
  shown: ShownQuestion;
  answers: PollAnswer[];
  correctId: string;
  askedAt: number;
  revealAt: number;
  votes: Record<string, PollVote>;
}

const RECENT_LIMIT = 30;
const BANK_PATH = join(import.meta.dirname, 'questions.json');

const activeKey = (roomId: string) => `active:${roomId}`;
const scoresKey = (roomId: string) => `scores:${roomId}`;
const recentKey = (roomId: string) => `recent:${roomId}`;
const toJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as JsonValue;

export default definePlugin<Config>({
  async setup(ctx: PluginContext<Config>) {
    const bank = loadBank(BANK_PATH);
    if (bank.skipped) ctx.log.warn(`${bank.skipped} question(s) in the bundled bank are not usable and were skipped`);
    const categories = categoriesOf(bank.questions);
    const asked = ctx.metrics.counter('questions_total', 'Questions asked, by source', ['source']);
    const answered = ctx.metrics.counter('answers_total', 'First answers counted');

    const active = new Map<string, ActiveQuestion>();
    /** Rooms where a question is being prepared (HTTP source), so a second !trivia waits its turn. */
    const preparing = new Set<string>();
    let stopped = false;

    // A room's storage writes run one after another, so its latest state is what ends up stored.
    const writes = new SerialQueue();
    const write = (roomId: string, fn: () => Promise<unknown>): Promise<void> =>
      writes.run(roomId, fn).then(
        () => undefined,
        (err: Error) => {
          ctx.log.error(`trivia storage failed: ${err.message}`, { err });
          throw err;
        },
      );

    async function pickFromBank(roomId: string, filter: { category?: Category; difficulty?: Difficulty }): Promise<OtdbQuestion | null> {
      const pool = filterQuestions(bank.questions, filter);
      if (pool.length === 0) return null;
      const recent = ((await ctx.storage.get(recentKey(roomId))) as string[] | undefined) ?? [];
      const fresh = pool.filter((q) => !recent.includes(q.question));
      const choices = fresh.length ? fresh : pool;
      return choices[Math.floor(Math.random() * choices.length)]!;
    }

    /** A question from the HTTP source if configured and working, else from the bank (with a WARN). */
    async function pick(roomId: string, filter: { category?: Category; difficulty?: Difficulty }): Promise<{ question: OtdbQuestion | null; source: 'http' | 'bank' }> {
      const url = ctx.config.source_url;
      if (url) {
        try {
          const fetched = await fetchOtdb(url, filter, ctx.config.source_timeout_seconds * 1000);
          return { question: fetched[Math.floor(Math.random() * fetched.length)]!, source: 'http' };
        } catch (err) {
          ctx.log.warn(`trivia source failed, asking from the bundled bank instead: ${errorMessage(err)}`, { room: roomId });
        }
      }
      return { question: await pickFromBank(roomId, filter), source: 'bank' };
    }

    function arm(question: ActiveQuestion): void {
      ctx.timers.setTimeout(
        async () => {
          if (stopped || active.get(question.roomId) !== question) return;
          await reveal(question);
        },
        Math.max(0, question.revealAt - Date.now()),
      );
    }

    async function reveal(question: ActiveQuestion): Promise<void> {
      if (active.get(question.roomId) !== question) return;
      active.delete(question.roomId);
      const result = judge(question.votes, question.correctId);
      const text = revealText(question.shown, result);
      await write(question.roomId, async () => {
        const board = ((await ctx.storage.get(scoresKey(question.roomId))) as Scoreboard | undefined) ?? {};
        await ctx.storage.set(scoresKey(question.roomId), toJson(addRound(board, result, question.shown.difficulty)));
        await ctx.storage.delete(activeKey(question.roomId));
      });
      if (question.mode === 'native') {
        const end = buildPollEnd(question.eventId, text, tallyPoll(question, question.votes).counts);
        await ctx.matrix.sendEvent(question.roomId, end.type, end.content);
      }
      const [first, ...rest] = text.split('\n');
      const html = `<b>${escapeHtml(first!)}</b>${rest.map((l) => `<br>${escapeHtml(l)}`).join('')}`;
      await ctx.matrix.sendText(question.roomId, text, html, { notice: true, replyTo: question.eventId });
    }

    async function answer(roomId: string, eventId: string, sender: string, answerIds: string[], ts: number): Promise<void> {
      const question = active.get(roomId);
      if (!question || question.eventId !== eventId) return;
      // Only a player's first answer counts; anything sent after the reveal time does not.
      if (!applyPollVote(question.votes, question, sender, answerIds, ts, { rule: 'first', endedAt: question.revealAt })) return;
      answered.inc();
      await write(roomId, () => ctx.storage.set(activeKey(roomId), toJson(question)));
    }

    onPollResponse(ctx, (v) => answer(v.roomId, v.pollEventId, v.sender, v.answers, v.ts));
    onReactionVote(
      ctx,
      (reaction) => {
        const question = active.get(reaction.roomId);
        return question?.mode === 'reactions' && question.eventId === reaction.targetEventId ? question.answers : null;
      },
      (v) => answer(v.roomId, v.pollEventId, v.sender, v.answers, v.ts),
    );

    async function ask(roomId: string, filter: { category?: Category; difficulty?: Difficulty }, reply: (text: string) => Promise<unknown>): Promise<void> {
      const { question: picked, source } = await pick(roomId, filter);
      if (!picked) {
        const what = [filter.category?.slug, filter.difficulty].filter(Boolean).join(', ');
        await reply(`There is no ${what} question in the bank. Categories: ${categoryList(categories)}. Difficulties: ${DIFFICULTIES.join(', ')}.`);
        return;
      }
      const shown = showQuestion(picked);
      const mode = ctx.config.answer_mode;
      const seconds = ctx.config.reveal_seconds;
      const heading = `${shown.category} (${shown.difficulty}): ${shown.question}`;
      const rules = `The answer comes in ${seconds} s; only your first answer counts.`;
      let eventId: string;
      let answers: PollAnswer[];
      if (mode === 'reactions') {
        answers = reactionPollAnswers(shown.answers);
        const { text, html } = reactionPollMessage(`🧠 ${heading}`, answers, `React with a number. ${rules}`);
        eventId = await ctx.matrix.sendText(roomId, text, html, { notice: true });
      } else {
        const built = buildPollStart({ question: heading, answers: shown.answers, kind: 'undisclosed', fallbackText: [heading, ...shown.answers.map((a, i) => `${i + 1}. ${a}`), rules].join('\n') });
        answers = built.answers;
        eventId = await ctx.matrix.sendEvent(roomId, built.type, built.content);
      }
      const now = Date.now();
      const question: ActiveQuestion = { roomId, eventId, mode, shown, answers, correctId: answers[shown.correctIndex]!.id, askedAt: now, revealAt: now + seconds * 1000, votes: {} };
      active.set(roomId, question);
      asked.inc({ source });
      await write(roomId, async () => {
        await ctx.storage.set(activeKey(roomId), toJson(question));
        const recent = ((await ctx.storage.get(recentKey(roomId))) as string[] | undefined) ?? [];
        await ctx.storage.set(recentKey(roomId), [picked.question, ...recent.filter((q) => q !== picked.question)].slice(0, RECENT_LIMIT));
      });
      arm(question);
      if (mode === 'reactions') await addReactionPollKeys(ctx.matrix, roomId, eventId, answers.length);
    }

    ctx.command({
      name: 'trivia',
      description: 'Ask a trivia question ([category] [difficulty]); "scores" shows the room\'s scoreboard, "categories" the categories',
      args: [
        { name: 'category | scores | categories', required: false },
        { name: 'difficulty', required: false },
      ],
      handler: async ({ text, message }) => {
        const command = parseTriviaCommand(text, categories);
        const roomId = message.roomId;
        if (command.kind === 'error') {
          await message.reply(command.message);
          return;
        }
        if (command.kind === 'categories') {
          await message.reply(`Categories: ${categories.map((c) => `${c.slug} (${c.name})`).join(', ')}. Difficulties: ${DIFFICULTIES.join(', ')}.`);
          return;
        }
        if (command.kind === 'scores') {
          const board = ((await ctx.storage.get(scoresKey(roomId))) as Scoreboard | undefined) ?? {};
          await message.reply(scoreboardText(board, ctx.config.scoreboard_size));
          return;
        }
        const current = active.get(roomId);
        if (current || preparing.has(roomId)) {
          const left = current ? ` The answer comes in ${Math.max(1, Math.ceil((current.revealAt - Date.now()) / 1000))} s.` : '';
          await message.reply(`A trivia question is already open in this room; one at a time.${left}`);
          return;
        }
        preparing.add(roomId);
        try {
          await ask(roomId, { category: command.category, difficulty: command.difficulty }, (t) => message.reply(t));
        } finally {
          preparing.delete(roomId);
        }
      },
    });

    // Questions open at the last stop: back, with their reveal (at once if overdue).
    for (const { value } of await ctx.storage.list('active:')) {
      const question = value as unknown as ActiveQuestion;
      if (!question?.eventId || !question.shown || !Array.isArray(question.answers)) continue;
      question.votes ??= {};
      active.set(question.roomId, question);
      arm(question);
    }
    if (active.size) ctx.log.info(`resumed ${active.size} open trivia question(s)`);

    ctx.onStop(() => {
      stopped = true;
    });
  },
});
