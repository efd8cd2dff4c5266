/**
 * A maubot operator switches to Trellis: the real maubot 0.6.0 runs a bot
 * (an account added with POST /client/new, maubot's echo plugin built with
 * `mbc build` and uploaded, an instance of it) that answers in a room; maubot
 * stops; `trellis import-maubot` brings the account and the instance over
 * (refused while Trellis runs; a dry run first; a second run skips
 * everything); Trellis starts and the same bot answers `!ping` and every
 * numbered `!echo` exactly once, and nothing maubot answered is answered
 * again. Twice: maubot on its default SQLite file, and maubot on PostgreSQL
 * (a real server from test/harness/postgres.ts; maubot connects with its own
 * asyncpg, the import with `pg`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerUser, sharedOrOwnHomeserver, type HomeserverInfo, type RegisteredUser } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart } from '../harness/matrix-user.ts';
import { trellisBin, TestDaemon } from '../harness/daemon.ts';
import { TestMaubot } from '../harness/maubot.ts';
import { startPostgres, type TestPostgres } from '../harness/postgres.ts';
import { EchoRun, describeCounts } from '../harness/echo-count.ts';

const REPO = resolve(fileURLToPath(import.meta.url), '../../..');

interface ApiClient {
  id: string;
  device_id: string | null;
  displayname: string | null;
  encryption: boolean;
  enabled: boolean;
  autojoin: boolean;
  last_sync_at: number | null;
}
interface ApiInstance {
  id: string;
  type: string;
  primary_user: string;
  enabled: boolean;
  rooms: string[];
  state: string;
}

/** `trellis import-maubot …` as an operator runs it; never throws, the test looks at the code and output. */
function importMaubot(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(trellisBin(), ['import-maubot', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  return new Promise((r) => child.on('exit', (code) => r({ code, out })));
}

/** maubot's database: its default SQLite file, or a PostgreSQL database of its own. */
type MaubotDatabase = 'sqlite' | 'postgresql';

/** A password that must never appear in the import's output. */
const PG_PASSWORD = 'maubot-db-pass-8f3a';

for (const database of ['sqlite', 'postgresql'] as MaubotDatabase[]) describeImport(database);

function describeImport(database: MaubotDatabase): void {
  describe(`trellis import-maubot: from a real maubot (${database === 'sqlite' ? 'SQLite' : 'PostgreSQL'}) to a running Trellis bot`, () => {
    let hs: HomeserverInfo & { release(): Promise<void> };
    let postgres: TestPostgres | null = null;
    /** How the import names maubot's database in its report. */
    let source: RegExp;
    let maubot: TestMaubot;
    let daemon: TestDaemon;
    let user: TestUser;
    let bot: RegisteredUser;
    let room: string;
    let maubotRun: EchoRun;

    before(async () => {
      hs = await sharedOrOwnHomeserver();
      let databaseUrl: string | undefined;
      if (database === 'postgresql') {
        postgres = await startPostgres();
        // maubot's URL form with a query option (asyncpg and the import both read sslmode).
        databaseUrl = `${await postgres.createDatabase('maubot', 'maubot', PG_PASSWORD)}?sslmode=disable`;
        source = new RegExp(`postgresql://maubot:\\*\\*\\*@127\\.0\\.0\\.1:${postgres.port}/maubot\\?sslmode=disable`);
      } else {
        source = /\/maubot\.db/;
      }
      [maubot, daemon, user, bot] = await Promise.all([
        TestMaubot.create(hs, { database: databaseUrl }),
        TestDaemon.create(hs),
        TestUser.create(hs, 'operator'),
        registerUser(hs, uniqueLocalpart('maubotecho'), 'bot-password-123'),
      ]);
    });

    after(async () => {
      await maubot?.dispose();
      await daemon?.dispose();
      await postgres?.stop();
      await hs?.release();
    });

    it('maubot runs the echo plugin on the bot and answers every !echo once', async () => {
      const echo = await maubot.uploadFixture('echo');
      assert.deepEqual([echo.id, echo.version], ['xyz.maubot.echo', '1.4.0']);
      await maubot.uploadFixture('greeter');
      const client = await maubot.addClient({ access_token: bot.accessToken, device_id: bot.deviceId, displayname: 'Maubot Echo' });
      assert.equal(client.id, bot.userId);
      await maubot.putInstance('echo', { type: 'xyz.maubot.echo', primary_user: bot.userId });
      await maubot.putInstance('greeter', { type: 'org.example.greeter', primary_user: bot.userId, config: 'greeting: Hi\n' });
      room = await user.createRoom({ name: 'maubot to trellis', invite: [bot.userId] });
      await user.waitForMembership(room, bot.userId, 'join', 20_000); // maubot's autojoin
      maubotRun = new EchoRun(user, bot.userId, room);
      await maubotRun.send(5, { concurrency: 1 });
      const result = await maubotRun.waitForAnswers(5, 30_000, { settleMs: 500 });
      assert.equal(result.answeredOnce, 5, `${describeCounts(result)}\n${maubot.logTail()}`);
      await maubot.stop();
    });

    it('refuses to import while Trellis runs, and says to stop it', async () => {
      const { code, out } = await importMaubot(['--maubot-config', maubot.configPath, '--config', daemon.configPath]);
      assert.equal(code, 2, out);
      assert.match(out, /Trellis is running .*stop it first/);
      await daemon.stop();
    });

    it('a dry run reports the plan and changes nothing', async () => {
      const { code, out } = await importMaubot(['--maubot-config', maubot.configPath, '--config', daemon.configPath, '--dry-run']);
      assert.equal(code, 0, out);
      assert.match(out, new RegExp(`^Dry run \\(nothing is changed\\): importing from maubot database \\S*${source.source} \\(schema version 2\\): 1 bot account\\(s\\), 2 instance\\(s\\)`));
      assert.match(out, new RegExp(`would create +${bot.userId.replace(/[.$]/g, '\\$&')} on ${hs.url} \\(device ${bot.deviceId}, encryption off, enabled, joins on invite\\)`));
      assert.match(out, /would create +echo: xyz\.maubot\.echo → org\.trellis\.ping on .*, every room the bot is in/);
      assert.match(out, /not imported +greeter: maubot plugin org\.example\.greeter has no Trellis equivalent/);
      assert.doesNotMatch(out, new RegExp(bot.accessToken), 'the access token is never printed');
      assert.doesNotMatch(out, new RegExp(PG_PASSWORD), "the database's password is never printed");
    });

    it('imports the account and the echo instance; a second run skips both', async () => {
      const first = await importMaubot(['--maubot-config', maubot.configPath, '--config', daemon.configPath]);
      assert.equal(first.code, 0, first.out);
      assert.match(first.out, new RegExp(`created +${bot.userId.replace(/[.$]/g, '\\$&')} on `));
      assert.match(first.out, /created +echo: xyz\.maubot\.echo → org\.trellis\.ping/);
      assert.match(first.out, /Summary: bot accounts 1 created, 0 skipped, 0 failed; instances 1 created, 0 skipped, 1 not imported \(no Trellis plugin\), 0 failed/);
      assert.match(first.out, /End-to-end encryption is off for the imported bot accounts: maubot's crypto store .* cannot be carried over/);
      assert.doesNotMatch(first.out, new RegExp(bot.accessToken));
      assert.doesNotMatch(first.out, new RegExp(PG_PASSWORD));

      const again = await importMaubot(['--maubot-config', maubot.configPath, '--config', daemon.configPath]);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /skipped +@maubotecho.*: already a Trellis bot account/);
      assert.match(again.out, /skipped +echo: already a Trellis instance/);
      assert.match(again.out, /Summary: bot accounts 0 created, 1 skipped, 0 failed; instances 0 created, 1 skipped, 1 not imported/);
    });

    it('Trellis runs the imported bot: same account and device, encryption off, the instance in every room', async () => {
      await daemon.start();
      const client = (await daemon.api<ApiClient>('GET', `/client/${encodeURIComponent(bot.userId)}`)).body;
      assert.equal(client.device_id, bot.deviceId, "maubot's device is reused (encryption off)");
      assert.equal(client.encryption, false);
      assert.equal(client.displayname, 'Maubot Echo');
      assert.equal(client.enabled, true);
      assert.equal(client.autojoin, true);
      const instances = (await daemon.api<ApiInstance[]>('GET', '/instances')).body;
      assert.deepEqual(
        instances.map((i) => [i.id, i.type, i.primary_user, i.enabled, i.rooms]),
        [['echo', 'org.trellis.ping', bot.userId, true, ['*']]],
      );
      await daemon.waitFor('instance echo running', async () => (await daemon.api<ApiInstance>('GET', '/instance/echo')).body.state === 'running');
      // The account's first sync starts at the present; a command sent before it is not answered by design.
      await daemon.waitFor('first sync of the bot', async () => (await daemon.api<ApiClient>('GET', `/client/${encodeURIComponent(bot.userId)}`)).body.last_sync_at !== null);
    });

    it('the bot answers !ping and every numbered !echo exactly once; nothing maubot answered is answered again', async (t) => {
      const ping = await user.sendText(room, '!ping');
      const pong = await user.waitForEvent(
        room,
        (ev) => ev.sender === bot.userId && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === ping,
        20_000,
        'the answer to !ping',
      );
      assert.match(String(pong.content.body), /^Pong! \d+ ms$/);

      const run = new EchoRun(user, bot.userId, room);
      await run.send(20, { concurrency: 4 });
      const result = await run.waitForAnswers(20, 60_000);
      t.diagnostic(describeCounts(result));
      assert.equal(result.answeredOnce, 20, describeCounts(result));
      assert.equal(result.lost, 0, describeCounts(result));
      assert.equal(result.answeredTwice, 0, describeCounts(result));
      assert.ok(result.inOrder, describeCounts(result));

      const before = await maubotRun.count();
      assert.equal(before.answeredOnce, 5, `maubot's run after the switch: ${describeCounts(before)}`);
      assert.equal(before.answeredTwice, 0, describeCounts(before));
    });
  });
}
