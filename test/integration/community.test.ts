/**
 * The community plugin end to end: a person types its commands in a room on
 * a real Synapse and the real daemon answers. !health checks a fake RCON
 * port and a fake Ollama on loopback (test/fakes/rcon.ts, test/fakes/ollama.ts),
 * first listening, then stopped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';
import { FakeOllama } from '../fakes/ollama.ts';
import { FakeRcon } from '../fakes/rcon.ts';
import shippedChampions from '../../plugins/community/data/champions.json' with { type: 'json' };
import shippedAgents from '../../plugins/community/data/agents.json' with { type: 'json' };
import eightBall from '../../plugins/community/data/eight-ball.json' with { type: 'json' };
import fortunes from '../../plugins/community/data/fortunes.json' with { type: 'json' };

interface ApiClient {
  id: string;
}
interface ApiInstance {
  state: string;
}

describe('community plugin through a real homeserver', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;
  let bot: ApiClient;
  let room: string;
  let rcon: FakeRcon;
  let ollama: FakeOllama;

  const replyTarget = (ev: TestMatrixEvent) => (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id;
  const botNotice = (ev: TestMatrixEvent) => ev.sender === bot.id && ev.type === 'm.room.message' && ev.content.msgtype === 'm.notice';

  /** Sends a command and returns the bot's answer to it (a notice replying to it). */
  async function ask(text: string): Promise<string> {
    const sent = await user.sendText(room, text);
    const answer = await user.waitForEvent(room, (ev) => botNotice(ev) && replyTarget(ev) === sent, 20_000, `the answer to ${text}`);
    return String(answer.content.body);
  }

  async function putInstance(config: Record<string, unknown>, expectedStatus: number): Promise<void> {
    const put = await daemon.api<ApiInstance>('PUT', '/instance/community', { type: 'org.trellis.community', primary_user: bot.id, rooms: [room], config });
    assert.equal(put.status, expectedStatus, put.text);
  }

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    rcon = await FakeRcon.start();
    ollama = await FakeOllama.start();
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    user = await TestUser.create(hs, 'member');
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('communitybot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    room = await user.createRoom({ name: 'community', invite: [bot.id] });
    await putInstance({}, 201);
    await daemon.waitFor('instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/community')).body.state === 'running' || undefined);
    await user.waitForMembership(room, bot.id, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await rcon?.stop().catch(() => undefined);
    await ollama?.stop().catch(() => undefined);
    await hs?.release();
  });

  it('!ping answers with the latency', async () => {
    assert.match(await ask('!ping'), /^Pong! \d+ ms$/);
  });

  it('!8ball answers a question with a classic answer, and wants the question', async () => {
    const answer = await ask('!8ball Will it rain tomorrow?');
    assert.ok(
      eightBall.some((a) => answer === `🎱 ${a}`),
      answer,
    );
    assert.equal(await ask('!8ball'), 'Usage: !8ball <question> (missing <question>)');
  });

  it('!fortune and !flip', async () => {
    const fortune = await ask('!fortune');
    assert.ok(
      fortunes.some((f) => fortune === `🥠 ${f}`),
      fortune,
    );
    assert.match(await ask('!flip'), /^🪙 (Heads|Tails)!$/);
  });

  it('!roll shows each term and the total', async () => {
    const m = /^🎲 2d6 \[(\d+), (\d+)\] \+ 1d4 \[(\d+)\] - 2 = (-?\d+)$/.exec(await ask('!roll 2d6+1d4-2'));
    assert.ok(m, 'the 2d6+1d4-2 answer');
    const [a, b, c, total] = m.slice(1).map(Number);
    assert.ok(a >= 1 && a <= 6 && b >= 1 && b <= 6 && c >= 1 && c <= 4);
    assert.equal(total, a + b + c - 2);
    const d20 = /^🎲 1d20 \[(\d+)\] = (\d+)$/.exec(await ask('!roll d20'));
    assert.ok(d20 && d20[1] === d20[2] && Number(d20[1]) >= 1 && Number(d20[1]) <= 20);
    const spaced = /^🎲 3d6 \[(\d+), (\d+), (\d+)\] \+ 5 = (\d+)$/.exec(await ask('!roll 3d6 + 5'));
    assert.ok(spaced);
    assert.equal(Number(spaced[4]), Number(spaced[1]) + Number(spaced[2]) + Number(spaced[3]) + 5);
  });

  it('!roll refuses too many dice or sides, and garbage', async () => {
    assert.equal(await ask('!roll 1000d1000000'), 'Too many dice (1000; at most 100 in total) and too many sides (1000000; at most 1000 per die).');
    assert.match(await ask('!roll abc'), /^That is not dice notation, e\.g\. 2d6\+3/);
  });

  it('!random draws from the range and explains bad bounds', async () => {
    const m = /^🔢 (-?\d+) \(from 1 to 6\)$/.exec(await ask('!random 1 6'));
    assert.ok(m && Number(m[1]) >= 1 && Number(m[1]) <= 6);
    assert.equal(await ask('!random 5 1'), 'min must not be greater than max (5 > 1). Usage: !random <min> <max>, e.g. !random 1 100.');
    assert.match(await ask('!random 1 2.5'), /^"2\.5" is not a whole number\./);
  });

  it('!rps says who won, and rejects other choices', async () => {
    const m = /^You chose \S+ rock, I chose \S+ (rock|paper|scissors): (you win!|I win!|it's a draw\.)$/.exec(await ask('!rps rock'));
    assert.ok(m, 'the rps answer');
    const expected = { scissors: 'you win!', paper: 'I win!', rock: "it's a draw." }[m[1] as 'rock' | 'paper' | 'scissors'];
    assert.equal(m[2], expected);
    assert.equal(await ask('!rps lizard'), '"lizard" is not a choice: pick rock, paper or scissors.');
  });

  it('!champion picks a champion, for a lane when asked, and lists the lanes otherwise', async () => {
    const any = /^🎮 Your champion: (.+) \(([a-z, ]+)\)$/.exec(await ask('!champion'));
    assert.ok(any && shippedChampions.some((c) => c.name === any[1]), 'a shipped champion');
    const mid = /^🎮 Your mid champion: (.+)$/.exec(await ask('!champion mid'));
    assert.ok(mid && shippedChampions.some((c) => c.name === mid[1] && c.lanes.includes('mid')), 'a mid champion');
    assert.equal(await ask('!champion nowhere'), '"nowhere" is not a lane. Lanes: top, jungle, mid, bot, support.');
  });

  it('!agent picks an agent, by role when asked, and rejects unknown roles', async () => {
    const any = /^🎯 Your agent: (.+) \((\w+)\)$/.exec(await ask('!agent'));
    assert.ok(any && shippedAgents.some((a) => a.name === any[1] && a.role === any[2]), 'a shipped agent');
    const duelist = /^🎯 Your agent: (.+) \(duelist\)$/.exec(await ask('!agent duelist'));
    assert.ok(duelist && shippedAgents.some((a) => a.name === duelist[1] && a.role === 'duelist'));
    assert.equal(await ask('!agent healer'), '"healer" is not a role. Roles: duelist, initiator, controller, sentinel.');
  });

  it('ignores unknown commands by default: the next command is answered first', async () => {
    const unknown = await user.sendText(room, '!nosuchcommand please');
    const flip = await user.sendText(room, '!flip');
    const first = await user.waitForEvent(room, botNotice, 20_000, 'the next answer');
    assert.equal(replyTarget(first), flip, 'the first answer is the one to !flip');
    assert.notEqual(replyTarget(first), unknown);
  });

  it('!health shows uptime and the homeserver, and nothing unconfigured', async () => {
    const lines = (await ask('!health')).split('\n');
    assert.equal(lines.length, 2, lines.join(' | '));
    assert.match(lines[0], /^Uptime: (\d+ (d|h|min) )*\d+ s \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/);
    assert.match(lines[1], /^Homeserver: up \(\d+ ms round trip\)$/);
  });

  it('with unknown_command: hint, answers unknown commands with a hint, not known ones', async () => {
    await putInstance({ unknown_command: 'hint', eight_ball_answers: ['Only this answer.'], champions: [{ name: 'Testy', lanes: ['top'] }] }, 200);
    assert.equal(await ask('!nosuchcommand please'), 'Unknown command !nosuchcommand — try !help.');
    assert.equal(await ask('!NoSuch'), 'Unknown command !NoSuch — try !help.');
    const help = await ask('!help');
    assert.match(help, /!roll <dice> — Roll dice/);
    assert.doesNotMatch(help, /Unknown command/);
    // Configured lists replace the shipped ones.
    assert.equal(await ask('!8ball Is this configured?'), '🎱 Only this answer.');
    assert.equal(await ask('!champion'), '🎮 Your champion: Testy (top)');
    assert.equal(await ask('!champion mid'), 'No champion in the list plays mid.');
    // A known command still gets only its own answer: the next bot message answers the next command.
    const ping = await user.sendText(room, '!ping');
    const flip = await user.sendText(room, '!flip');
    assert.equal(replyTarget(await user.waitForEvent(room, botNotice, 20_000, 'the !ping answer')), ping);
    assert.equal(replyTarget(await user.waitForEvent(room, botNotice, 20_000, 'the !flip answer')), flip);
  });

  it('!health reports a configured RCON port and Ollama up, then down once they stop', async () => {
    await putInstance({ health: { timeout_ms: 2000, rcon: { host: '127.0.0.1', port: rcon.port }, ollama: { url: ollama.url } } }, 200);
    const connectionsBefore = rcon.connections;
    const up = (await ask('!health')).split('\n');
    assert.equal(up.length, 4, up.join(' | '));
    assert.match(up[1], /^Homeserver: up/);
    assert.match(up[2], new RegExp(`^RCON 127\\.0\\.0\\.1:${rcon.port}: up \\(connected in \\d+ ms\\)$`));
    assert.equal(up[3], `Ollama ${ollama.url}: up (version 0.12.6)`);
    assert.equal(rcon.connections, connectionsBefore + 1, 'the RCON port saw the check');
    assert.ok(ollama.requests.some((r) => r.method === 'GET' && r.path === '/api/version'));

    await rcon.stop();
    await ollama.stop();
    const down = (await ask('!health')).split('\n');
    assert.equal(down.length, 4, down.join(' | '));
    assert.equal(down[2], `RCON 127.0.0.1:${rcon.port}: down — connection refused`);
    assert.equal(down[3], `Ollama ${ollama.url}: down — connection refused`);
    // The instance is fine afterwards.
    assert.match(await ask('!ping'), /^Pong! \d+ ms$/);
  });
});
