/**
 * Ask: `!ask <question>` is answered by an Ollama model. With stream_edits
 * the bot posts a notice at once and edits it as the answer streams in (at
 * most every edit_interval_ms), then a last edit with the whole answer;
 * otherwise it replies once the answer is complete. Each person waits
 * user_cooldown_seconds between questions.
 */
import { Cooldowns, definePlugin, formatWait, type MessageEvent, type PluginContext, errorMessage } from 'trellis/sdk';
import { askModel, AskFailure, type AskResult } from './answer.ts';
import { ProgressiveEditor } from './edits.ts';

interface Config {
  [key: string]: unknown;
  prefix: string;
  host: string;
  model: string;
  system_prompt: string;
  timeout_seconds: number;
  user_cooldown_seconds: number;
  stream_edits: boolean;
  edit_interval_ms: number;
  max_answer_chars: number;
}

export const THINKING = 'Thinking…';
/** Shown after the partial answer while it is still being written. */
export const STILL_WRITING = ' …';

/** The server's URL without any user:password in it, for the log. */
export function safeHost(host: string): string {
  try {
    const url = new URL(host.includes('://') ? host : `http://${host}`);
    url.username = '';
    url.password = '';
    return url.origin + url.pathname.replace(/\/$/, '');
  } catch {
    return '(invalid host)';
  }
}

function seconds(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** What the person reads when the answer could not be (fully) given. */
export function failureText(failure: AskFailure, config: Pick<Config, 'model' | 'timeout_seconds'>): string {
  switch (failure.kind) {
    case 'unreachable':
      return "Sorry, I can't reach the model server right now. Please try again later.";
    case 'model_missing':
      return `Sorry, the model "${config.model}" is not available on the model server. An admin needs to install it (ollama pull ${config.model}).`;
    case 'timeout':
      return failure.partial.trim()
        ? `${failure.partial}\n\n(The answer was cut off: it took longer than ${seconds(config.timeout_seconds)} s.)`
        : `Sorry, the model took too long to answer (more than ${seconds(config.timeout_seconds)} s). Please try again later.`;
    case 'aborted':
      return failure.partial.trim() ? `${failure.partial}\n\n(The answer was interrupted: the bot restarted.)` : 'Sorry, the bot restarted before it could answer. Please ask again.';
    default:
      return 'Sorry, the model server ran into a problem while answering. Please try again later.';
  }
}

export function answerText(result: AskResult): string {
  const text = result.text.trim();
  if (!text) return 'Sorry, the model gave an empty answer. Try asking in other words.';
  return result.truncated ? `${text}\n\n(The answer was too long and was cut here.)` : text;
}

export default definePlugin<Config>({
  setup(ctx: PluginContext<Config>) {
    const questions = ctx.metrics.counter('questions_total', 'Questions answered, by outcome', ['outcome']);
    const cooldowns = new Cooldowns();
    const clock = { now: () => Date.now(), schedule: (fn: () => void, ms: number) => ctx.timers.setTimeout(fn, ms) };

    async function answer(message: MessageEvent, question: string): Promise<void> {
      const config = ctx.config;
      const cancelCooldown = cooldowns.start(message.sender, config.user_cooldown_seconds);
      let editor: ProgressiveEditor | null = null;
      if (config.stream_edits) {
        let noticeId: string;
        try {
          noticeId = await message.reply(THINKING);
        } catch (err) {
          cancelCooldown();
          throw err;
        }
        editor = new ProgressiveEditor(
          (text) => ctx.matrix.edit(message.roomId, noticeId, text),
          config.edit_interval_ms,
          clock,
          (err) => ctx.log.warn(`ask: a progressive edit failed: ${errorMessage(err)}`, { room: message.roomId }),
        );
      }
      const deliver = (text: string) => (editor ? editor.finish(text) : message.reply(text).then(() => undefined));
      const started = Date.now();
      let result: AskResult;
      try {
        result = await askModel(
          {
            host: config.host,
            model: config.model,
            systemPrompt: config.system_prompt,
            timeoutMs: config.timeout_seconds * 1000,
            maxChars: config.max_answer_chars,
            signal: ctx.signal /* aborted when the instance stops, so no answer outlives it */,
          },
          question,
          (soFar) => editor?.update(soFar + STILL_WRITING),
        );
      } catch (err) {
        const failure = err instanceof AskFailure ? err : new AskFailure('server', errorMessage(err));
        // A failed answer does not use up the person's turn.
        cancelCooldown();
        questions.inc({ outcome: failure.kind });
        ctx.log.warn(`ask: ${config.model} at ${safeHost(config.host)} could not answer ${message.sender} (${failure.kind}): ${failure.message}`, { room: message.roomId });
        if (failure.kind === 'aborted') {
          // The instance is stopping: tell the room if it still can, quietly.
          await deliver(failureText(failure, config)).catch(() => undefined);
          return;
        }
        await deliver(failureText(failure, config));
        return;
      }
      questions.inc({ outcome: 'answered' });
      ctx.log.info(`ask: answered ${message.sender} with ${config.model} in ${Date.now() - started} ms (${result.evalCount ?? '?'} tokens, ${result.doneReason ?? 'stop'})`, {
        room: message.roomId,
      });
      await deliver(answerText(result));
    }

    ctx.command({
      name: 'ask',
      description: 'Ask the AI model a question',
      args: [{ name: 'question', required: true, rest: true }],
      handler: async ({ args, message }) => {
        const question = (args.question ?? '').trim();
        const wait = cooldowns.remaining(message.sender);
        if (wait > 0) {
          await message.reply(`You can ask again in ${formatWait(wait)}.`);
          return;
        }
        // Answering takes long: the handler returns at once so the bot keeps handling other messages.
        void answer(message, question).catch((err: Error) => ctx.log.error(`ask: answering ${message.sender} failed: ${err.message}`, { room: message.roomId, err }));
      },
    });
  },
});
