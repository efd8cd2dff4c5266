/**
 * Command parsing shared by the daemon (src/core/plugin-context.ts) and the
 * plugin test kit (src/sdk/testing.ts), so both answer a message the same
 * way. Pure functions; not part of the `trellis/sdk` surface plugins import.
 */
import type { CommandDefinition } from './index.ts';

export interface ParsedCommand {
  command: CommandDefinition;
  args: Record<string, string>;
  text: string;
}

export type CommandMatch = { kind: 'none' } | { kind: 'unknown'; name: string } | { kind: 'usage'; command: CommandDefinition; problem: string } | ({ kind: 'ok' } & ParsedCommand);

/** Splits on whitespace but keeps "quoted phrases" together. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of text.matchAll(re)) tokens.push(m[1] ?? m[2] ?? m[3]);
  return tokens;
}

export function usage(prefix: string, command: CommandDefinition): string {
  const args = (command.args ?? []).map((a) => (a.required ? `<${a.name}>` : `[${a.name}]`)).join(' ');
  return `${prefix}${command.name}${args ? ' ' + args : ''}`;
}

export function matchCommand(prefix: string, body: string, commands: ReadonlyMap<string, CommandDefinition>): CommandMatch {
  if (!body.startsWith(prefix)) return { kind: 'none' };
  const rest = body.slice(prefix.length);
  const nameMatch = /^(\S+)\s*([\s\S]*)$/.exec(rest);
  if (!nameMatch) return { kind: 'none' };
  const name = nameMatch[1].toLowerCase();
  const text = nameMatch[2].trim();
  const command = commands.get(name);
  if (!command) return { kind: 'unknown', name };
  const args: Record<string, string> = {};
  const defs = command.args ?? [];
  let remaining = text;
  for (const def of defs) {
    if (def.rest) {
      if (remaining) args[def.name] = remaining;
      remaining = '';
      break;
    }
    const tokens = tokenize(remaining);
    if (tokens.length === 0) break;
    args[def.name] = tokens[0];
    const m = /^\s*("[^"]*"|'[^']*'|\S+)\s*/.exec(remaining);
    remaining = m ? remaining.slice(m[0].length) : '';
  }
  const missing = defs.filter((d) => d.required && args[d.name] === undefined);
  if (missing.length) return { kind: 'usage', command, problem: `missing ${missing.map((m) => `<${m.name}>`).join(', ')}` };
  return { kind: 'ok', command, args, text };
}

export function helpText(prefix: string, commands: Iterable<CommandDefinition>): string {
  const lines = [...commands].sort((a, b) => a.name.localeCompare(b.name)).map((c) => `${usage(prefix, c)} — ${c.description}`);
  return lines.join('\n');
}

/** The reply to a command whose required arguments are missing. */
export function usageReply(prefix: string, command: CommandDefinition, problem: string): string {
  return `Usage: ${usage(prefix, command)} (${problem})`;
}

/** The formatted body of the generated `help` reply. */
export function helpHtml(text: string): string {
  return `<pre>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`;
}
