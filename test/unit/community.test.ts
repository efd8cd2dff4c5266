/** The community plugin's pure rules: dice, ranges, rock-paper-scissors, lists, and its !health probes against loopback fakes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatRoll, MAX_TERMS, NOT_DICE, parseDice, rollDice, type DiceTerm, type RandomInt } from '../../plugins/community/dice.ts';
import {
  agentsFor,
  championsFor,
  formatDuration,
  listOrDefault,
  parseLane,
  parseRange,
  parseRole,
  parseRps,
  pick,
  rpsOutcome,
  secureRandom,
  type Agent,
  type Champion,
} from '../../plugins/community/games.ts';
import { probeOllama, probeTcp } from '../../plugins/community/health.ts';
import shippedChampions from '../../plugins/community/data/champions.json' with { type: 'json' };
import shippedAgents from '../../plugins/community/data/agents.json' with { type: 'json' };
import eightBall from '../../plugins/community/data/eight-ball.json' with { type: 'json' };
import fortunes from '../../plugins/community/data/fortunes.json' with { type: 'json' };
import { FakeOllama } from '../fakes/ollama.ts';
import { FakeRcon } from '../fakes/rcon.ts';

const LIMITS = { maxDice: 100, maxSides: 1000 };

/** A random source that plays back `values` and checks each was possible for the range asked. */
function scripted(values: number[]): RandomInt & { calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = [];
  const fn = ((min: number, max: number) => {
    calls.push([min, max]);
    if (values.length === 0) throw new Error('scripted random source ran out');
    const v = values.shift()!;
    assert.ok(v >= min && v <= max, `scripted ${v} outside [${min}, ${max}]`);
    return v;
  }) as RandomInt & { calls: Array<[number, number]> };
  fn.calls = calls;
  return fn;
}

function terms(input: string): DiceTerm[] {
  const parsed = parseDice(input, LIMITS);
  assert.ok(parsed.ok, `${input}: ${parsed.ok ? '' : parsed.error}`);
  return parsed.terms;
}

function parseError(input: string, limits = LIMITS): string {
  const parsed = parseDice(input, limits);
  assert.equal(parsed.ok, false, `${input} should not parse`);
  return parsed.ok ? '' : parsed.error;
}

describe('dice notation parser', () => {
  it('reads NdS, a bare dS as one die, and upper-case D', () => {
    assert.deepEqual(terms('2d6'), [{ kind: 'dice', sign: 1, count: 2, sides: 6 }]);
    assert.deepEqual(terms('d20'), [{ kind: 'dice', sign: 1, count: 1, sides: 20 }]);
    assert.deepEqual(terms('3D8'), [{ kind: 'dice', sign: 1, count: 3, sides: 8 }]);
  });

  it('reads modifiers and several terms, with or without spaces', () => {
    assert.deepEqual(terms('2d6+1d4-2'), [
      { kind: 'dice', sign: 1, count: 2, sides: 6 },
      { kind: 'dice', sign: 1, count: 1, sides: 4 },
      { kind: 'modifier', sign: -1, value: 2 },
    ]);
    assert.deepEqual(terms(' 3d6 + 5 '), [
      { kind: 'dice', sign: 1, count: 3, sides: 6 },
      { kind: 'modifier', sign: 1, value: 5 },
    ]);
    assert.deepEqual(terms('5 - d4'), [
      { kind: 'modifier', sign: 1, value: 5 },
      { kind: 'dice', sign: -1, count: 1, sides: 4 },
    ]);
  });

  it('rejects garbage with the dice-notation hint', () => {
    for (const bad of ['abc', '', '   ', '2d', 'd', '2x6', '2d6 3', '2d6+', '++2d6', '2d6*2', '5', '5+3', '2d6d6', '1.5d6', 'd20 for damage']) {
      assert.equal(parseError(bad), NOT_DICE, JSON.stringify(bad));
    }
    assert.match(NOT_DICE, /not dice notation, e\.g\. 2d6\+3/);
  });

  it('rejects zero dice and zero sides', () => {
    assert.match(parseError('0d6'), /at least one die/);
    assert.match(parseError('2d0'), /at least one side/);
  });

  it('caps the dice in all terms together and the sides of any die', () => {
    assert.ok(parseDice('100d1000', LIMITS).ok, 'exactly at both caps');
    assert.ok(parseDice('50d6+50d6', LIMITS).ok);
    assert.equal(parseError('50d6+51d6'), 'Too many dice (101; at most 100 in total).');
    assert.equal(parseError('d1001'), 'Too many sides (1001; at most 1000 per die).');
    assert.equal(parseError('1000d1000000'), 'Too many dice (1000; at most 100 in total) and too many sides (1000000; at most 1000 per die).');
    assert.match(parseError('99999999999999999999999d6'), /^Too many dice \(more than that; at most 100 in total\)\.$/);
    assert.match(parseError('d6', { maxDice: 100, maxSides: 4 }), /Too many sides \(6; at most 4 per die\)/);
    assert.match(parseError('d6+9999999'), /Modifiers can be at most 1000000/);
    assert.match(
      parseError(
        Array(MAX_TERMS + 1)
          .fill('d6')
          .join('+'),
      ),
      /Too many terms: at most 20/,
    );
  });
});

describe('dice roller', () => {
  it('rolls each die from 1 to its sides and totals the signed terms', () => {
    const random = scripted([3, 5, 2]);
    const roll = rollDice(terms('2d6+1d4-2'), random);
    assert.deepEqual(random.calls, [
      [1, 6],
      [1, 6],
      [1, 4],
    ]);
    assert.deepEqual(
      roll.terms.map((t) => t.rolls),
      [[3, 5], [2], []],
    );
    assert.equal(roll.total, 8);
    assert.equal(formatRoll(roll), '2d6 [3, 5] + 1d4 [2] - 2 = 8');
  });

  it('shows a bare die as 1dS, subtracts negative dice, and handles a leading minus', () => {
    assert.equal(formatRoll(rollDice(terms('d20'), scripted([17]))), '1d20 [17] = 17');
    assert.equal(formatRoll(rollDice(terms('3d6 + 5'), scripted([1, 2, 3]))), '3d6 [1, 2, 3] + 5 = 11');
    assert.equal(formatRoll(rollDice(terms('-1d4+10'), scripted([4]))), '-1d4 [4] + 10 = 6');
    assert.equal(formatRoll(rollDice(terms('1d6-2d6'), scripted([1, 6, 6]))), '1d6 [1] - 2d6 [6, 6] = -11');
  });

  it('stays within bounds with the real random source', () => {
    for (let i = 0; i < 200; i++) {
      const roll = rollDice(terms('10d6'), secureRandom);
      assert.ok(roll.total >= 10 && roll.total <= 60);
      assert.ok(roll.terms[0].rolls.every((r) => Number.isInteger(r) && r >= 1 && r <= 6));
    }
  });
});

describe('!random ranges', () => {
  it('accepts whole numbers, negative ones and equal bounds', () => {
    assert.deepEqual(parseRange('1', '100'), { ok: true, min: 1, max: 100 });
    assert.deepEqual(parseRange('-5', '+5'), { ok: true, min: -5, max: 5 });
    assert.deepEqual(parseRange('7', '7'), { ok: true, min: 7, max: 7 });
  });

  it('refuses min above max and non-integers, in plain words', () => {
    assert.deepEqual(parseRange('5', '1'), { ok: false, error: 'min must not be greater than max (5 > 1).' });
    assert.deepEqual(parseRange('1.5', '3'), { ok: false, error: '"1.5" is not a whole number.' });
    assert.deepEqual(parseRange('1', 'ten'), { ok: false, error: '"ten" is not a whole number.' });
    const huge = parseRange('1', '99999999999999999999');
    assert.equal(huge.ok, false);
    assert.match(huge.ok ? '' : huge.error, /is too large/);
  });

  it('the real source draws from [min, max] including both ends', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const n = secureRandom(-1, 1);
      assert.ok([-1, 0, 1].includes(n));
      seen.add(n);
    }
    assert.deepEqual([...seen].sort(), [-1, 0, 1]);
    const big = secureRandom(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    assert.ok(Number.isSafeInteger(big));
  });
});

describe('rock, paper, scissors', () => {
  it('decides every pairing', () => {
    assert.equal(rpsOutcome('rock', 'scissors'), 'win');
    assert.equal(rpsOutcome('paper', 'rock'), 'win');
    assert.equal(rpsOutcome('scissors', 'paper'), 'win');
    assert.equal(rpsOutcome('rock', 'paper'), 'lose');
    assert.equal(rpsOutcome('paper', 'scissors'), 'lose');
    assert.equal(rpsOutcome('scissors', 'rock'), 'lose');
    for (const c of ['rock', 'paper', 'scissors'] as const) assert.equal(rpsOutcome(c, c), 'draw');
  });

  it('reads choices case-insensitively and rejects others', () => {
    assert.equal(parseRps('Rock'), 'rock');
    assert.equal(parseRps(' SCISSORS '), 'scissors');
    assert.equal(parseRps('lizard'), null);
    assert.equal(parseRps(''), null);
  });
});

describe('champion and agent lists', () => {
  const champions: Champion[] = [
    { name: 'Ahri', lanes: ['mid'] },
    { name: 'Jinx', lanes: ['bot'] },
    { name: 'Pantheon', lanes: ['support', 'top', 'mid'] },
  ];
  const agents: Agent[] = [
    { name: 'Jett', role: 'duelist' },
    { name: 'Sage', role: 'sentinel' },
  ];

  it('filters champions by lane (a champion can play several) and keeps all without one', () => {
    assert.deepEqual(
      championsFor(champions, 'mid').map((c) => c.name),
      ['Ahri', 'Pantheon'],
    );
    assert.deepEqual(championsFor(champions, 'jungle'), []);
    assert.equal(championsFor(champions).length, 3);
  });

  it('reads lanes and roles with common aliases, and rejects unknown ones', () => {
    assert.equal(parseLane('MID'), 'mid');
    assert.equal(parseLane('adc'), 'bot');
    assert.equal(parseLane('jg'), 'jungle');
    assert.equal(parseLane('supp'), 'support');
    assert.equal(parseLane('nowhere'), null);
    assert.equal(parseRole('Duelist'), 'duelist');
    assert.equal(parseRole('sentinels'), 'sentinel');
    assert.equal(parseRole('healer'), null);
  });

  it('filters agents by role', () => {
    assert.deepEqual(
      agentsFor(agents, 'sentinel').map((a) => a.name),
      ['Sage'],
    );
    assert.deepEqual(agentsFor(agents, 'controller'), []);
    assert.equal(agentsFor(agents).length, 2);
  });

  it('uses the configured list when it has entries, else the shipped one', () => {
    assert.equal(listOrDefault([], shippedChampions), shippedChampions);
    assert.equal(listOrDefault(undefined, shippedChampions), shippedChampions);
    assert.equal(listOrDefault(champions, shippedChampions), champions);
  });

  it('picks with the injected random source', () => {
    assert.equal(pick(champions, scripted([2])).name, 'Pantheon');
    assert.equal(pick(champions, scripted([0])).name, 'Ahri');
  });

  it('ships real, complete lists', () => {
    const lanes = new Set(['top', 'jungle', 'mid', 'bot', 'support']);
    assert.ok(shippedChampions.length >= 150, `${shippedChampions.length} champions`);
    assert.equal(new Set(shippedChampions.map((c) => c.name)).size, shippedChampions.length, 'no duplicate champions');
    for (const c of shippedChampions) assert.ok(c.lanes.length > 0 && c.lanes.every((l) => lanes.has(l)), c.name);
    for (const lane of lanes) assert.ok(championsFor(shippedChampions, lane as 'mid').length >= 15, `champions for ${lane}`);
    for (const name of ['Ahri', 'Jinx', 'Lee Sin', "Kai'Sa", 'Ambessa', 'Mel', 'Yunara'])
      assert.ok(
        shippedChampions.some((c) => c.name === name),
        name,
      );
    assert.ok(shippedAgents.length >= 28, `${shippedAgents.length} agents`);
    const roles = new Set(['duelist', 'initiator', 'controller', 'sentinel']);
    for (const a of shippedAgents) assert.ok(roles.has(a.role), a.name);
    for (const name of ['Jett', 'Clove', 'Vyse', 'Tejo', 'Waylay', 'Veto'])
      assert.ok(
        shippedAgents.some((a) => a.name === name),
        name,
      );
    assert.equal(eightBall.length, 20);
    assert.ok(fortunes.length >= 20);
  });
});

describe('uptime and health probes', () => {
  it('formats durations without leading zero units', () => {
    assert.equal(formatDuration(0), '0 s');
    assert.equal(formatDuration(59_999), '59 s');
    assert.equal(formatDuration(61_000), '1 min 1 s');
    assert.equal(formatDuration(3_600_000), '1 h 0 min 0 s');
    assert.equal(formatDuration(90_061_000), '1 d 1 h 1 min 1 s');
  });

  it('reports a listening RCON port up and a stopped one down (connection refused)', async () => {
    const rcon = await FakeRcon.start();
    const up = await probeTcp('127.0.0.1', rcon.port, 2000);
    assert.equal(up.up, true);
    assert.equal(rcon.connections, 1);
    await rcon.stop();
    assert.deepEqual(await probeTcp('127.0.0.1', rcon.port, 2000), { up: false, reason: 'connection refused' });
  });

  it('reports an Ollama server up with its version, and down with the reason', async () => {
    const ollama = await FakeOllama.start();
    assert.deepEqual(await probeOllama(ollama.url + '/', 2000), { up: true, detail: 'version 0.12.6' });
    assert.deepEqual(
      ollama.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /api/version'],
    );
    assert.deepEqual(await probeOllama(ollama.url + '/nested', 2000), { up: false, reason: 'HTTP 404' });
    await ollama.stop();
    assert.deepEqual(await probeOllama(ollama.url, 2000), { up: false, reason: 'connection refused' });
    assert.deepEqual(await probeOllama('not a url', 2000), { up: false, reason: '"not a url" is not an http(s) URL' });
  });
});
