/**
 * The ping plugin: `!ping` answers with the measured latency, `!echo` repeats
 * its text. The smallest end-to-end check of a bot.
 */
import { definePlugin, escapeHtml } from 'trellis/sdk';

interface PingConfig {
  prefix: string;
  pong_text: string;
  [key: string]: unknown;
}

export default definePlugin<PingConfig>({
  setup(ctx) {
    ctx.command({
      name: 'ping',
      description: 'Answer with the latency from the message to the bot',
      handler: async ({ message }) => {
        // origin_server_ts is the homeserver's clock: latency = homeserver → bot, plus clock skew.
        const latency = Math.max(0, Date.now() - message.event.origin_server_ts);
        await message.reply(`${ctx.config.pong_text} ${latency} ms`, `${escapeHtml(ctx.config.pong_text)} <b>${latency} ms</b>`);
      },
    });
    ctx.command({
      name: 'echo',
      description: 'Repeat the text',
      args: [{ name: 'text', required: true, rest: true }],
      handler: async ({ args, message }) => {
        await message.reply(args.text);
      },
    });
  },
});
