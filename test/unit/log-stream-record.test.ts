/** The /logs websocket's records as maubot's clients read them (mbc logs parses `time` itself). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiLogStreamRecord, pythonIsoTime } from '../../src/api/serialize.ts';
import { LogStreamRecord } from '../../src/api/schemas.ts';

describe('log stream records', () => {
  it("writes time as Python's isoformat in UTC: microseconds and +00:00, never Z", () => {
    assert.equal(pythonIsoTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), '2026-01-02T03:04:05.006000+00:00');
    assert.equal(pythonIsoTime(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), '2026-01-02T03:04:05.000000+00:00');
  });

  it("names the logger and level as maubot, keeps Trellis's fields, and gives the stack as exc_info", () => {
    const time = Date.UTC(2026, 0, 2);
    const instance = apiLogStreamRecord({ time, level: 'warn', message: 'slow', instanceId: 'ping', clientId: '@bot:x', context: null }, '7');
    assert.deepEqual(
      { name: instance.name, levelname: instance.levelname, levelno: instance.levelno, msg: instance.msg, id: instance.id, exc_info: instance.exc_info, level: instance.level },
      { name: 'maubot.instance.ping', levelname: 'WARNING', levelno: 30, msg: 'slow', id: '7', exc_info: null, level: 'warn' },
    );
    assert.equal(apiLogStreamRecord({ time, level: 'info', message: 'm', instanceId: null, clientId: '@bot:x', context: null }, '1').name, 'maubot.client.@bot:x');
    const failed = apiLogStreamRecord({ time, level: 'critical', message: 'boom', instanceId: null, clientId: null, context: { component: 'api', err: { stack: 'Error: boom\n    at x' } } }, '2');
    assert.equal(failed.name, 'trellis.api');
    assert.equal(failed.levelname, 'CRITICAL');
    assert.equal(failed.exc_info, 'Error: boom\n    at x');
    assert.equal(apiLogStreamRecord({ time, level: 'debug', message: 'm', instanceId: null, clientId: null, context: null }, '3').name, 'trellis.daemon');
    assert.ok(LogStreamRecord.safeParse(failed).success);
  });
});
