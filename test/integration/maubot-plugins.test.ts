/**
 * Issue 14: maubot's own plugins on Trellis. The `showcase` fixture (written
 * for these tests against maubot's public plugin API) is built into an .mbp
 * by the real `mbc build`, uploaded, and run in its Python host process
 * through a real Synapse: a command, a passive regex, an m.reaction handler,
 * a config with do_update, a database with an UpgradeTable migration, a
 * scheduled task, in a plain and an encrypted room; and a plugin that raises,
 * exits and blocks its event loop costs only its own instance, which comes
 * back, while a TypeScript instance on the same bot keeps answering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { uniqueLocalpart } from '../harness/matrix-user.ts';
import { freePort, TestDaemon, withSharedSecret } from '../harness/daemon.ts';
import { E2eeUser, type DecryptedEvent } from '../harness/e2ee-user.ts';
import { buildMaubotPlugin } from '../harness/maubot.ts';

const SHOWCASE = resolve(fileURLToPath(import.meta.url), '../../fixtures/maubot-plugins/showcase');

/** A zip of the given files (path → content). */
function zip(files: Record<string, string | Buffer>): Promise<Buffer> {
  const archive = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) archive.addBuffer(Buffer.from(content), name);
  archive.end();
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    archive.outputStream.on('data', (c: Buffer) => chunks.push(c));
    archive.outputStream.on('end', () => done(Buffer.concat(chunks)));
  });
}

/** A plugin that imports a package it lists in `dependencies`, with that package as a wheel inside the archive (no network needed). */
async function pluginWithWheel(dependency: string): Promise<Buffer> {
  const wheel = await zip({
    'trellisdep/__init__.py': 'VALUE = "imported from a wheel in the archive"\n',
    'trellisdep-1.0.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: trellisdep\nVersion: 1.0.0\n',
    'trellisdep-1.0.0.dist-info/WHEEL': 'Wheel-Version: 1.0\nGenerator: trellis-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    'trellisdep-1.0.0.dist-info/RECORD': 'trellisdep/__init__.py,,\ntrellisdep-1.0.0.dist-info/METADATA,,\ntrellisdep-1.0.0.dist-info/WHEEL,,\ntrellisdep-1.0.0.dist-info/RECORD,,\n',
  });
  return zip({
    'maubot.yaml': `maubot: 0.1.0\nid: org.example.depender\nversion: 1.0.0\nmodules: [depender]\nmain_class: Depender\ndependencies: [${dependency}]\n`,
    'depender.py': [
      'from maubot import MessageEvent, Plugin',
      'from maubot.handlers import command',
      'from trellisdep import VALUE',
      '',
      'class Depender(Plugin):',
      '    @command.new("dep")',
      '    async def dep(self, evt: MessageEvent) -> None:',
      '        await evt.reply(VALUE)',
      '',
    ].join('\n'),
    'wheels/trellisdep-1.0.0-py3-none-any.whl': wheel,
  });
}

describe('maubot plugins (.mbp) hosted by Trellis', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let alice: E2eeUser;
  let bot: string;
  let plain: string;
  let encrypted: string;
  let publicUrl: string;

  const instanceState = async () => (await daemon.api<{ state: string; last_error: string | null }>('GET', '/instance/showcase')).body;
  /** Sends `text` and waits for the bot's event that `match` accepts, sent after it. */
  async function ask(room: string, text: string, match: (ev: DecryptedEvent) => boolean, what: string, timeoutMs = 30_000): Promise<DecryptedEvent> {
    const sent = await alice.sendText(room, text);
    const seenBefore = new Set((await alice.events(room)).map((e) => e.eventId));
    seenBefore.delete(sent);
    return alice.waitForEvent(room, (ev) => ev.sender === bot && !seenBefore.has(ev.eventId) && match(ev), timeoutMs, what);
  }
  const bodyIs = (text: string) => (ev: DecryptedEvent) => ev.content.body === text;

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    daemon = await TestDaemon.create(hs, withSharedSecret(hs, { port, base_url: 'https://bots.example.org' }));
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('mbpbot'),
      password: `bot-${uniqueLocalpart('pw')}`,
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    bot = res.body.id;
    alice = await E2eeUser.create(hs, 'alice');
    plain = await alice.createPlainRoom([bot], 'python plugins');
    encrypted = await alice.createEncryptedRoom([bot], 'python plugins, encrypted');
    await alice.waitForJoin(plain, bot);
    await alice.waitForJoin(encrypted, bot);
  });

  after(async () => {
    alice?.stop();
    await daemon?.dispose();
    await hs?.release();
  });

  it('takes the .mbp that mbc build made, lists it as a maubot plugin, and refuses a broken one saying why', async () => {
    const archive = await buildMaubotPlugin(SHOWCASE);
    const upload = await daemon.api<{ id: string; kind: string }>('POST', '/plugins/upload', undefined, { raw: archive, contentType: 'application/zip' });
    assert.equal(upload.status, 201, upload.text);
    assert.equal(upload.body.kind, 'maubot');
    const listed = await daemon.api<Array<{ id: string; kind: string }>>('GET', '/plugins');
    assert.equal(listed.body.find((p) => p.id === 'org.example.showcase')?.kind, 'maubot');
    assert.equal(listed.body.find((p) => p.id === 'org.trellis.ping')?.kind, 'trellis');

    // An archive whose maubot.yaml names a module it does not have: 400, and nothing installed.
    const broken = await zip({ 'maubot.yaml': 'maubot: 0.1.0\nid: org.example.broken\nversion: 1.0.0\nmodules: [absent]\nmain_class: Bot\n' });
    const refused = await daemon.api('POST', '/plugins/upload', undefined, { raw: broken, contentType: 'application/zip' });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /maubot\.yaml: modules: absent is not in the archive/);
    assert.ok(!(await daemon.api<Array<{ id: string }>>('GET', '/plugins')).body.some((p) => p.id === 'org.example.broken'));
  });

  it('installs a plugin’s dependencies from a wheel inside the .mbp, offline; a dependency pip cannot find is refused with pip’s words', async () => {
    const missing = await daemon.api('POST', '/plugins/upload', undefined, { raw: await pluginWithWheel('trellis-no-such-package'), contentType: 'application/zip' });
    assert.equal(missing.status, 400, missing.text);
    assert.match(missing.text, /dependencies: pip could not install trellis-no-such-package from the wheels in wheels: .*(No matching distribution|Could not find a version)/);
    assert.ok(!(await daemon.api<Array<{ id: string }>>('GET', '/plugins')).body.some((p) => p.id === 'org.example.depender'), 'nothing installed');

    const upload = await daemon.api('POST', '/plugins/upload', undefined, { raw: await pluginWithWheel('trellisdep'), contentType: 'application/zip' });
    assert.equal(upload.status, 201, upload.text);
    const created = await daemon.api('PUT', '/instance/depender', { type: 'org.example.depender', primary_user: bot, rooms: [plain] });
    assert.equal(created.status, 201, created.text);
    await daemon.waitFor('the depender running', async () => (await daemon.api<{ state: string }>('GET', '/instance/depender')).body.state === 'running', 60_000);
    await ask(plain, '!dep', bodyIs('imported from a wheel in the archive'), 'the answer from the dependency');
    assert.equal((await daemon.api('DELETE', '/instance/depender')).status, 204);
  });

  it('gives a plugin on maubot’s legacy SQLAlchemy database its engine, on a SQLite file kept across restarts', async () => {
    const legacy = await zip({
      'maubot.yaml': 'maubot: 0.1.0\nid: org.example.legacy\nversion: 1.0.0\nmodules: [legacy]\nmain_class: Legacy\ndatabase: true\n',
      'legacy.py': [
        'from sqlalchemy import Column, Integer, MetaData, String, Table, func, select',
        'from maubot import MessageEvent, Plugin',
        'from maubot.handlers import command',
        '',
        'class Legacy(Plugin):',
        '    async def start(self) -> None:',
        '        meta = MetaData()',
        '        self.counts = Table("counts", meta, Column("id", Integer, primary_key=True), Column("who", String))',
        '        meta.create_all(self.database)',
        '',
        '    @command.new("count")',
        '    async def count(self, evt: MessageEvent) -> None:',
        '        self.database.execute(self.counts.insert().values(who=evt.sender))',
        '        n = self.database.execute(select([func.count()]).select_from(self.counts)).scalar()',
        '        await evt.reply(f"counted {n}")',
        '',
      ].join('\n'),
    });
    const upload = await daemon.api('POST', '/plugins/upload', undefined, { raw: legacy, contentType: 'application/zip' });
    assert.equal(upload.status, 201, upload.text);
    assert.equal((await daemon.api('PUT', '/instance/legacy', { type: 'org.example.legacy', primary_user: bot, rooms: [plain] })).status, 201);
    const running = async () => (await daemon.api<{ state: string }>('GET', '/instance/legacy')).body.state === 'running';
    await daemon.waitFor('the legacy plugin running', running, 60_000);
    await ask(plain, '!count', bodyIs('counted 1'), 'the first count');
    assert.equal((await daemon.api('POST', '/instance/legacy/restart')).status < 300, true);
    await daemon.waitFor('the legacy plugin running again', running, 60_000);
    await ask(plain, '!count', bodyIs('counted 2'), 'the count kept in its database');
    assert.equal((await daemon.api('DELETE', '/instance/legacy')).status, 204);
  });

  it('runs its command, passive regex, reaction handler, do_update config, database, scheduled task and web app in a plain room', async () => {
    const created = await daemon.api('PUT', '/instance/showcase', { type: 'org.example.showcase', primary_user: bot, rooms: [plain, encrypted], config: { hello: 'Howdy' } });
    assert.equal(created.status, 201, created.text);
    await daemon.waitFor('the instance running', async () => (await instanceState()).state === 'running', 60_000);

    await ask(plain, '!pyping', bodyIs('Pong from Python'), 'the answer to !pyping');
    const metrics = (await daemon.api('GET', '/metrics')).text;
    const rss = /^trellis_mbp_host_rss_bytes\{instance="showcase"\} (\d+)$/m.exec(metrics);
    assert.ok(
      rss && Number(rss[1]) > 10 * 1024 * 1024,
      `the host's memory in /metrics:\n${metrics
        .split('\n')
        .filter((l) => l.includes('mbp'))
        .join('\n')}`,
    );
    await ask(plain, 'hello Ada', bodyIs('Howdy, Ada!'), 'the passive handler, with the config moved by do_update');
    await ask(plain, '!note first', bodyIs('noted (1 notes)'), 'the first note');
    await ask(plain, '!note second', bodyIs('noted (2 notes)'), 'the second note');
    await ask(plain, '!notes', bodyIs('notes: first, second'), 'the notes from the database');
    await ask(plain, '!later', bodyIs('later, as scheduled'), 'the scheduled answer');

    // Its web app, on the public listener under the instance's path.
    const added = await fetch(`${publicUrl}/_matrix/maubot/plugin/showcase/notes`, { method: 'POST', body: JSON.stringify({ text: 'from the web' }), headers: { 'content-type': 'application/json' } });
    assert.equal(added.status, 201);
    const listed = await fetch(`${publicUrl}/_matrix/maubot/plugin/showcase/notes?q=1`);
    assert.equal(listed.status, 200);
    assert.deepEqual(await listed.json(), { notes: ['first', 'second', 'from the web'], base: 'https://bots.example.org/_matrix/maubot/plugin/showcase/', q: '1' });
    assert.equal((await fetch(`${publicUrl}/_matrix/maubot/plugin/showcase/nothing`)).status, 404);

    const target = await alice.sendText(plain, 'react to me');
    await alice.client.sendEvent(plain, 'm.reaction' as never, { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key: '👍' } } as never);
    await alice.waitForEvent(plain, (ev) => ev.sender === bot && ev.content.body === `saw 👍 on ${target}`, 30_000, 'the reaction handler');
  });

  it('does the same in an encrypted room: the plugin gets the decrypted events, its answers go out encrypted', async () => {
    const answer = await ask(encrypted, '!pyping', bodyIs('Pong from Python'), 'the encrypted answer');
    assert.equal(answer.wireType, 'm.room.encrypted');
    assert.equal((await ask(encrypted, 'hello Bo', bodyIs('Howdy, Bo!'), 'the passive handler, encrypted')).wireType, 'm.room.encrypted');
    assert.equal((await ask(encrypted, '!notes', bodyIs('notes: first, second, from the web'), 'the database, encrypted')).wireType, 'm.room.encrypted');
    const target = await alice.sendText(encrypted, 'react to me too');
    await alice.client.sendEvent(encrypted, 'm.reaction' as never, { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key: '🎉' } } as never);
    const saw = await alice.waitForEvent(encrypted, (ev) => ev.sender === bot && ev.content.body === `saw 🎉 on ${target}`, 30_000, 'the reaction handler, encrypted');
    assert.equal(saw.wireType, 'm.room.encrypted');
  });

  it('a raising handler, os._exit and a blocked event loop cost only the plugin’s own instance, which comes back; a TypeScript instance on the same bot keeps answering', {
    timeout: 180_000,
  }, async () => {
    const ping = await daemon.api('PUT', '/instance/ts-ping', { type: 'org.trellis.ping', primary_user: bot, rooms: [plain] });
    assert.equal(ping.status, 201, ping.text);
    await ask(plain, '!echo ts first', bodyIs('ts first'), 'the TypeScript instance');

    await alice.sendText(plain, '!raise');
    await daemon.waitFor('the traceback in the log', async () => daemon.output.some((l) => l.includes('showcase: deliberate failure') && l.includes('"instance":"showcase"')));
    await ask(plain, '!pyping', bodyIs('Pong from Python'), 'an answer after the raise');

    await alice.sendText(plain, '!die');
    await daemon.waitFor('the instance failed', async () => (await instanceState()).last_error?.includes('exited with code 3'), 30_000);
    await ask(plain, '!echo ts during', bodyIs('ts during'), 'the TypeScript instance while the Python one restarts');
    await daemon.waitFor('the instance back', async () => (await instanceState()).state === 'running', 60_000);
    await ask(plain, '!notes', bodyIs('notes: first, second, from the web'), 'the database kept across the restart');

    await alice.sendText(plain, '!block');
    await daemon.waitFor('the blocked instance killed', async () => (await instanceState()).last_error?.includes('stopped answering'), 60_000);
    await ask(plain, '!echo ts after', bodyIs('ts after'), 'the TypeScript instance after the block');
    await daemon.waitFor('the instance back after the block', async () => (await instanceState()).state === 'running', 60_000);
    await ask(plain, '!pyping', bodyIs('Pong from Python'), 'an answer after the block');
  });
});
