/** Minecraft (Java edition) player names, and the server's answers to `whitelist add` in plain words. */

export const NAME_MIN = 3;
export const NAME_MAX = 16;

export type NameCheck = { ok: true; name: string } | { ok: false; problem: string };

function shown(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Checks the text given to !minecraft: one name of 3–16 letters, digits or underscores. */
export function validateMinecraftName(input: string): NameCheck {
  const name = input.trim();
  if (name === '') return { ok: false, problem: 'Give a Minecraft name, for example: Steve_42.' };
  if (/\s/.test(name)) return { ok: false, problem: `Give one Minecraft name only (no spaces): "${shown(name)}" is not one name.` };
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    return { ok: false, problem: `"${shown(name)}" is not a valid Minecraft name: use only letters (A–Z), digits and underscores.` };
  }
  if (name.length < NAME_MIN || name.length > NAME_MAX) {
    return { ok: false, problem: `"${shown(name)}" is not a valid Minecraft name: names are ${NAME_MIN} to ${NAME_MAX} characters long (this one has ${name.length}).` };
  }
  return { ok: true, name };
}

/** Removes Minecraft's § formatting codes (colours, bold…) that RCON answers may carry. */
export function stripFormatting(text: string): string {
  return text.replace(/§[0-9A-FK-ORa-fk-or]/g, '');
}

export type WhitelistOutcome = 'added' | 'already' | 'unknown_player' | 'other';

/** What a `whitelist add <name>` answer means, and how to tell the person. */
export function describeWhitelistAnswer(name: string, raw: string): { outcome: WhitelistOutcome; text: string } {
  const answer = stripFormatting(raw).trim();
  if (/^Added \S+ to the whitelist/i.test(answer)) return { outcome: 'added', text: `${name} is now on the Minecraft server's whitelist.` };
  if (/already whitelisted/i.test(answer)) return { outcome: 'already', text: `${name} is already on the Minecraft server's whitelist.` };
  if (/does not exist/i.test(answer)) {
    return { outcome: 'unknown_player', text: `The Minecraft server found no player named ${name}. Check the spelling of the name.` };
  }
  if (answer === '') return { outcome: 'other', text: `The Minecraft server took the request for ${name} but gave no answer.` };
  return { outcome: 'other', text: `The Minecraft server answered: ${answer}` };
}
