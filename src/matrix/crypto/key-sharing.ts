/** Which devices of the room's members get the bot's room keys (see docs/e2ee.md); the config schema offers exactly these. */
export const KEY_SHARING = ['all', 'cross_signed'] as const;
export type KeySharing = (typeof KEY_SHARING)[number];
