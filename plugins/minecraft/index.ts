/**
 * Minecraft whitelist: `!minecraft <name>` checks the name, the person's
 * power level and cooldown, then sends `whitelist add <name>` to the server
 * over RCON and tells the room what the server said, in plain words.
 */
import { readFile } from 'node:fs/promises';
import { Cooldowns, definePlugin, formatWait, type MessageEvent, type PluginContext, errorMessage } from 'trellis/sdk';
import { describeWhitelistAnswer, validateMinecraftName } from './names.ts';
import { runRconCommand, type RconFailure } from './rcon.ts';

interface Config {
  [key: string]: unknown;
  prefix: string;
  host: string;
  port: number;
  password: string;
  password_file: string;
  timeout_seconds: number;
  user_cooldown_seconds: number;
  min_power_level: number;
}

function failureText(failure: RconFailure): string {
  switch (failure.kind) {
    case 'unreachable':
    case 'closed':
      return 'The Minecraft server cannot be reached right now. Please try again later.';
    case 'auth':
      return "The bot could not log in to the Minecraft server: the server refused the bot's RCON password. An admin needs to fix the bot's settings.";
    case 'timeout':
      return 'The Minecraft server did not answer in time. Please try again later.';
    default:
      return 'Something went wrong while talking to the Minecraft server. Please try again later.';
  }
}

export default definePlugin<Config>({
  async setup(ctx: PluginContext<Config>) {
    const requests = ctx.metrics.counter('whitelist_requests_total', 'Whitelist requests sent to the server, by outcome', ['outcome']);
    const cooldowns = new Cooldowns();

    /** The password in force: from password_file when set (read at start and on config change), else password. */
    let password = '';
    let passwordProblem: string | null = null;
    async function loadPassword(config: Config): Promise<void> {
      passwordProblem = null;
      if (config.password_file) {
        try {
          password = (await readFile(config.password_file, 'utf8')).replace(/\r?\n$/, '');
          if (password === '') passwordProblem = `password_file ${config.password_file} is empty`;
        } catch (err) {
          password = '';
          passwordProblem = `cannot read password_file ${config.password_file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
        }
      } else {
        password = config.password;
        if (password === '') passwordProblem = 'no RCON password is configured (set password_file or password)';
      }
      if (passwordProblem) ctx.log.warn(`minecraft: ${passwordProblem}`);
    }
    await loadPassword(ctx.config);
    ctx.onConfigChange((next) => loadPassword(next));

    async function whitelist(message: MessageEvent, input: string): Promise<void> {
      const config = ctx.config;
      if (config.min_power_level > 0) {
        let level: number;
        try {
          level = await ctx.matrix.powerLevel(message.roomId, message.sender);
        } catch (err) {
          ctx.log.warn(`minecraft: could not read the power levels of ${message.roomId}: ${errorMessage(err)}`);
          await message.reply('I could not check your power level in this room. Please try again later.');
          return;
        }
        if (level < config.min_power_level) {
          await message.reply(`Only members with power level ${config.min_power_level} or more can add names to the Minecraft whitelist here (yours is ${level}).`);
          return;
        }
      }

      const check = validateMinecraftName(input);
      if (!check.ok) {
        await message.reply(check.problem);
        return;
      }
      const name = check.name;

      const wait = cooldowns.remaining(message.sender);
      if (wait > 0) {
        await message.reply(`Please wait: you can use ${ctx.prefix}minecraft again in ${formatWait(wait)}.`);
        return;
      }

      if (passwordProblem) {
        ctx.log.warn(`minecraft: whitelist request for ${name} not sent: ${passwordProblem}`);
        await message.reply("The bot is not set up to talk to the Minecraft server yet (no RCON password). An admin needs to fix the bot's settings.");
        return;
      }

      // Counted from the start, so two quick requests cannot both go through; a failure gives the turn back.
      const cancel = cooldowns.start(message.sender, config.user_cooldown_seconds);
      let answer: string;
      try {
        answer = await runRconCommand({ host: config.host, port: config.port, password, timeoutMs: config.timeout_seconds * 1000 }, `whitelist add ${name}`);
      } catch (err) {
        cancel();
        const failure = err as RconFailure;
        requests.inc({ outcome: `failed_${failure.kind}` });
        ctx.log.warn(`minecraft: whitelist add ${name} for ${message.sender} failed (${failure.kind}) on ${config.host}:${config.port}: ${failure.message}`);
        await message.reply(failureText(failure));
        return;
      }
      const described = describeWhitelistAnswer(name, answer);
      requests.inc({ outcome: described.outcome });
      ctx.log.info(`minecraft: whitelist add ${name} for ${message.sender}: ${described.outcome}`);
      await message.reply(described.text);
    }

    ctx.command({
      name: 'minecraft',
      description: 'Add your Minecraft name to the server whitelist',
      args: [{ name: 'username', required: true, rest: true }],
      handler: ({ args, message }) => whitelist(message, args.username ?? ''),
    });
  },
});
