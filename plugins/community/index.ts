/**
 * A community bot's small commands: !ping, !8ball, !fortune, !flip, !roll,
 * !random, !rps, !champion, !agent and !health. The rules live in dice.ts
 * and games.ts, the !health probes in health.ts, the word lists in data/.
 */
import { definePlugin, escapeHtml, type CommandDefinition, type PluginContext } from 'trellis/sdk';
import { formatRoll, parseDice, rollDice } from './dice.ts';
import {
  agentsFor,
  championsFor,
  formatDuration,
  LANES,
  listOrDefault,
  parseLane,
  parseRange,
  parseRole,
  parseRps,
  pick,
  ROLES,
  RPS_CHOICES,
  rpsOutcome,
  secureRandom,
  type Agent,
  type Champion,
  type RandomInt,
} from './games.ts';
import { describeProbe, networkReason, probeOllama, probeTcp } from './health.ts';
import shippedAgents from './data/agents.json' with { type: 'json' };
import shippedChampions from './data/champions.json' with { type: 'json' };
import shippedEightBall from './data/eight-ball.json' with { type: 'json' };
import shippedFortunes from './data/fortunes.json' with { type: 'json' };

interface Config {
  [key: string]: unknown;
  prefix: string;
  unknown_command: 'ignore' | 'hint';
  max_dice: number;
  max_sides: number;
  eight_ball_answers: string[];
  fortunes: string[];
  champions: Champion[];
  agents: Agent[];
  health: {
    timeout_ms: number;
    rcon: { host: string; port: number };
    ollama: { url: string };
  };
}

const RPS_EMOJI = { rock: '✊', paper: '✋', scissors: '✌️' } as const;

/** A command name as the core matches it: the first word after the prefix. */
const COMMAND_WORD = /^([\p{L}\p{N}][\p{L}\p{N}_-]*)(?:\s|$)/u;

/** Rejects with a TimeoutError when the promise takes longer than ms. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { name: 'TimeoutError' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export default definePlugin<Config>({
  setup(ctx: PluginContext<Config>) {
    const startedAt = Date.now();
    const random: RandomInt = secureRandom;
    const config = () => ctx.config;
    const known = new Set<string>(['help']);
    const command = (definition: CommandDefinition) => {
      for (const name of [definition.name, ...(definition.aliases ?? [])]) known.add(name.toLowerCase());
      ctx.command(definition);
    };

    command({
      name: 'ping',
      description: 'Answer with the latency from your message to the bot',
      handler: async ({ message }) => {
        // origin_server_ts is the homeserver's clock: homeserver → bot, plus clock skew.
        const latency = Math.max(0, Date.now() - message.event.origin_server_ts);
        await message.reply(`Pong! ${latency} ms`, `Pong! <b>${latency} ms</b>`);
      },
    });

    command({
      name: '8ball',
      description: 'Ask the magic 8-ball a yes-or-no question',
      args: [{ name: 'question', required: true, rest: true }],
      handler: async ({ message }) => {
        const answer = pick(listOrDefault(config().eight_ball_answers, shippedEightBall), random);
        await message.reply(`🎱 ${answer}`);
      },
    });

    command({
      name: 'fortune',
      description: 'Open a fortune cookie',
      handler: async ({ message }) => {
        await message.reply(`🥠 ${pick(listOrDefault(config().fortunes, shippedFortunes), random)}`);
      },
    });

    command({
      name: 'flip',
      description: 'Flip a coin: heads or tails',
      handler: async ({ message }) => {
        await message.reply(`🪙 ${random(0, 1) === 0 ? 'Heads' : 'Tails'}!`);
      },
    });

    command({
      name: 'roll',
      description: 'Roll dice, e.g. 2d6+3, d20, 2d6+1d4-2',
      args: [{ name: 'dice', required: true, rest: true }],
      handler: async ({ args, message }) => {
        const parsed = parseDice(args.dice, { maxDice: config().max_dice, maxSides: config().max_sides });
        if (!parsed.ok) {
          await message.reply(parsed.error);
          return;
        }
        const roll = rollDice(parsed.terms, random);
        const text = formatRoll(roll);
        const cut = text.lastIndexOf(' = ');
        await message.reply(`🎲 ${text}`, `🎲 ${escapeHtml(text.slice(0, cut))} = <b>${roll.total}</b>`);
      },
    });

    command({
      name: 'random',
      description: 'A random whole number from min to max (both included)',
      args: [
        { name: 'min', required: true },
        { name: 'max', required: true },
      ],
      handler: async ({ args, message }) => {
        const range = parseRange(args.min, args.max);
        if (!range.ok) {
          await message.reply(`${range.error} Usage: ${ctx.prefix}random <min> <max>, e.g. ${ctx.prefix}random 1 100.`);
          return;
        }
        await message.reply(`🔢 ${random(range.min, range.max)} (from ${range.min} to ${range.max})`);
      },
    });

    command({
      name: 'rps',
      description: 'Play rock, paper, scissors against the bot',
      args: [{ name: 'choice', required: true }],
      handler: async ({ args, message }) => {
        const player = parseRps(args.choice);
        if (!player) {
          await message.reply(`"${args.choice}" is not a choice: pick rock, paper or scissors.`);
          return;
        }
        const bot = pick(RPS_CHOICES, random);
        const outcome = rpsOutcome(player, bot);
        const verdict = outcome === 'win' ? 'you win!' : outcome === 'lose' ? 'I win!' : "it's a draw.";
        await message.reply(`You chose ${RPS_EMOJI[player]} ${player}, I chose ${RPS_EMOJI[bot]} ${bot}: ${verdict}`);
      },
    });

    command({
      name: 'champion',
      description: `A random League of Legends champion, optionally for a lane (${LANES.join(', ')})`,
      args: [{ name: 'lane' }],
      handler: async ({ args, message }) => {
        const lane = args.lane === undefined ? undefined : parseLane(args.lane);
        if (lane === null) {
          await message.reply(`"${args.lane}" is not a lane. Lanes: ${LANES.join(', ')}.`);
          return;
        }
        const champions = championsFor(listOrDefault(config().champions, shippedChampions), lane);
        if (champions.length === 0) {
          await message.reply(`No champion in the list plays ${lane}.`);
          return;
        }
        const champion = pick(champions, random);
        await message.reply(lane ? `🎮 Your ${lane} champion: ${champion.name}` : `🎮 Your champion: ${champion.name} (${champion.lanes.join(', ')})`);
      },
    });

    command({
      name: 'agent',
      description: `A random Valorant agent, optionally by role (${ROLES.join(', ')})`,
      args: [{ name: 'role' }],
      handler: async ({ args, message }) => {
        const role = args.role === undefined ? undefined : parseRole(args.role);
        if (role === null) {
          await message.reply(`"${args.role}" is not a role. Roles: ${ROLES.join(', ')}.`);
          return;
        }
        const agents = agentsFor(listOrDefault(config().agents, shippedAgents), role);
        if (agents.length === 0) {
          await message.reply(`No agent in the list is a ${role}.`);
          return;
        }
        const agent = pick(agents, random);
        await message.reply(`🎯 Your agent: ${agent.name} (${agent.role})`);
      },
    });

    command({
      name: 'health',
      description: "The bot's uptime, the homeserver round trip, and the configured servers",
      handler: async ({ message }) => {
        const health = config().health;
        const timeoutMs = health.timeout_ms;
        const checks: Array<Promise<string>> = [
          withTimeout(ctx.matrix.pingHomeserver(), timeoutMs).then(
            (ms) => `Homeserver: up (${Math.round(ms)} ms round trip)`,
            (err: unknown) => `Homeserver: down — ${networkReason(err, timeoutMs)}`,
          ),
        ];
        if (health.rcon.host) {
          const { host, port } = health.rcon;
          checks.push(probeTcp(host, port, timeoutMs).then((p) => describeProbe(`RCON ${host}:${port}`, p)));
        }
        if (health.ollama.url) {
          checks.push(probeOllama(health.ollama.url, timeoutMs).then((p) => describeProbe(`Ollama ${health.ollama.url}`, p)));
        }
        const lines = [`Uptime: ${formatDuration(Date.now() - startedAt)} (since ${new Date(startedAt).toISOString().replace(/\.\d+Z$/, 'Z')})`, ...(await Promise.all(checks))];
        await message.reply(lines.join('\n'), lines.map(escapeHtml).join('<br>'));
      },
    });

    ctx.onMessage(async (message) => {
      if (config().unknown_command !== 'hint') return;
      if (message.msgtype === 'm.notice' || message.sender === ctx.matrix.userId) return;
      const prefix = ctx.prefix;
      if (!message.body.startsWith(prefix)) return;
      const word = COMMAND_WORD.exec(message.body.slice(prefix.length))?.[1];
      if (!word || known.has(word.toLowerCase())) return;
      const name = word.length > 32 ? `${word.slice(0, 32)}…` : word;
      await message.reply(`Unknown command ${prefix}${name} — try ${prefix}help.`);
    });
  },
});
