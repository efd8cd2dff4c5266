/**
 * Which stored password hashes Trellis accepts. Kept apart from password.ts so
 * the config schema can check a hash's form without loading the native
 * argon2 binding.
 */

export const MIN_BCRYPT_COST = 12;
const HINT = 'generate one with: trellis hash-password';

const ARGON2ID = /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

export type PasswordHashKind = 'argon2id' | 'bcrypt';

export function passwordHashKind(hash: string): PasswordHashKind | null {
  if (ARGON2ID.test(hash)) return 'argon2id';
  if (BCRYPT.test(hash)) return 'bcrypt';
  return null;
}

/**
 * Why `hash` is not acceptable as a stored admin password hash, or null.
 * Never quotes the value: an operator may have pasted the password itself.
 */
export function passwordHashProblem(hash: string): string | null {
  if (ARGON2ID.test(hash)) return null;
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    if (cost < MIN_BCRYPT_COST) {
      return `bcrypt cost ${cost} is below the minimum of ${MIN_BCRYPT_COST}; ${HINT}`;
    }
    return null;
  }
  if (/^\$argon2(i|d)\$/.test(hash)) return `must be an argon2id hash, not argon2i/argon2d; ${HINT}`;
  if (hash.startsWith('$argon2id$') || hash.startsWith('$2')) {
    return `malformed password hash (truncated or altered?); ${HINT}`;
  }
  return `not a password hash (plain-text passwords are not accepted); ${HINT}`;
}
