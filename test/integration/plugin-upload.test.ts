/**
 * Uploaded plugins through the real daemon: build with `buildPlugin`, upload
 * the archive maubot-style, run its command through the homeserver, upgrade
 * it without restarting the daemon, and refuse conflicting, in-use and
 * malicious uploads without changing anything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { buildPlugin } from '../../src/plugin-package/build.ts';
import { sharedOrOwnHomeserver, type HomeserverInfo } from '../harness/synapse.ts';
import { TestUser, uniqueLocalpart, type TestMatrixEvent } from '../harness/matrix-user.ts';
import { TestDaemon } from '../harness/daemon.ts';

interface ApiPlugin {
  id: string;
  version: string;
  source: string;
  instances: Array<{ id: string }>;
}
interface ApiInstance {
  id: string;
  state: string;
  started_at: number | null;
  last_error: string | null;
  config_object: Record<string, unknown>;
}
interface Health {
  uptime_seconds: number;
}

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/plugins/hello');
const PLUGIN_ID = 'org.example.hello';

const isReplyTo = (eventId: string) => (ev: TestMatrixEvent) =>
  ev.type === 'm.room.message' && (ev.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']?.event_id === eventId;

/** A zip whose entry escapes the extraction folder. yazl refuses such names, so an equally long name is patched in the bytes. */
async function traversalArchive(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from('id: org.example.evil\nversion: 1.0.0\nmain: index.js\n'), 'plugin.yaml');
  zip.addBuffer(Buffer.from('export default { setup() {} };\n'), 'index.js');
  zip.addBuffer(Buffer.from('console.log("owned");\n'), 'XX/evil.js');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  const data = Buffer.concat(chunks);
  const placeholder = Buffer.from('XX/evil.js');
  let replaced = 0;
  for (let at = data.indexOf(placeholder); at !== -1; at = data.indexOf(placeholder, at + 1)) {
    data.write('../evil.js', at);
    replaced++;
  }
  assert.equal(replaced, 2, 'the name appears in the local header and the central directory');
  return data;
}

function listTree(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

/**
 * A copy of the hello fixture as another version: `schema` is its config_schema
 * (YAML lines), `index` its entry module (which must type its config to match).
 */
function helloVersion(workDir: string, version: string, schema: string[], index: string): string {
  const source = join(workDir, `hello-v${version}`);
  cpSync(FIXTURE, source, { recursive: true });
  const manifest = readFileSync(join(source, 'plugin.yaml'), 'utf8')
    .replace(/^version: .*$/m, `version: ${version}`)
    .replace(/^config_schema:\n(  .*\n)+/m, `config_schema:\n${schema.map((line) => `  ${line}\n`).join('')}`);
  assert.ok(manifest.includes(`version: ${version}\n`) && manifest.includes(schema.at(-1)!), 'the fixture manifest changed; update this test');
  writeFileSync(join(source, 'plugin.yaml'), manifest);
  writeFileSync(join(source, 'index.ts'), index);
  return source;
}

describe('plugin upload', () => {
  let hs: HomeserverInfo & { release(): Promise<void> };
  let daemon: TestDaemon;
  let user: TestUser;
  let botId: string;
  let room: string;
  let workDir: string;

  const hello = async (who: string): Promise<string> => {
    const sent = await user.sendText(room, `!hello ${who}`);
    return String((await user.waitForEvent(room, isReplyTo(sent), 20_000, 'the answer to !hello')).content.body);
  };
  const upload = (archive: Buffer, query = '') => daemon.api<ApiPlugin & { error: string }>('POST', `/plugins/upload${query}`, undefined, { raw: archive });

  before(async () => {
    hs = await sharedOrOwnHomeserver();
    workDir = mkdtempSync(join(tmpdir(), 'trellis-upload-'));
    daemon = await TestDaemon.create(hs, (config) => {
      (config.homeservers as Record<string, Record<string, unknown>>).main.shared_secret = hs.sharedSecret;
    });
    user = await TestUser.create(hs, 'human');
    const res = await daemon.api<{ id: string }>('POST', '/client/auth/main/register?update_client=true', {
      username: uniqueLocalpart('hellobot'),
      password: 'bot-password-' + Math.random().toString(36).slice(2),
      method: 'shared_secret',
    });
    assert.equal(res.status, 201, res.text);
    botId = res.body.id;
    room = await user.createRoom({ name: 'plugins', invite: [botId] });
  });

  after(async () => {
    await daemon?.dispose();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    await hs?.release();
  });

  it('installs an uploaded archive and runs its command for a user', async () => {
    const manifest = readFileSync(join(FIXTURE, 'plugin.yaml'), 'utf8');
    assert.match(manifest, /^version: 1\.2\.0$/m);
    const built = await buildPlugin(FIXTURE, { outFile: join(workDir, 'hello-v1.zip') });
    const res = await upload(readFileSync(built.file));
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.id, PLUGIN_ID);
    assert.equal(res.body.version, '1.2.0');
    assert.equal(res.body.source, 'uploaded');

    const put = await daemon.api('PUT', '/instance/hello-1', { type: PLUGIN_ID, primary_user: botId, rooms: [room], config: { greeting: 'Hi' } });
    assert.equal(put.status, 201, put.text);
    await daemon.waitFor('hello-1 running', async () => (await daemon.api<ApiInstance>('GET', '/instance/hello-1')).body.state === 'running');
    await user.waitForMembership(room, botId, 'join', 20_000);
    assert.equal(await hello('world'), 'Hi, world!');
  });

  it('upgrades to a new version and restarts its instance without restarting the daemon', async () => {
    const source = join(workDir, 'hello-v2');
    cpSync(FIXTURE, source, { recursive: true });
    writeFileSync(join(source, 'plugin.yaml'), readFileSync(join(source, 'plugin.yaml'), 'utf8').replace(/^version: .*$/m, 'version: 2.0.0'));
    const greet = readFileSync(join(source, 'greet.ts'), 'utf8');
    assert.ok(greet.includes('`${greeting}, ${who}!`'), 'the fixture greeting changed; update this test');
    writeFileSync(join(source, 'greet.ts'), greet.replace('`${greeting}, ${who}!`', '`${greeting}, ${who}! (v2)`'));
    const built = await buildPlugin(source, { outFile: join(workDir, 'hello-v2.zip') });

    const before = (await daemon.api<ApiInstance>('GET', '/instance/hello-1')).body;
    const uptimeBefore = (await daemon.api<Health>('GET', '/health')).body.uptime_seconds;
    // Uptime is in whole seconds: let it advance so "kept growing" is observable.
    await new Promise((r) => setTimeout(r, 1100));

    // Like maubot, an installed plugin is only replaced with allow_override, whatever the version.
    const refused = await upload(readFileSync(built.file));
    assert.equal(refused.status, 409, refused.text);
    assert.equal((refused.body as unknown as { errcode: string }).errcode, 'plugin_exists');
    const res = await upload(readFileSync(built.file), '?allow_override=true');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.version, '2.0.0');
    const after = await daemon.waitFor('hello-1 restarted', async () => {
      const i = (await daemon.api<ApiInstance>('GET', '/instance/hello-1')).body;
      return i.state === 'running' && i.started_at !== before.started_at ? i : undefined;
    });
    assert.ok(after.started_at! > before.started_at!);
    assert.equal(await hello('world'), 'Hi, world! (v2)');

    const uptimeAfter = (await daemon.api<Health>('GET', '/health')).body.uptime_seconds;
    assert.ok(uptimeAfter > uptimeBefore, `uptime kept growing (${uptimeBefore} → ${uptimeAfter} s): same daemon process`);
    assert.equal(daemon.output.filter((l) => l.includes('listening on')).length, 1, 'the daemon did not restart');
  });

  it('refuses an installed plugin again (409 plugin_exists) unless allow_override=true', async () => {
    const archive = readFileSync(join(workDir, 'hello-v2.zip'));
    const again = await upload(archive);
    assert.equal(again.status, 409, again.text);
    assert.match(again.body.error, /already installed.*allow_override/);
    const forced = await upload(archive, '?allow_override=true');
    assert.equal(forced.status, 200, forced.text);
    assert.equal(forced.body.version, '2.0.0');
  });

  it('refuses to delete a plugin that an instance uses', async () => {
    const res = await daemon.api<{ error: string; errcode: string }>('DELETE', `/plugin/${PLUGIN_ID}`);
    assert.equal(res.status, 412, res.text);
    assert.equal(res.body.errcode, 'plugin_in_use');
    assert.match(res.body.error, /hello-1/);
    assert.equal((await daemon.api('GET', `/plugin/${PLUGIN_ID}`)).status, 200);
  });

  it('rejects a path-traversal archive and changes nothing on disk or in the API', async () => {
    const pluginsDir = join(daemon.dir, 'data', 'plugins');
    const treeBefore = listTree(pluginsDir);
    assert.ok(treeBefore.length > 0, 'the uploaded plugin lives under data/plugins');
    const pluginsBefore = (await daemon.api<ApiPlugin[]>('GET', '/plugins')).body;

    const res = await upload(await traversalArchive());
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.error, /\.\.\/evil\.js/);
    assert.match(res.body.error, /unsafe path/);

    assert.deepEqual(listTree(pluginsDir), treeBefore);
    assert.ok(!existsSync(join(daemon.dir, 'data', 'evil.js')) && !existsSync(join(pluginsDir, 'evil.js')), 'nothing was written outside');
    assert.deepEqual((await daemon.api<ApiPlugin[]>('GET', '/plugins')).body, pluginsBefore);
  });
  describe('a new version that changes the config schema while an instance exists', () => {
    const instance = async () => (await daemon.api<ApiInstance>('GET', '/instance/hello-1')).body;
    const restarted = (before: ApiInstance) =>
      daemon.waitFor('hello-1 restarted', async () => {
        const now = await instance();
        // Failed: the new version did not start (the assertion after this says why).
        return now.state === 'failed' || (now.started_at !== before.started_at && now.state === 'running') ? now : undefined;
      });
    const install = async (source: string, version: string) => {
      const built = await buildPlugin(source, { outFile: join(workDir, `hello-v${version}.zip`) });
      const res = await upload(readFileSync(built.file), '?allow_override=true');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.version, version);
    };

    it("runs the plugin's upgradeConfig: a renamed key keeps its value, and the API shows the upgraded config", async () => {
      const before = await instance();
      assert.deepEqual(before.config_object, { greeting: 'Hi' });
      const source = helloVersion(
        workDir,
        '3.0.0',
        ['type: object', 'additionalProperties: false', 'properties:', '  salutation: { type: string, default: Hello }'],
        `import { definePlugin } from 'trellis/sdk';
import { greet } from './greet.ts';

interface HelloConfig {
  salutation: string;
}

export default definePlugin<HelloConfig>({
  // 3.0.0 renamed greeting to salutation.
  upgradeConfig({ greeting, ...rest }) {
    return greeting === undefined ? rest : { ...rest, salutation: greeting };
  },
  setup(context) {
    context.command({
      name: 'hello',
      description: 'Say hello',
      args: [{ name: 'who', required: false }],
      handler: ({ args, message }) => message.reply(greet(context.config.salutation, args.who ?? message.sender)).then(() => undefined),
    });
  },
});
`,
      );
      await install(source, '3.0.0');
      const after = await restarted(before);
      assert.equal(after.state, 'running', `hello-1 did not start: ${after.last_error}`);
      assert.deepEqual(after.config_object, { salutation: 'Hi' });
      assert.equal(await hello('world'), 'Hi, world!');
      assert.ok(
        daemon.output.some((l) => l.includes('config upgraded for org.example.hello 3.0.0 (it was written for 2.0.0)') && l.includes('removed greeting, added salutation')),
        'the upgrade is logged',
      );
    });

    it('without a hook, drops the key the new schema no longer has (one WARN) and runs on the defaults', async () => {
      const before = await instance();
      const source = helloVersion(
        workDir,
        '4.0.0',
        ['type: object', 'additionalProperties: false', 'properties:', '  punctuation: { type: string, default: "!" }'],
        `import { definePlugin } from 'trellis/sdk';

interface HelloConfig {
  punctuation: string;
}

export default definePlugin<HelloConfig>({
  setup(context) {
    context.command({
      name: 'hello',
      description: 'Say hello',
      args: [{ name: 'who', required: false }],
      handler: ({ args, message }) => message.reply(\`Hello, \${args.who ?? message.sender}\${context.config.punctuation}\`).then(() => undefined),
    });
  },
});
`,
      );
      await install(source, '4.0.0');
      const after = await restarted(before);
      assert.equal(after.state, 'running', `hello-1 did not start: ${after.last_error}`);
      assert.deepEqual(after.config_object, {});
      assert.equal(await hello('world'), 'Hello, world!');
      const warnings = daemon.output.filter((l) => l.includes('"level":"warn"') && l.includes('config keys salutation are not known to org.example.hello 4.0.0 and were dropped'));
      assert.equal(warnings.length, 1, 'one WARN names the dropped key');
    });

    it('fails the instance only when its config cannot be made valid, saying which key and how to fix it', async () => {
      const source = helloVersion(
        workDir,
        '5.0.0',
        ['type: object', 'additionalProperties: false', 'required: [name]', 'properties:', '  name: { type: string, minLength: 1 }'],
        `import { definePlugin } from 'trellis/sdk';

interface HelloConfig {
  name: string;
}

export default definePlugin<HelloConfig>({
  setup(context) {
    context.command({
      name: 'hello',
      description: 'Say hello',
      args: [{ name: 'who', required: false }],
      handler: ({ args, message }) => message.reply(\`Hello from \${context.config.name}, \${args.who ?? message.sender}!\`).then(() => undefined),
    });
  },
});
`,
      );
      await install(source, '5.0.0');
      const failed = await daemon.waitFor('hello-1 failed', async () => {
        const now = await instance();
        return now.state === 'failed' ? now : undefined;
      });
      assert.equal(
        failed.last_error,
        'the config does not fit org.example.hello 5.0.0 (it was written for 4.0.0): config.name: required; set a valid config in the console or with PUT /instance/hello-1',
      );
      const put = await daemon.api('PUT', '/instance/hello-1', { config: { name: 'Trellis' } });
      assert.equal(put.status, 200, put.text);
      await daemon.waitFor('hello-1 running again', async () => (await instance()).state === 'running');
      assert.equal(await hello('world'), 'Hello from Trellis, world!');
    });
  });
});
