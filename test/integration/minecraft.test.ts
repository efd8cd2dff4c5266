/**
 * The minecraft plugin end to end: people ask for a whitelist entry in a
 * room on a real Synapse; the real daemon runs the plugin, which talks to a
 * fake Minecraft RCON port on loopback (test/fakes/rcon.ts) through the real
 * rcon-client library.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { freePort, TestDaemon } from '../harness/daemon.ts';
import { FakeRcon } from '../fakes/rcon.ts';

interface ApiClient {
  id: string;
}
interface ApiInstance {
  state: string;
}

const PASSWORD = 'correct-horse-rcon-7';

describe('minecraft plugin through a real homeserver and a fake RCON server', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let rcon: FakeRcon;
  let daemon: TestDaemon;
  let admin: TestUser;
  let mod: TestUser;
  let member: TestUser;
  let bot: ApiClient;
  let room: string;
  let dir: string;
  let passwordFile: string;

  const baseConfig = () => ({ host: '127.0.0.1', port: rcon.port, password_file: passwordFile, timeout_seconds: 1, user_cooldown_seconds: 60, min_power_level: 50 });
  const configure = async (config: Record<string, unknown>) => {
    const res = await daemon.api<ApiInstance>('PUT', '/instance/mc', { config });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'running');
  };
  const answerTo = (eventId: string) => (ev: TestMatrixEvent) =>
    ev.sender === bot.id &&
    ev.type === 'm.room.message' &&
    ev.content.msgtype === 'm.notice' &&
    (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;
  async function ask(user: TestUser, text: string): Promise<string> {
    const sent = await user.sendText(room, text);
    const answer = await user.waitForEvent(room, answerTo(sent), 20_000, `the answer to "${text}"`);
    return String(answer.content.body);
  }
  const warnings = (fragment: string) => daemon.output.filter((l) => l.includes('"level":"warn"') && l.includes(fragment));

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    rcon = await FakeRcon.start({ password: PASSWORD });
    dir = await mkdtemp(join(tmpdir(), 'trellis-mc-'));
    passwordFile = join(dir, 'rcon-password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    admin = await TestUser.create(hs, 'mcadmin');
    mod = await TestUser.create(hs, 'mcmod');
    member = await TestUser.create(hs, 'mcmember');
    const res = await daemon.api<ApiClient>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('mcbot'),
      password: 'pw-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body;
    room = await admin.createRoom({ name: 'minecraft', invite: [bot.id, mod.userId, member.userId] });
    await mod.join(room);
    await member.join(room);
    // A moderator at power level 50; the member keeps the default 0.
    const levels = await admin.request<Record<string, unknown>>('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.power_levels/`);
    await admin.sendState(room, 'm.room.power_levels', '', { ...levels, users: { ...(levels.users as object), [mod.userId]: 50 } });
    const put = await daemon.api<ApiInstance>('PUT', '/instance/mc', { type: 'org.trellis.minecraft', primary_user: bot.id, rooms: [room], config: baseConfig() });
    assert.equal(put.status, 201, put.text);
    await daemon.waitFor('instance running', async () => (await daemon.api<ApiInstance>('GET', '/instance/mc')).body.state === 'running' || undefined);
    await admin.waitForMembership(room, bot.id, 'join', 20_000);
  });

  after(async () => {
    await daemon?.dispose();
    await rcon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await hs?.release();
  });

  it('refuses invalid names with a clear message, without contacting the server', async () => {
    const before = rcon.commands.length;
    assert.match(await ask(mod, '!minecraft ab'), /"ab" is not a valid Minecraft name: names are 3 to 16 characters long/);
    assert.match(await ask(mod, '!minecraft bad-name!'), /"bad-name!" is not a valid Minecraft name: use only letters/);
    assert.match(await ask(mod, '!minecraft two names'), /one Minecraft name only/);
    assert.match(await ask(mod, '!minecraft'), /^Usage: !minecraft <username>/);
    assert.equal(rcon.commands.length, before, 'no command reached the server');
  });

  it('sends `whitelist add <name>` over RCON and relays the answer in plain words', async () => {
    const answer = await ask(mod, '!minecraft Steve_123');
    assert.equal(answer, "Steve_123 is now on the Minecraft server's whitelist.");
    assert.equal(rcon.commands.at(-1)?.command, 'whitelist add Steve_123');
    assert.ok(rcon.whitelist.has('steve_123'));
    assert.deepEqual(rcon.authAttempts.at(-1), { ok: true }, 'the password came from password_file');
  });

  it('tells a person on cooldown how long to wait, without contacting the server', async () => {
    const before = rcon.commands.length;
    assert.match(await ask(mod, '!minecraft Alex_2'), /^Please wait: you can use !minecraft again in (59 s|1 min)\.$/);
    assert.equal(rcon.commands.length, before);
  });

  it('refuses members below min_power_level', async () => {
    const before = rcon.commands.length;
    assert.equal(await ask(member, '!minecraft Alex_2'), 'Only members with power level 50 or more can add names to the Minecraft whitelist here (yours is 0).');
    assert.equal(rcon.commands.length, before);
  });

  it("lets the room's creator in (room v12: unlimited power, not listed in power_levels)", async () => {
    assert.equal(await ask(admin, '!minecraft Creator_1'), "Creator_1 is now on the Minecraft server's whitelist.");
    assert.equal(rcon.commands.at(-1)?.command, 'whitelist add Creator_1');
  });

  it('explains a refused RCON password, warns in the log, and never shows the password', async () => {
    await configure({ ...baseConfig(), password_file: '', password: 'wrong-rcon-password', min_power_level: 0 });
    const answer = await ask(member, '!minecraft Alex_2');
    assert.match(answer, /could not log in to the Minecraft server: the server refused the bot's RCON password/);
    assert.ok(!answer.includes('wrong-rcon-password'));
    assert.deepEqual(rcon.authAttempts.at(-1), { ok: false });
    const warned = warnings('whitelist add Alex_2');
    assert.ok(
      warned.some((l) => l.includes('failed (auth)')),
      'a WARN in the log',
    );
    assert.ok(
      warned.every((l) => !l.includes('wrong-rcon-password')),
      'the password is not logged',
    );
    // The API never returns it (writeOnly in the plugin's schema).
    const shown = await daemon.api<ApiInstance & { config_object: Record<string, unknown> }>('GET', '/instance/mc');
    assert.equal(shown.body.config_object.password, '********');
    assert.ok(!shown.text.includes('wrong-rcon-password'));
  });

  it('explains a server that is down, and one that does not answer in time', async () => {
    const closedPort = await freePort();
    await configure({ ...baseConfig(), port: closedPort, min_power_level: 0 });
    assert.equal(await ask(member, '!minecraft Alex_2'), 'The Minecraft server cannot be reached right now. Please try again later.');
    assert.ok(warnings('failed (unreachable)').length > 0, 'a WARN in the log');

    await configure({ ...baseConfig(), min_power_level: 0 });
    rcon.silent = true;
    try {
      assert.equal(await ask(member, '!minecraft Alex_2'), 'The Minecraft server did not answer in time. Please try again later.');
    } finally {
      rcon.silent = false;
    }
    assert.ok(warnings('failed (timeout)').length > 0, 'a WARN in the log');
  });

  it('says the bot is not set up when password_file cannot be read, and warns in the log', async () => {
    await configure({ ...baseConfig(), password_file: join(dir, 'missing'), min_power_level: 0 });
    assert.ok(
      warnings('cannot read password_file').some((l) => l.includes('ENOENT')),
      'a WARN in the log',
    );
    const before = rcon.authAttempts.length;
    assert.match(await ask(member, '!minecraft Alex_2'), /not set up to talk to the Minecraft server yet/);
    assert.equal(rcon.authAttempts.length, before, 'the server was not contacted');
    await configure({ ...baseConfig(), min_power_level: 0 });
  });

  it('keeps running after the failures, which did not use up the cooldown', async () => {
    // An inline password round-trips through the API masked: sending the mask back keeps the stored value.
    await configure({ ...baseConfig(), password_file: '', password: PASSWORD, min_power_level: 0 });
    const shown = await daemon.api<ApiInstance & { config_object: Record<string, unknown> }>('GET', '/instance/mc');
    assert.equal(shown.body.config_object.password, '********');
    assert.ok(!shown.text.includes(PASSWORD));
    await configure(shown.body.config_object);
    assert.equal((await daemon.api<ApiInstance>('GET', '/instance/mc')).body.state, 'running');
    assert.equal(await ask(member, '!minecraft Alex_2'), "Alex_2 is now on the Minecraft server's whitelist.");
    assert.equal(rcon.commands.at(-1)?.command, 'whitelist add Alex_2');
    assert.match(await ask(member, '!minecraft Alex_3'), /again in (59 s|1 min)\./);
    assert.ok(
      daemon.output.every((l) => !l.includes(PASSWORD)),
      'the real password never appears in the log',
    );
  });
});
