/**
 * A long poll on a connection that went silent (a NAT or proxy dropped it
 * without a reset) must be given up a few seconds after the homeserver would
 * have answered, not hang. The "homeserver" here accepts the connection and
 * never answers, like such a dead path.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { MatrixClient } from '../../src/matrix/client.ts';
import { HomeserverUnreachableError } from '../../src/matrix/errors.ts';

describe('a silently dropped long poll', () => {
  it('is given up with a timeout error shortly after the server timeout', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const client = new MatrixClient({ homeserverUrl: `http://127.0.0.1:${port}`, userId: '@bot:example.org', accessToken: 'syt_test', deviceId: 'DEV' });
      const error = await client.sync({ since: 's1', timeoutMs: 200 }).then(
        () => assert.fail('a server that never answers cannot produce a sync response'),
        (err: unknown) => err,
      );
      assert.ok(error instanceof HomeserverUnreachableError, String(error));
      assert.match(error.message, /did not answer within 5\.2 s/, 'the long-poll timeout plus a 5 s grace');
      assert.ok(sockets.length >= 1, 'the request reached the silent server');
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
