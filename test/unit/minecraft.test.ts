/**
 * The minecraft plugin's pure parts (name check, answers in plain words),
 * the fake RCON server's packet codec, and the plugin's RCON exchange
 * (real rcon-client) against the fake on loopback.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { validateMinecraftName, describeWhitelistAnswer, stripFormatting } from '../../plugins/minecraft/names.ts';
import { runRconCommand, RconFailure } from '../../plugins/minecraft/rcon.ts';
import {
  decodePackets,
  encodePacket,
  FakeRcon,
  MAX_RESPONSE_BODY,
  responsePackets,
  RconProtocolError,
  SERVERDATA_AUTH,
  SERVERDATA_AUTH_RESPONSE,
  SERVERDATA_EXECCOMMAND,
  SERVERDATA_RESPONSE_VALUE,
  type RconPacket,
} from '../fakes/rcon.ts';
import { freePort } from '../harness/daemon.ts';

describe('Minecraft name validation', () => {
  it('accepts 3–16 letters, digits and underscores', () => {
    for (const name of ['abc', 'Steve', 'steve_123', 'A_B_C_D_E_F_G_H_', '___', '1234567890123456']) {
      assert.deepEqual(validateMinecraftName(name), { ok: true, name });
    }
    assert.deepEqual(validateMinecraftName('  Alex  '), { ok: true, name: 'Alex' });
  });

  it('rejects too short and too long names, saying the allowed length', () => {
    for (const name of ['ab', 'x', 'abcdefghijklmnopq']) {
      const check = validateMinecraftName(name);
      assert.equal(check.ok, false, name);
      assert.match((check as { problem: string }).problem, /3 to 16 characters/);
    }
  });

  it('rejects other characters, spaces and empty input with a clear sentence', () => {
    for (const name of ['bad-name', 'name!', 'élise', 'a.b.c', 'Steve😀']) {
      const check = validateMinecraftName(name);
      assert.equal(check.ok, false, name);
      assert.match((check as { problem: string }).problem, /only letters \(A–Z\), digits and underscores/);
    }
    assert.match((validateMinecraftName('Steve Alex') as { problem: string }).problem, /one Minecraft name only/);
    assert.match((validateMinecraftName('   ') as { problem: string }).problem, /Give a Minecraft name/);
  });

  it('shortens a very long bad input in the message', () => {
    const problem = (validateMinecraftName('x'.repeat(500)) as { problem: string }).problem;
    assert.ok(problem.length < 200, problem);
  });
});

describe('whitelist answers in plain words', () => {
  it('recognises the vanilla answers', () => {
    assert.deepEqual(describeWhitelistAnswer('Steve', 'Added Steve to the whitelist'), { outcome: 'added', text: "Steve is now on the Minecraft server's whitelist." });
    assert.equal(describeWhitelistAnswer('Steve', 'Player is already whitelisted').outcome, 'already');
    assert.equal(describeWhitelistAnswer('Steve', 'That player does not exist').outcome, 'unknown_player');
    assert.match(describeWhitelistAnswer('Steve', 'That player does not exist').text, /no player named Steve/);
  });

  it('relays anything else without colour codes', () => {
    assert.equal(stripFormatting('§cError: §lno'), 'Error: no');
    assert.deepEqual(describeWhitelistAnswer('Steve', '§6Whitelist is off\n'), { outcome: 'other', text: 'The Minecraft server answered: Whitelist is off' });
    assert.equal(describeWhitelistAnswer('Steve', '').outcome, 'other');
  });
});

describe('the fake RCON server packet codec', () => {
  it('encodes little-endian size, id, type, body and two NULs', () => {
    const bytes = encodePacket({ id: 7, type: SERVERDATA_EXECCOMMAND, body: 'list' });
    assert.equal(bytes.length, 4 + 4 + 4 + 4 + 2);
    assert.equal(bytes.readInt32LE(0), 14);
    assert.equal(bytes.readInt32LE(4), 7);
    assert.equal(bytes.readInt32LE(8), 2);
    assert.equal(bytes.subarray(12, 16).toString(), 'list');
    assert.deepEqual([...bytes.subarray(16)], [0, 0]);
    assert.equal(encodePacket({ id: -1, type: SERVERDATA_AUTH_RESPONSE, body: '' }).readInt32LE(4), -1);
  });

  it('decodes several packets, keeps a partial one, and handles UTF-8 bodies', () => {
    const packets: RconPacket[] = [
      { id: 1, type: SERVERDATA_AUTH, body: 'secret' },
      { id: 2, type: SERVERDATA_EXECCOMMAND, body: 'say héllo ✓' },
      { id: 3, type: SERVERDATA_RESPONSE_VALUE, body: '' },
    ];
    const stream = Buffer.concat(packets.map(encodePacket));
    assert.deepEqual(decodePackets(stream).packets, packets);
    // Byte by byte, as a slow TCP stream could deliver it.
    const seen: RconPacket[] = [];
    let rest: Buffer = Buffer.alloc(0);
    for (const byte of stream) {
      const out = decodePackets(Buffer.concat([rest, Buffer.from([byte])]));
      seen.push(...out.packets);
      rest = out.rest;
    }
    assert.deepEqual(seen, packets);
    assert.equal(rest.length, 0);
  });

  it('rejects malformed packets', () => {
    const bad = encodePacket({ id: 1, type: 2, body: 'x' });
    bad[bad.length - 1] = 1;
    assert.throws(() => decodePackets(bad), RconProtocolError);
    const tiny = Buffer.alloc(12);
    tiny.writeInt32LE(5, 0);
    assert.throws(() => decodePackets(tiny), /below the minimum/);
    assert.throws(() => decodePackets(encodePacket({ id: 1, type: 2, body: 'x'.repeat(2000) }), 1460), /exceeds the limit/);
  });

  it('splits answers over 4096 bytes into several packets with the same id', () => {
    const text = 'a'.repeat(MAX_RESPONSE_BODY * 2 + 10);
    const parts = responsePackets(42, text);
    assert.equal(parts.length, 3);
    const decoded = decodePackets(Buffer.concat(parts)).packets;
    assert.deepEqual(
      decoded.map((p) => p.body.length),
      [4096, 4096, 10],
    );
    assert.ok(decoded.every((p) => p.id === 42 && p.type === SERVERDATA_RESPONSE_VALUE));
    assert.equal(decoded.map((p) => p.body).join(''), text);
    assert.equal(responsePackets(1, '').length, 1);
  });
});

describe('the fake RCON server on the wire', () => {
  let fake: FakeRcon;
  before(async () => {
    fake = await FakeRcon.start({ password: 'hunter2-long', unknownPlayers: ['Nobody123'] });
  });
  after(() => fake.stop());

  /** A raw client: writes packets, collects what comes back until `count` packets arrived. */
  async function exchange(packets: RconPacket[], count: number): Promise<RconPacket[]> {
    const socket = connect(fake.port, '127.0.0.1');
    const received: RconPacket[] = [];
    let rest: Buffer = Buffer.alloc(0);
    return new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        const out = decodePackets(Buffer.concat([rest, chunk]));
        received.push(...out.packets);
        rest = out.rest;
        if (received.length >= count) {
          socket.destroy();
          resolve(received);
        }
      });
      socket.write(Buffer.concat(packets.map(encodePacket)));
    });
  }

  it('authenticates, answers commands with the request id, and splits long answers', async () => {
    fake.respond = (command) => (command === 'long' ? 'x'.repeat(5000) : fake.vanilla(command));
    const got = await exchange(
      [
        { id: 10, type: SERVERDATA_AUTH, body: 'hunter2-long' },
        { id: 11, type: SERVERDATA_EXECCOMMAND, body: 'whitelist add Alex' },
        { id: 12, type: SERVERDATA_EXECCOMMAND, body: 'long' },
      ],
      4,
    );
    fake.respond = (command) => fake.vanilla(command);
    assert.deepEqual(got[0], { id: 10, type: SERVERDATA_AUTH_RESPONSE, body: '' });
    assert.deepEqual(got[1], { id: 11, type: SERVERDATA_RESPONSE_VALUE, body: 'Added Alex to the whitelist' });
    assert.deepEqual(
      got.slice(2).map((p) => [p.id, p.body.length]),
      [
        [12, 4096],
        [12, 904],
      ],
    );
    assert.deepEqual(
      fake.commands.slice(-2).map((c) => c.command),
      ['whitelist add Alex', 'long'],
    );
  });

  it('answers a wrong password, and a command before login, with id -1', async () => {
    const before = fake.commands.length;
    const got = await exchange(
      [
        { id: 5, type: SERVERDATA_AUTH, body: 'wrong' },
        { id: 6, type: SERVERDATA_EXECCOMMAND, body: 'whitelist add Alex' },
      ],
      2,
    );
    assert.deepEqual(got, [
      { id: -1, type: SERVERDATA_AUTH_RESPONSE, body: '' },
      { id: -1, type: SERVERDATA_AUTH_RESPONSE, body: '' },
    ]);
    assert.equal(fake.commands.length, before, 'the command was not run');
  });

  it('answers an unknown packet type like Minecraft', async () => {
    const got = await exchange([{ id: 9, type: 7, body: '' }], 1);
    assert.deepEqual(got, [{ id: 9, type: SERVERDATA_RESPONSE_VALUE, body: 'Unknown request 7' }]);
  });

  describe("the plugin's RCON exchange (rcon-client) against it", () => {
    const settings = () => ({ host: '127.0.0.1', port: fake.port, password: 'hunter2-long', timeoutMs: 2000 });

    it('sends the command and returns the answer', async () => {
      assert.equal(await runRconCommand(settings(), 'whitelist add Notch_1'), 'Added Notch_1 to the whitelist');
      assert.equal(await runRconCommand(settings(), 'whitelist add Notch_1'), 'Player is already whitelisted');
      assert.equal(await runRconCommand(settings(), 'whitelist add Nobody123'), 'That player does not exist');
      assert.equal(fake.commands.at(-1)?.command, 'whitelist add Nobody123');
    });

    it('reports a refused password as an auth failure without the password in the message', async () => {
      const err = await runRconCommand({ ...settings(), password: 'not-the-password' }, 'list').then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof RconFailure);
      assert.equal(err.kind, 'auth');
      assert.ok(!err.message.includes('not-the-password'));
    });

    it('reports a closed port as unreachable', async () => {
      const port = await freePort();
      await assert.rejects(runRconCommand({ ...settings(), port }, 'list'), (e: unknown) => e instanceof RconFailure && e.kind === 'unreachable');
    });

    it('reports a server that never answers as a timeout', async () => {
      fake.silent = true;
      try {
        await assert.rejects(runRconCommand({ ...settings(), timeoutMs: 300 }, 'list'), (e: unknown) => e instanceof RconFailure && e.kind === 'timeout');
      } finally {
        fake.silent = false;
      }
    });

    it('times out when the connection is accepted but nothing is ever read back', async () => {
      // A TCP listener that is not an RCON server at all.
      const sockets: Socket[] = [];
      const server = createServer((socket) => void sockets.push(socket));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const port = (server.address() as { port: number }).port;
      try {
        await assert.rejects(runRconCommand({ ...settings(), port, timeoutMs: 300 }, 'list'), (e: unknown) => e instanceof RconFailure && e.kind === 'timeout');
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((r) => server.close(r));
      }
    });
  });
});
