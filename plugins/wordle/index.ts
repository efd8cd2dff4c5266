/**
 * Wordle in Matrix: `!wordle` in a room opens (or reuses) the bot's DM with
 * the player, where today's puzzle is played; the result grid goes back to
 * the room the game was started from. Rules and state live in game.ts,
 * messages in render.ts, word lists in words.ts.
 */
import { definePlugin, type MessageEvent, type PluginContext, errorMessage } from 'trellis/sdk';
import { MAX_GUESSES, Wordle, msUntilNextDay, score, shareText } from './game.ts';
import { renderGame, renderRoomResult, renderStats } from './render.ts';
import { WORDS } from './words.ts';

interface Config {
  [key: string]: unknown;
  prefix: string;
  seed: string;
  bare_guesses: boolean;
  post_results: boolean;
}

function untilNextWord(now: number): string {
  const minutes = Math.ceil(msUntilNextDay(now) / 60_000);
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}

export default definePlugin<Config>({
  setup(ctx: PluginContext<Config>) {
    const wordle = new Wordle({ storage: ctx.storage, words: WORDS, now: () => Date.now(), seed: () => ctx.config.seed });
    const started = ctx.metrics.counter('games_started_total', 'Daily games started');
    const guesses = ctx.metrics.counter('guesses_total', 'Guesses played (not counting refused ones)');
    const finished = ctx.metrics.counter('games_finished_total', 'Games finished, by result', ['result']);
    const p = () => ctx.prefix;
    const isDm = (roomId: string) => ctx.matrix.isDirectRoom(roomId);

    const finishedText = (game: { guesses: string[]; status: 'playing' | 'won' | 'lost' }) =>
      `You've finished today's Wordle (${score(game)}). The next word comes at 00:00 UTC, in ${untilNextWord(wordle.now())}.`;

    /** `!wordle` in a shared room: the game moves to the DM, its result comes back here. */
    async function playInDm(message: MessageEvent, intro: string): Promise<void> {
      const current = await wordle.game(message.sender);
      if (current && current.status !== 'playing') {
        await message.reply(`${finishedText(current)} ${p()}wordle share shows your grid.`);
        return;
      }
      let dm: string;
      try {
        dm = await ctx.matrix.openDirectRoom(message.sender);
      } catch (err) {
        ctx.log.warn(`could not open a DM with ${message.sender}: ${errorMessage(err)}`, { room: message.roomId });
        await message.reply("I couldn't open a direct chat with you, so we can't play right now. Please try again later.");
        return;
      }
      const { game, created } = await wordle.start(message.sender, message.roomId);
      if (created) started.inc();
      await message.reply(intro);
      const board = renderGame(game, p());
      await ctx.matrix.sendText(dm, board.text, board.html, { notice: true });
    }

    async function playGuess(message: MessageEvent, word: string): Promise<void> {
      const outcome = await wordle.guess(message.sender, word);
      if (outcome.kind === 'rejected') {
        await message.reply(outcome.message);
        return;
      }
      if (outcome.kind === 'over') {
        await message.reply(finishedText(outcome.game));
        return;
      }
      const { game } = outcome;
      if (outcome.created) started.inc();
      guesses.inc();
      const board = renderGame(game, p());
      await message.reply(board.text, board.html);
      if (!outcome.finished) return;
      finished.inc({ result: game.status });
      if (ctx.config.post_results && game.originRoom && game.originRoom !== message.roomId) {
        const result = renderRoomResult(message.sender, game);
        await ctx.matrix.sendText(game.originRoom, result.text, result.html, { notice: true }).catch((err: Error) => {
          ctx.log.warn(`could not post the Wordle result of ${message.sender} to ${game.originRoom}: ${err.message}`);
        });
      }
    }

    /** Runs a handler; anything unexpected becomes a plain apology (and an error in the log). */
    const safely = (what: string, fn: (message: MessageEvent) => Promise<void>) => async (message: MessageEvent) => {
      try {
        await fn(message);
      } catch (err) {
        ctx.log.error(`wordle ${what} failed: ${errorMessage(err)}`, { room: message.roomId, err });
        await message.reply('Something went wrong with Wordle; please try again.').catch(() => undefined);
      }
    };

    ctx.command({
      name: 'wordle',
      description: "Play today's Wordle in a DM with the bot; also: hard on|off, stats, share",
      args: [
        { name: 'option', description: 'hard, stats or share' },
        { name: 'value', description: 'on or off (for hard)' },
      ],
      handler: ({ args, message }) =>
        safely('command', async () => {
          const option = (args.option ?? '').toLowerCase();
          if (option === '') {
            if (!isDm(message.roomId)) return playInDm(message, "Let's play in our DM: I've sent you today's Wordle there.");
            const { game, created } = await wordle.start(message.sender);
            if (created) started.inc();
            const board = renderGame(game, p());
            await message.reply(board.text, board.html);
            return;
          }
          if (option === 'stats') {
            const stats = renderStats(message.sender, await wordle.stats(message.sender));
            await message.reply(stats.text, stats.html);
            return;
          }
          if (option === 'share') {
            const game = await wordle.game(message.sender);
            if (!game || game.guesses.length === 0) await message.reply(`You haven't played today's Wordle yet: say ${p()}wordle to start.`);
            else if (game.status === 'playing') await message.reply(`Finish today's Wordle first: you're on guess ${game.guesses.length + 1} of ${MAX_GUESSES}.`);
            else await message.reply(shareText(game));
            return;
          }
          if (option === 'hard') {
            const value = (args.value ?? '').toLowerCase();
            if (value === '') {
              const on = (await wordle.prefs(message.sender)).hard;
              await message.reply(`Hard mode is ${on ? 'on' : 'off'} for you. Switch it with ${p()}wordle hard on or ${p()}wordle hard off, before your first guess of a game.`);
              return;
            }
            if (value !== 'on' && value !== 'off') {
              await message.reply(`Say ${p()}wordle hard on or ${p()}wordle hard off.`);
              return;
            }
            const on = value === 'on';
            const result = await wordle.setHard(message.sender, on);
            if (result.refused) {
              await message.reply(`Hard mode can only be switched before your first guess of a game; it stays ${on ? 'off' : 'on'} for today's game.`);
              return;
            }
            const later = result.game && result.game.status !== 'playing' ? " It applies from tomorrow's game." : '';
            await message.reply(on ? `Hard mode is on: green letters must stay in place and yellow letters must be used in every later guess.${later}` : `Hard mode is off.${later}`);
            return;
          }
          await message.reply(`I don't know "${args.option}". Try ${p()}wordle, ${p()}wordle hard on|off, ${p()}wordle stats or ${p()}wordle share.`);
        })(message),
    });

    ctx.command({
      name: 'guess',
      description: "Guess a word in today's Wordle (in the DM with the bot)",
      args: [{ name: 'word', required: true }],
      handler: ({ args, message }) =>
        safely('guess', async () => {
          // A guess in a shared room would spoil the word for everyone: move to the DM instead.
          if (!isDm(message.roomId)) return playInDm(message, "Guesses go in our DM, so nobody else sees them: I've sent you today's Wordle there.");
          await playGuess(message, args.word!);
        })(message),
    });

    // A bare five-letter word in the DM is a guess while today's game is on.
    ctx.onMessage(
      safely('guess', async (message) => {
        if (!ctx.config.bare_guesses || message.msgtype !== 'm.text' || !isDm(message.roomId)) return;
        const word = message.body.trim();
        if (!/^[A-Za-z]{5}$/.test(word) || word.startsWith(p())) return;
        const game = await wordle.game(message.sender);
        if (!game || game.status !== 'playing') return;
        await playGuess(message, word);
      }),
    );
  },
});
