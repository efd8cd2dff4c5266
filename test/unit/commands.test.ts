import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { helpText, matchCommand, usage } from '../../src/sdk/commands.ts';
import type { CommandDefinition } from '../../src/sdk/index.ts';

const noop = () => {};

function def(partial: Omit<CommandDefinition, 'handler' | 'description'> & { description?: string }): CommandDefinition {
  return { description: `${partial.name} things`, handler: noop, ...partial };
}

/** Keyed the way InstanceContext keys them: lower-cased name and every alias. */
function registry(...defs: CommandDefinition[]): Map<string, CommandDefinition> {
  const map = new Map<string, CommandDefinition>();
  for (const d of defs) for (const n of [d.name, ...(d.aliases ?? [])]) map.set(n.toLowerCase(), d);
  return map;
}

const ping = def({ name: 'ping' });
const echo = def({ name: 'echo', aliases: ['say'], args: [{ name: 'text', required: true, rest: true }] });
const remind = def({
  name: 'remind',
  args: [
    { name: 'when', required: true },
    { name: 'what', rest: true },
  ],
});
const move = def({ name: 'move', args: [{ name: 'from', required: true }, { name: 'to', required: true }, { name: 'note' }] });
const commands = registry(ping, echo, remind, move);

describe('matchCommand', () => {
  test('text without the prefix is not a command', () => {
    assert.deepEqual(matchCommand('!', 'ping', commands), { kind: 'none' });
    assert.deepEqual(matchCommand('!', ' !ping', commands), { kind: 'none' });
    assert.deepEqual(matchCommand('!', 'hello !ping', commands), { kind: 'none' });
  });

  test('a bare prefix or a space after the prefix is not a command', () => {
    assert.deepEqual(matchCommand('!', '!', commands), { kind: 'none' });
    assert.deepEqual(matchCommand('!', '! ping', commands), { kind: 'none' });
  });

  test('prefix followed by a known name matches with empty args', () => {
    const m = matchCommand('!', '!ping', commands);
    assert.equal(m.kind, 'ok');
    assert.ok(m.kind === 'ok');
    assert.equal(m.command, ping);
    assert.deepEqual(m.args, {});
    assert.equal(m.text, '');
  });

  test('multi-character prefixes work and the other prefix does not', () => {
    assert.equal(matchCommand('bot:', 'bot:ping', commands).kind, 'ok');
    assert.equal(matchCommand('bot:', '!ping', commands).kind, 'none');
    assert.equal(matchCommand('?', '?ping', commands).kind, 'ok');
  });

  test('command names are case-insensitive and reported lower-cased when unknown', () => {
    const m = matchCommand('!', '!PiNg', commands);
    assert.ok(m.kind === 'ok');
    assert.equal(m.command, ping);
    assert.deepEqual(matchCommand('!', '!NoSuch thing', commands), { kind: 'unknown', name: 'nosuch' });
  });

  test('aliases resolve to the same definition', () => {
    const m = matchCommand('!', '!say hi there', commands);
    assert.ok(m.kind === 'ok');
    assert.equal(m.command, echo);
    assert.deepEqual(m.args, { text: 'hi there' });
  });

  test('a rest argument takes the whole remaining line verbatim (quotes kept)', () => {
    const m = matchCommand('!', '!echo   "a b"  c\nd  ', commands);
    assert.ok(m.kind === 'ok');
    assert.deepEqual(m.args, { text: '"a b"  c\nd' });
    assert.equal(m.text, '"a b"  c\nd');
  });

  test('the name may be followed by a newline', () => {
    const m = matchCommand('!', '!echo\nline two', commands);
    assert.ok(m.kind === 'ok');
    assert.deepEqual(m.args, { text: 'line two' });
  });

  test('positional arguments honour double and single quotes', () => {
    const m = matchCommand('!', `!move "New York" 'San Jose' now please`, commands);
    assert.ok(m.kind === 'ok');
    assert.deepEqual(m.args, { from: 'New York', to: 'San Jose', note: 'now' });
    assert.equal(m.text, `"New York" 'San Jose' now please`);
  });

  test('an apostrophe inside a word is not a quote', () => {
    const m = matchCommand('!', `!move don't stop`, commands);
    assert.ok(m.kind === 'ok');
    assert.deepEqual(m.args, { from: "don't", to: 'stop' });
  });

  test('positional then rest', () => {
    const m = matchCommand('!', '!remind 10m buy   milk', commands);
    assert.ok(m.kind === 'ok');
    assert.deepEqual(m.args, { when: '10m', what: 'buy   milk' });
  });

  test('optional arguments that are missing are absent, not empty', () => {
    const m = matchCommand('!', '!remind 10m', commands);
    assert.ok(m.kind === 'ok');
    assert.deepEqual(m.args, { when: '10m' });
    assert.equal('what' in m.args, false);
  });

  test('missing required arguments give a usage match naming them', () => {
    const none = matchCommand('!', '!move', commands);
    assert.ok(none.kind === 'usage');
    assert.equal(none.command, move);
    assert.equal(none.problem, 'missing <from>, <to>');

    const one = matchCommand('!', '!move here', commands);
    assert.ok(one.kind === 'usage');
    assert.equal(one.problem, 'missing <to>');

    const rest = matchCommand('!', '!echo   ', commands);
    assert.ok(rest.kind === 'usage');
    assert.equal(rest.problem, 'missing <text>');
  });

  test('an empty quoted string counts as a given argument', () => {
    const m = matchCommand('!', '!move "" there', commands);
    assert.ok(m.kind === 'ok');
    assert.deepEqual(m.args, { from: '', to: 'there' });
  });
});

describe('usage and helpText', () => {
  test('usage marks required args with <> and optional/rest with []', () => {
    assert.equal(usage('!', ping), '!ping');
    assert.equal(usage('!', move), '!move <from> <to> [note]');
    assert.equal(usage('?', remind), '?remind <when> [what]');
  });

  test('help lists one line per command, sorted by name, with the prefix and description', () => {
    const text = helpText('!', [remind, ping, echo, move]);
    assert.deepEqual(text.split('\n'), ['!echo <text> — echo things', '!move <from> <to> [note] — move things', '!ping — ping things', '!remind <when> [what] — remind things']);
  });

  test('help of no commands is empty', () => {
    assert.equal(helpText('!', []), '');
  });
});
