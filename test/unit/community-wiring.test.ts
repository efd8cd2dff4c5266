/** The community plugin's wiring on the test kit (trellis/sdk/testing): each command answered, usage errors, unknown-command hints, !health. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTestContext } from 'trellis/sdk/testing';
import plugin from '../../plugins/community/index.ts';
import { NOT_DICE } from '../../plugins/community/dice.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];

const BASE: Config = {
  prefix: '!',
  unknown_command: 'ignore',
  max_dice: 20,
  max_sides: 1000,
  eight_ball_answers: [],
  fortunes: [],
  champions: [],
  agents: [],
  health: { timeout_ms: 500, rcon: { host: '', port: 25575 }, ollama: { url: '' } },
};

async function started(config: Partial<Config> = {}) {
  const ctx = createTestContext<Config>({ config: { ...BASE, ...config } });
  await plugin.setup(ctx);
  return ctx;
}

/** The text of the one reply a message gets. */
async function answer(ctx: Awaited<ReturnType<typeof started>>, body: string): Promise<string> {
  const { sent } = await ctx.sendMessage(body);
  assert.equal(sent.length, 1, `${body} got ${sent.length} answers`);
  assert.equal(sent[0].content.msgtype, 'm.notice');
  return sent[0].text!;
}

describe('community plugin on the test kit', () => {
  test('registers its commands; !help lists them with their arguments', async () => {
    const ctx = await started();
    assert.deepEqual(ctx.commands, ['8ball', 'agent', 'champion', 'flip', 'fortune', 'health', 'help', 'ping', 'random', 'roll', 'rps']);
    const help = await answer(ctx, '!help');
    assert.match(help, /^!8ball <question> — /m);
    assert.match(help, /^!random <min> <max> — /m);
    assert.match(help, /^!champion \[lane\] — /m);
  });

  test('!roll rolls the dice it is given and reports bad dice', async () => {
    const ctx = await started({ max_dice: 5 });
    assert.equal(await answer(ctx, '!roll 3d1+2'), '🎲 3d1 [1, 1, 1] + 2 = 5');
    assert.equal(await answer(ctx, '!roll 9d6'), 'Too many dice (9; at most 5 in total).');
    assert.equal(await answer(ctx, '!roll banana'), NOT_DICE);
    assert.equal(await answer(ctx, '!roll'), 'Usage: !roll <dice> (missing <dice>)');
  });

  test('!random, !rps, !flip and !8ball answer within their rules', async () => {
    const ctx = await started({ eight_ball_answers: ['Certainly.'] });
    assert.equal(await answer(ctx, '!random 7 7'), '🔢 7 (from 7 to 7)');
    assert.match(await answer(ctx, '!random x 3'), /Usage: !random <min> <max>, e\.g\. !random 1 100\.$/);
    assert.equal(await answer(ctx, '!random 1'), 'Usage: !random <min> <max> (missing <max>)');
    assert.match(await answer(ctx, '!rps rock'), /^You chose ✊ rock, I chose .+: (you win!|I win!|it's a draw\.)$/);
    assert.equal(await answer(ctx, '!rps lizard'), '"lizard" is not a choice: pick rock, paper or scissors.');
    assert.match(await answer(ctx, '!flip'), /^🪙 (Heads|Tails)!$/);
    assert.equal(await answer(ctx, '!8ball will it work?'), '🎱 Certainly.');
  });

  test('!champion and !agent pick from the configured lists, filtered by lane or role', async () => {
    const ctx = await started({
      champions: [
        { name: 'Ahri', lanes: ['mid'] },
        { name: 'Thresh', lanes: ['support'] },
      ],
      agents: [{ name: 'Sage', role: 'sentinel' }],
    } as Partial<Config>);
    assert.equal(await answer(ctx, '!champion support'), '🎮 Your support champion: Thresh');
    assert.match(await answer(ctx, '!champion river'), /^"river" is not a lane\./);
    assert.equal(await answer(ctx, '!agent sentinel'), '🎯 Your agent: Sage (sentinel)');
    assert.equal(await answer(ctx, '!agent duelist'), 'No agent in the list is a duelist.');
  });

  test('!health reports the uptime and the homeserver round trip', async () => {
    const ctx = await started();
    ctx.matrix.homeserverLatency = 12.4;
    const text = await answer(ctx, '!health');
    assert.match(text, /^Uptime: .+ \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\nHomeserver: up \(12 ms round trip\)$/);
  });

  test('unknown commands: ignored by default, hinted when configured, never for notices or the bot itself', async () => {
    const quiet = await started();
    await quiet.sendMessage('!dance');
    assert.deepEqual(quiet.sent, []);

    const hinting = await started({ unknown_command: 'hint', prefix: '?' });
    assert.equal(await answer(hinting, '?dance now'), 'Unknown command ?dance — try ?help.');
    await hinting.sendMessage('?dance', { msgtype: 'm.notice' });
    await hinting.sendMessage('?dance', { sender: hinting.matrix.userId });
    await hinting.sendMessage('!dance');
    assert.equal(hinting.sent.length, 1);
    // A known command is answered once, by the command, not hinted.
    assert.match(await answer(hinting, '?FLIP'), /^🪙 (Heads|Tails)!$/);
  });
});
