import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { after, describe, test } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import yazl from 'yazl';
import { installPluginArchive, readPluginArchive } from '../../src/plugin-package/archive.ts';
import { createConfigValidator, maskSecrets, parseManifest, PluginValidationError, secretConfigKeys } from '../../src/plugin-package/manifest.ts';
import { validateArchiveFile } from '../../src/plugin-package/validate-cli.ts';

const MiB = 1024 * 1024;

const MANIFEST = `id: org.example.hello
version: 1.2.0
name: Hello
main: index.js
database: true
config_schema:
  type: object
  properties: { greeting: { type: string, default: hi } }
extra_files: [data/words.txt]
`;
const INDEX = 'export default { setup() {} };\n';

interface YazlEntry {
  name: string;
  data: Buffer | string;
  mode?: number;
}

function yazlZip(entries: YazlEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    zip.addBuffer(Buffer.from(e.data), e.name, e.mode === undefined ? {} : { mode: e.mode });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

function validEntries(): YazlEntry[] {
  return [
    { name: 'plugin.yaml', data: MANIFEST },
    { name: 'index.js', data: INDEX },
    { name: 'data/words.txt', data: 'hello\nworld\n' },
  ];
}

interface RawEntry {
  name: string | Buffer;
  /** Uncompressed content; compressed with deflate unless `stored`. */
  content?: Buffer;
  stored?: boolean;
  /** Override the sizes written in both headers (to lie). */
  declaredUncompressedSize?: number;
  /** Unix mode stored in the high 16 bits of the external attributes. */
  unixMode?: number;
}

/** A minimal zip writer so that tests can produce archives no well-behaved tool would. */
function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
    const content = e.content ?? Buffer.alloc(0);
    const data = e.stored ? content : deflateRawSync(content);
    const method = e.stored ? 0 : 8;
    const crc = crc32(content);
    const uncompressed = e.declaredUncompressedSize ?? content.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(uncompressed, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(uncompressed, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.unixMode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

function rawValid(): RawEntry[] {
  return [
    { name: 'plugin.yaml', content: Buffer.from(MANIFEST) },
    { name: 'index.js', content: Buffer.from(INDEX) },
    { name: 'data/words.txt', content: Buffer.from('hello\n') },
  ];
}

async function rejection(promise: Promise<unknown>): Promise<PluginValidationError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginValidationError, `expected PluginValidationError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the archive to be rejected');
}

describe('readPluginArchive', () => {
  test('accepts a valid archive and returns the manifest and files', async () => {
    const { manifest, files } = await readPluginArchive(await yazlZip(validEntries()));
    assert.equal(manifest.id, 'org.example.hello');
    assert.equal(manifest.version, '1.2.0');
    assert.equal(manifest.main, 'index.js');
    assert.equal(manifest.database, true);
    assert.deepEqual(manifest.extraFiles, ['data/words.txt']);
    assert.deepEqual([...files.keys()].sort(), ['data/words.txt', 'index.js', 'plugin.yaml']);
    assert.equal(files.get('index.js')?.toString(), INDEX);
  });

  test('accepts folder entries and a handcrafted archive', async () => {
    const { files } = await readPluginArchive(rawZip([{ name: 'data/', stored: true, unixMode: 0o040755 }, ...rawValid()]));
    assert.equal(files.get('data/words.txt')?.toString(), 'hello\n');
    assert.ok(!files.has('data/'));
  });

  test('rejects path traversal', async () => {
    const error = await rejection(readPluginArchive(rawZip([...rawValid(), { name: '../evil.js', content: Buffer.from('x') }])));
    assert.match(error.message, /"\.\.\/evil\.js".*escapes the plugin folder/);
    const nested = await rejection(readPluginArchive(rawZip([...rawValid(), { name: 'lib/../../evil.js', content: Buffer.from('x') }])));
    assert.match(nested.message, /escapes the plugin folder/);
  });

  test('rejects absolute paths, drive letters, backslashes and NUL bytes', async () => {
    const cases: Array<[string | Buffer, RegExp]> = [
      ['/etc/cron.d/evil', /absolute path/],
      ['C:/Windows/evil.dll', /drive letter/],
      ['..\\evil.js', /backslash/],
      [Buffer.from('index.js\0.txt', 'latin1'), /NUL/],
    ];
    for (const [name, reason] of cases) {
      const error = await rejection(readPluginArchive(rawZip([...rawValid(), { name, content: Buffer.from('x') }])));
      assert.match(error.message, reason);
    }
  });

  test('rejects symlink entries', async () => {
    const archive = rawZip([...rawValid(), { name: 'link', content: Buffer.from('/etc/passwd'), stored: true, unixMode: 0o120777 }]);
    const error = await rejection(readPluginArchive(archive));
    assert.match(error.message, /"link".*symbolic links are not allowed/);
    // Also when written by yazl with a symlink mode.
    const viaYazl = await yazlZip([...validEntries(), { name: 'other', data: '/etc/shadow', mode: 0o120777 }]);
    assert.match((await rejection(readPluginArchive(viaYazl))).message, /symbolic link/);
  });

  test('rejects duplicate names, including ones that differ only in case', async () => {
    const exact = await rejection(readPluginArchive(rawZip([...rawValid(), { name: 'index.js', content: Buffer.from('evil') }])));
    assert.match(exact.message, /"index\.js": duplicate name/);
    const folded = await rejection(readPluginArchive(rawZip([...rawValid(), { name: 'INDEX.js', content: Buffer.from('evil') }])));
    assert.match(folded.message, /duplicate name/);
  });

  test('rejects a file that is also used as a folder', async () => {
    const error = await rejection(readPluginArchive(rawZip([...rawValid(), { name: 'index.js/x', content: Buffer.from('x') }])));
    assert.match(error.message, /also a file/);
  });

  test('lists every manifest problem at once', async () => {
    const bad = 'id: Hello World\nversion: 1.0\nmain: ../index.js\ndatabase: maybe\ncolour: blue\n';
    const error = await rejection(
      readPluginArchive(
        await yazlZip([
          { name: 'plugin.yaml', data: bad },
          { name: 'index.js', data: INDEX },
        ]),
      ),
    );
    assert.ok(error.problems.includes('plugin.yaml: version: not a semantic version (got "1.0")'), error.problems.join('\n'));
    assert.ok(error.problems.some((p) => p.startsWith('plugin.yaml: id: not a reverse-domain identifier')));
    assert.ok(error.problems.some((p) => p.startsWith('plugin.yaml: main: escapes the plugin folder')));
    assert.ok(error.problems.some((p) => p.startsWith('plugin.yaml: database: must be true or false')));
    assert.ok(error.problems.some((p) => p.startsWith('plugin.yaml: colour: unknown key')));
    assert.equal(error.problems.length, 5);
    for (const problem of error.problems) assert.ok(error.message.includes(problem));
  });

  test('rejects a missing plugin.yaml and a missing main or extra file', async () => {
    const noManifest = await rejection(readPluginArchive(await yazlZip([{ name: 'index.js', data: INDEX }])));
    assert.match(noManifest.message, /no plugin\.yaml \(a Trellis plugin\) or maubot\.yaml \(a maubot \.mbp\) at the root/);
    const nested = await rejection(
      readPluginArchive(
        await yazlZip([
          { name: 'hello/plugin.yaml', data: MANIFEST },
          { name: 'hello/index.js', data: INDEX },
        ]),
      ),
    );
    assert.match(nested.message, /no plugin\.yaml \(a Trellis plugin\) or maubot\.yaml \(a maubot \.mbp\) at the root/);
    const noMain = await rejection(
      readPluginArchive(
        await yazlZip([
          { name: 'plugin.yaml', data: MANIFEST },
          { name: 'data/words.txt', data: 'x' },
        ]),
      ),
    );
    assert.deepEqual(noMain.problems, ['plugin.yaml: main: "index.js" is not in the archive']);
    const noExtra = await rejection(
      readPluginArchive(
        await yazlZip([
          { name: 'plugin.yaml', data: MANIFEST },
          { name: 'index.js', data: INDEX },
        ]),
      ),
    );
    assert.deepEqual(noExtra.problems, ['plugin.yaml: extra_files: "data/words.txt" is not in the archive']);
  });

  test('stops inflating a zip bomb while streaming (compression ratio)', async () => {
    const zeros = Buffer.alloc(60 * MiB);
    const archive = rawZip([...rawValid(), { name: 'bomb.bin', content: zeros }]);
    assert.ok(archive.length < 200 * 1024, 'the bomb compresses to a small archive');
    const error = await rejection(readPluginArchive(archive));
    assert.match(error.message, /"bomb\.bin": inflates to more than 100x its compressed size .*stopped after ([\d.]+) MB.*zip bomb/);
    const stoppedAt = Number(/stopped after ([\d.]+) MB/.exec(error.message)?.[1]);
    assert.ok(stoppedAt < 20, `stopped early, not after inflating all 60 MiB (${stoppedAt} MB)`);
  });

  test('stops inflating an entry over the per-entry limit while streaming', async () => {
    const archive = rawZip([...rawValid(), { name: 'bomb.bin', content: Buffer.alloc(60 * MiB) }]);
    const error = await rejection(readPluginArchive(archive, { maxCompressionRatio: 1e6, maxEntryBytes: 10 * MiB }));
    assert.match(error.message, /"bomb\.bin": larger than the 10\.5 MB limit for one file \(stopped after 10\.[5-9] MB\)/);
  });

  test('enforces the total uncompressed size across entries', async () => {
    const entries = [...rawValid()];
    for (let i = 0; i < 3; i++) entries.push({ name: `blob${i}.bin`, content: randomBytes(MiB) });
    const error = await rejection(readPluginArchive(rawZip(entries), { maxTotalUncompressedBytes: 2.5 * MiB }));
    assert.match(error.message, /add up to more than the 2\.6 MB limit \(stopped at entry "blob2\.bin"\)/);
  });

  test('rejects an entry whose header under-declares its size', async () => {
    // The header says 100 bytes; the deflate stream holds 60 MiB.
    const lying = rawZip([...rawValid(), { name: 'liar.bin', content: Buffer.alloc(60 * MiB), declaredUncompressedSize: 100 }]);
    const error = await rejection(readPluginArchive(lying));
    assert.match(error.message, /"liar\.bin": holds more data than its header declares/);
    // A stored entry whose sizes disagree is caught before any data is read.
    const stored = rawZip([...rawValid(), { name: 'liar.txt', content: Buffer.from('0123456789'), stored: true, declaredUncompressedSize: 4 }]);
    assert.match((await rejection(readPluginArchive(stored))).message, /header sizes disagree/);
  });

  test('rejects data that is not a zip archive', async () => {
    for (const data of [Buffer.from('#!/bin/sh\nrm -rf /\n'), Buffer.alloc(0), randomBytes(4096)]) {
      const error = await rejection(readPluginArchive(data));
      assert.match(error.message, /not a zip archive/);
    }
    const valid = await yazlZip(validEntries());
    const truncated = await rejection(readPluginArchive(valid.subarray(0, valid.length - 30)));
    assert.match(truncated.message, /not a (zip|readable zip) archive/);
  });

  test('rejects too many entries and too large an archive', async () => {
    const entries = validEntries();
    for (let i = 0; i < 10; i++) entries.push({ name: `f${i}.txt`, data: String(i) });
    const many = await rejection(readPluginArchive(await yazlZip(entries), { maxEntries: 12 }));
    assert.equal(many.message, 'archive: 13 entries is more than the limit of 12');
    const big = await rejection(readPluginArchive(await yazlZip(validEntries()), { maxArchiveBytes: 100 }));
    assert.match(big.message, /is larger than the 100 B limit/);
  });
});

describe('installPluginArchive', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  async function pluginsDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-plugins-'));
    dirs.push(dir);
    return dir;
  }

  test('extracts a valid archive into <pluginsDir>/<id>/<version>-<random>', async () => {
    const root = await pluginsDir();
    const { manifest, dir } = await installPluginArchive(await yazlZip(validEntries()), root);
    assert.equal(manifest.id, 'org.example.hello');
    assert.match(relative(root, dir), new RegExp(`^org\\.example\\.hello\\${sep}1\\.2\\.0-[0-9a-f]{8}$`));
    assert.equal(await readFile(join(dir, 'index.js'), 'utf8'), INDEX);
    assert.equal(await readFile(join(dir, 'data', 'words.txt'), 'utf8'), 'hello\nworld\n');
    assert.deepEqual(await readdir(root), ['org.example.hello']);
    // A second install of the same version gets its own folder.
    const second = await installPluginArchive(await yazlZip(validEntries()), root);
    assert.notEqual(second.dir, dir);
    assert.equal((await readdir(join(root, 'org.example.hello'))).length, 2);
  });

  test('leaves nothing behind when the archive is invalid', async () => {
    const root = await pluginsDir();
    const evil = rawZip([...rawValid(), { name: '../evil.js', content: Buffer.from('x') }]);
    await rejection(installPluginArchive(evil, root));
    assert.deepEqual(await readdir(root), []);
    assert.deepEqual(
      (await readdir(join(root, '..'))).filter((n) => n === 'evil.js'),
      [],
    );
  });

  test('removes the partly written temp folder when the final move fails', async () => {
    const root = await pluginsDir();
    // A plain file where the plugin's folder should go makes the move fail
    // after every file has been written to the temp folder.
    await writeFile(join(root, 'org.example.hello'), 'in the way');
    await assert.rejects(installPluginArchive(await yazlZip(validEntries()), root));
    assert.deepEqual(await readdir(root), ['org.example.hello']);
    assert.equal(await readFile(join(root, 'org.example.hello'), 'utf8'), 'in the way');
  });
});

describe('validateArchiveFile', () => {
  test('summarises a valid archive and rejects an invalid one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-validate-'));
    try {
      const good = join(dir, 'good.zip');
      const archive = await yazlZip(validEntries());
      await writeFile(good, archive);
      assert.equal(await validateArchiveFile(good), `org.example.hello 1.2.0: OK (3 files, ${archive.length} B)`);
      const bad = join(dir, 'bad.zip');
      await writeFile(bad, 'not a zip');
      await rejection(validateArchiveFile(bad));
      await assert.rejects(validateArchiveFile(join(dir, 'missing.zip')), /no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseManifest', () => {
  test('applies defaults for optional keys', () => {
    const manifest = parseManifest('id: org.example.min\nversion: 0.1.0-beta.1+build.5\nmain: index.js\n');
    assert.deepEqual(manifest, {
      id: 'org.example.min',
      version: '0.1.0-beta.1+build.5',
      main: 'index.js',
      database: false,
      directMessages: false,
      configSchema: { type: 'object' },
      extraFiles: [],
    });
    assert.equal(parseManifest('id: org.example.dm\nversion: 1.0.0\nmain: index.js\ndirect_messages: true\n').directMessages, true);
    assert.throws(() => parseManifest('id: org.example.dm\nversion: 1.0.0\nmain: index.js\ndirect_messages: yes please\n'), /direct_messages: must be true or false/);
  });

  test('finds the writeOnly config keys and masks their values', () => {
    const schema = { type: 'object', properties: { password: { type: 'string', writeOnly: true }, host: { type: 'string' } } };
    assert.deepEqual(secretConfigKeys(schema), ['password']);
    assert.deepEqual(maskSecrets({ password: 'hunter22', host: 'h' }, ['password']), { password: '********', host: 'h' });
    assert.deepEqual(maskSecrets({ password: '', host: 'h' }, ['password']), { password: '', host: 'h' }, 'an unset secret stays visibly unset');
  });

  test('reports missing keys, bad YAML and invalid config schemas', () => {
    assert.throws(
      () => parseManifest('name: x\n'),
      (error: unknown) => {
        assert.ok(error instanceof PluginValidationError);
        assert.deepEqual(
          error.problems.map((p) => p.split(':')[0]),
          ['id', 'version', 'main'],
        );
        return true;
      },
    );
    assert.throws(() => parseManifest('id: [unclosed\n'), /invalid YAML/);
    assert.throws(() => parseManifest('- a list\n'), /must be a YAML mapping/);
    assert.throws(
      () => parseManifest('id: org.example.x\nversion: 1.0.0\nmain: index.js\nconfig_schema:\n  type: object\n  properties: { n: { type: nonsense } }\n'),
      /config_schema: not a valid JSON Schema/,
    );
    // Bundled plugins are listed without compiling their schema (start-up cost); a broken one
    // is then refused at its first validation, with the same message, instead of throwing.
    const unchecked = parseManifest('id: org.example.x\nversion: 1.0.0\nmain: index.js\nconfig_schema:\n  type: object\n  properties: { n: { type: nonsense } }\n', {
      compileSchema: false,
    });
    const result = createConfigValidator(unchecked.configSchema)({ n: 1 });
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.problems.join('\n'), /^config_schema: not a valid JSON Schema/);
    assert.throws(() => parseManifest('id: org.example.x\nversion: 1.0.0\nmain: index.js\nconfig_schema: { type: string }\n'), /config_schema\.type: must be "object"/);
    assert.throws(() => parseManifest(`id: org.example.${'x'.repeat(130)}\nversion: 1.0.0\nmain: index.js\n`), /longer than 128/);
  });
});

describe('createConfigValidator', () => {
  const schema = {
    type: 'object',
    properties: {
      greeting: { type: 'string', default: 'hi' },
      limits: { type: 'object', properties: { perMinute: { type: 'integer', minimum: 1, default: 10 } }, default: {} },
      rooms: { type: 'array', items: { type: 'string', pattern: '^!' } },
      mode: { enum: ['fast', 'slow'] },
    },
    required: ['mode'],
    additionalProperties: false,
  };

  test('applies defaults without mutating the input', () => {
    const validate = createConfigValidator(schema);
    const input = { mode: 'fast' };
    const result = validate(input);
    assert.deepEqual(result, { ok: true, value: { mode: 'fast', greeting: 'hi', limits: { perMinute: 10 } } });
    assert.deepEqual(input, { mode: 'fast' });
  });

  test('lists every problem with its path', () => {
    const validate = createConfigValidator(schema);
    const result = validate({ greeting: 5, limits: { perMinute: 0 }, rooms: ['!ok', 'bad'], extra: true });
    assert.equal(result.ok, false);
    assert.deepEqual(
      new Set(result.ok ? [] : result.problems),
      new Set(['mode: required', 'extra: unknown key', 'greeting: must be string', 'limits.perMinute: must be >= 1', 'rooms[1]: must match pattern "^!"']),
    );
    // What a config upgrade may drop.
    assert.deepEqual(result.ok ? [] : result.unknownKeys, [['extra']]);
    assert.deepEqual(validate('nope'), { ok: false, problems: ['config: must be a mapping (object), got string "nope"'], unknownKeys: [] });
    assert.deepEqual(validate({ mode: 'medium' }), { ok: false, problems: ['mode: must be one of "fast", "slow"'], unknownKeys: [] });
  });

  test('supports draft-07 schemas and formats', () => {
    const validate = createConfigValidator({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { url: { type: 'string', format: 'uri', default: 'https://example.org' } },
    });
    assert.deepEqual(validate({}), { ok: true, value: { url: 'https://example.org' } });
    assert.deepEqual(validate({ url: 'not a uri' }), { ok: false, problems: ['url: must match format "uri"'], unknownKeys: [] });
  });
});

describe('maubot .mbp archives (maubot.yaml)', () => {
  const MBP_MANIFEST = ['maubot: 0.1.0', 'id: xyz.maubot.echo', 'version: 1.2.0+dev', 'modules: [echo]', 'main_class: EchoBot', 'config: true', 'extra_files: [base-config.yaml]', ''].join('\n');
  const mbp = (
    manifest: string,
    extra: YazlEntry[] = [
      { name: 'echo.py', data: 'class EchoBot: pass\n' },
      { name: 'base-config.yaml', data: 'a: 1\n' },
    ],
  ) => yazlZip([{ name: 'maubot.yaml', data: manifest }, ...extra]);

  test('is read as a plugin of kind maubot with its meta', async () => {
    const { manifest } = await readPluginArchive(await mbp(MBP_MANIFEST));
    assert.equal(manifest.kind, 'maubot');
    assert.equal(manifest.id, 'xyz.maubot.echo');
    assert.equal(manifest.version, '1.2.0+dev');
    assert.deepEqual(manifest.maubot?.modules, ['echo']);
    assert.equal(manifest.maubot?.main_class, 'EchoBot');
    assert.equal(manifest.maubot?.config, true);
    assert.deepEqual(manifest.configSchema, { type: 'object' });
  });

  test('a package module (folder with __init__.py) counts as the module', async () => {
    const { manifest } = await readPluginArchive(
      await mbp(MBP_MANIFEST.replace('extra_files: [base-config.yaml]\n', ''), [
        { name: 'echo/__init__.py', data: 'from .bot import EchoBot\n' },
        { name: 'echo/bot.py', data: '' },
      ]),
    );
    assert.deepEqual(manifest.maubot?.modules, ['echo']);
  });

  test('refuses what Trellis cannot run, naming each problem', async () => {
    const error = await rejection(
      readPluginArchive(
        await mbp(
          [
            'maubot: 9.0.0',
            'id: Not An Id',
            'version: one',
            'modules: [missing, "bad-name"]',
            'main_class: other/Bot',
            'database: true',
            'database_type: mongodb',
            'extra_files: [nope.yaml]',
            'colour: red',
            '',
          ].join('\n'),
        ),
      ),
    );
    const problems = error.problems.join('\n');
    for (const expected of [
      'maubot.yaml: colour: unknown key',
      'maubot.yaml: id: not a reverse-domain identifier',
      'maubot.yaml: version: not a version',
      'maubot.yaml: modules: missing is not in the archive',
      'maubot.yaml: modules: "bad-name" is not a Python module name',
      'maubot.yaml: main_class: module other is not one of modules',
      'maubot.yaml: maubot: the plugin needs maubot 9.0.0; Trellis hosts plugins with maubot 0.6.0',
      'maubot.yaml: database_type: sqlalchemy or asyncpg',
      'maubot.yaml: extra_files: "nope.yaml" is not in the archive',
    ]) {
      assert.ok(problems.includes(expected), `missing "${expected}" in:\n${problems}`);
    }
  });

  test('the maubot version hosted is the one scripts/python-tools.ts installs', async () => {
    const { HOSTED_MAUBOT_VERSION } = await import('../../src/plugin-package/maubot-manifest.ts');
    const { MAUBOT_VERSION } = await import('../../scripts/python-tools.ts');
    assert.equal(HOSTED_MAUBOT_VERSION, MAUBOT_VERSION);
  });
});
