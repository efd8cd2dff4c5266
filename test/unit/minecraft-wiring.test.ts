/**
 * The minecraft plugin's wiring on the test kit (trellis/sdk/testing): !minecraft against the fake
 * RCON server on loopback, name checks and usage before anything reaches the server, the power
 * level gate, the per-user cooldown on the kit's clock, the RCON password from config or a file
 * (read again on a config change and on a restart).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { createTestClock, startPlugin, TEST_USER, type TestClock, type TestContext } from 'trellis/sdk/testing';
import plugin from '../../plugins/minecraft/index.ts';
import { FakeRcon } from '../fakes/rcon.ts';
import { freePort } from '../harness/daemon.ts';

type Config = Parameters<typeof plugin.setup>[0]['config'];
const PASSWORD = 'hunter2-long';
const BOB = '@bob:example.org';

describe('minecraft plugin on the test kit', () => {
  let rcon: FakeRcon;
  let dir: string;
  let clock: TestClock;
  before(async () => {
    rcon = await FakeRcon.start({ password: PASSWORD, unknownPlayers: ['Nobody123'] });
    dir = await mkdtemp(join(tmpdir(), 'trellis-minecraft-wiring-'));
  });
  after(async () => {
    await rcon.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    // The cooldown compares Date.now() with its end: the kit's clock drives both.
    clock = createTestClock({ start: Date.UTC(2025, 5, 1, 12), patchDate: true });
    rcon.whitelist.clear();
  });
  afterEach(() => clock.restore());

  function started(config: Partial<Config> = {}): Promise<TestContext<Config>> {
    return startPlugin(plugin, {
      clock,
      config: { prefix: '!', host: rcon.host, port: rcon.port, password: PASSWORD, password_file: '', timeout_seconds: 5, user_cooldown_seconds: 60, min_power_level: 0, ...config },
    });
  }

  /** The text of the one reply a message gets. */
  async function answer(ctx: TestContext<Config>, body: string, sender = TEST_USER): Promise<string> {
    const { sent } = await ctx.sendMessage(body, { sender });
    assert.equal(sent.length, 1, `${body} got ${sent.length} answers`);
    assert.equal(sent[0].content.msgtype, 'm.notice');
    return sent[0].text!;
  }

  test('!minecraft adds the name over RCON and says what the server answered, in plain words', async () => {
    const ctx = await started();
    assert.equal(await answer(ctx, '!minecraft Steve_42'), "Steve_42 is now on the Minecraft server's whitelist.");
    assert.equal(rcon.commands.at(-1)?.command, 'whitelist add Steve_42');
    assert.deepEqual([...rcon.whitelist], ['steve_42']);
    assert.equal(await answer(ctx, '!MINECRAFT   Steve_42 ', BOB), "Steve_42 is already on the Minecraft server's whitelist.");
    assert.equal(await answer(ctx, '!minecraft Nobody123', '@carol:example.org'), 'The Minecraft server found no player named Nobody123. Check the spelling of the name.');
    assert.equal(ctx.metrics.value('whitelist_requests_total', { outcome: 'added' }), 1);
    assert.equal(ctx.metrics.value('whitelist_requests_total', { outcome: 'already' }), 1);
    assert.equal(ctx.metrics.value('whitelist_requests_total', { outcome: 'unknown_player' }), 1);
    assert.equal(ctx.storage.data.size, 0, 'the plugin keeps nothing in storage');
  });

  test('a missing or bad name is answered before anything reaches the server', async () => {
    const ctx = await started();
    const before = { commands: rcon.commands.length, auths: rcon.authAttempts.length };
    assert.equal(await answer(ctx, '!minecraft'), 'Usage: !minecraft <username> (missing <username>)');
    assert.equal(await answer(ctx, '!minecraft bad-name!'), '"bad-name!" is not a valid Minecraft name: use only letters (A–Z), digits and underscores.');
    assert.equal(await answer(ctx, '!minecraft Steve Alex'), 'Give one Minecraft name only (no spaces): "Steve Alex" is not one name.');
    assert.equal(await answer(ctx, '!minecraft ab'), '"ab" is not a valid Minecraft name: names are 3 to 16 characters long (this one has 2).');
    assert.deepEqual({ commands: rcon.commands.length, auths: rcon.authAttempts.length }, before);
    assert.equal(rcon.whitelist.size, 0);
    // A refused name does not start the cooldown.
    assert.equal(await answer(ctx, '!minecraft Alex'), "Alex is now on the Minecraft server's whitelist.");
  });

  test('one request per cooldown on the clock; a failed request gives the turn back', async () => {
    const ctx = await started({ prefix: '?' });
    assert.equal(await answer(ctx, '?minecraft Alex'), "Alex is now on the Minecraft server's whitelist.");
    const sentToServer = rcon.commands.length;
    assert.equal(await answer(ctx, '?minecraft Steve'), 'Please wait: you can use ?minecraft again in 1 min.');
    await clock.advance(45_000);
    assert.equal(await answer(ctx, '?minecraft Steve'), 'Please wait: you can use ?minecraft again in 15 s.');
    assert.equal(rcon.commands.length, sentToServer, 'nothing was sent while waiting');
    assert.equal(await answer(ctx, '?minecraft Steve', BOB), "Steve is now on the Minecraft server's whitelist.", 'the cooldown is per person');
    await clock.advance(15_000);
    assert.equal(await answer(ctx, '?minecraft Notch'), "Notch is now on the Minecraft server's whitelist.");

    // The server goes away: the request fails, and the person may try again at once.
    await ctx.updateConfig({ ...ctx.config, port: await freePort() });
    await clock.advance(60_000);
    assert.equal(await answer(ctx, '?minecraft Herobrine'), 'The Minecraft server cannot be reached right now. Please try again later.');
    assert.equal(await answer(ctx, '?minecraft Herobrine'), 'The Minecraft server cannot be reached right now. Please try again later.');
    assert.equal(ctx.metrics.value('whitelist_requests_total', { outcome: 'failed_unreachable' }), 2);
    assert.ok(ctx.logs.some((l) => l.level === 'warn' && /whitelist add Herobrine for @alice:example\.org failed \(unreachable\)/.test(l.message)));
  });

  test('min_power_level keeps people below it out, and says their level', async () => {
    const ctx = await started({ min_power_level: 50 });
    ctx.setPowerLevel(BOB, 10);
    assert.equal(await answer(ctx, '!minecraft Steve', BOB), 'Only members with power level 50 or more can add names to the Minecraft whitelist here (yours is 10).');
    assert.equal(rcon.whitelist.size, 0);
    ctx.setPowerLevel(BOB, 50);
    assert.equal(await answer(ctx, '!minecraft Steve', BOB), "Steve is now on the Minecraft server's whitelist.");
  });

  test('the password: none configured, a wrong one, one from password_file (read again on a config change)', async () => {
    const ctx = await started({ password: '' });
    assert.ok(ctx.logs.some((l) => l.level === 'warn' && /no RCON password is configured/.test(l.message)));
    const auths = rcon.authAttempts.length;
    assert.equal(await answer(ctx, '!minecraft Steve'), "The bot is not set up to talk to the Minecraft server yet (no RCON password). An admin needs to fix the bot's settings.");
    assert.equal(rcon.authAttempts.length, auths, 'no login was tried');

    await ctx.updateConfig({ ...ctx.config, password: 'not-it' });
    assert.equal(await answer(ctx, '!minecraft Steve'), "The bot could not log in to the Minecraft server: the server refused the bot's RCON password. An admin needs to fix the bot's settings.");
    assert.ok(!ctx.logs.some((l) => l.message.includes('not-it')), 'the password is not logged');

    const file = join(dir, 'rcon-password');
    await writeFile(file, `${PASSWORD}\n`);
    await ctx.updateConfig({ ...ctx.config, password_file: file });
    assert.equal(await answer(ctx, '!minecraft Steve'), "Steve is now on the Minecraft server's whitelist.", 'the file wins over password, without its newline');

    await ctx.updateConfig({ ...ctx.config, password_file: join(dir, 'missing') });
    assert.ok(ctx.logs.some((l) => l.level === 'warn' && /cannot read password_file .*missing: ENOENT/.test(l.message)));
    assert.match(await answer(ctx, '!minecraft Alex', BOB), /^The bot is not set up to talk to the Minecraft server yet/);
  });

  test('a restart reads password_file again', async () => {
    const file = join(dir, 'rotated-password');
    await writeFile(file, 'old-password');
    const first = await started({ password: '', password_file: file });
    assert.match(await answer(first, '!minecraft Steve'), /refused the bot's RCON password/);
    await writeFile(file, PASSWORD);
    const second = await first.restart(plugin);
    assert.equal(await answer(second, '!minecraft Steve'), "Steve is now on the Minecraft server's whitelist.");
  });
});
