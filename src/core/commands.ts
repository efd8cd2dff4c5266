/** Command parsing lives in the SDK (src/sdk/commands.ts) so the plugin test kit shares it; re-exported for core. */
export { helpHtml, helpText, matchCommand, usage, usageReply, type CommandMatch, type ParsedCommand } from '../sdk/commands.ts';
