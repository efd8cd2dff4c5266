import { definePlugin, escapeHtml } from 'trellis/sdk';

interface PingConfig {
  prefix: string;
  pong_text: string;
  fail_on?: string;
  [key: string]: unknown;
}

export default definePlugin<PingConfig>({
  setup(ctx) {
    ctx.command({
      name: 'ping',
      description: 'Answer with the latency from the message to the bot',
      handler: async ({ message }) => {
        if (ctx.config.fail_on === 'ping') throw new Error('ping failed on purpose (fail_on: ping)');
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
        if (ctx.config.fail_on === 'echo') throw new Error('echo failed on purpose (fail_on: echo)');
        await message.reply(args.text);
      },
    });
  },
});
