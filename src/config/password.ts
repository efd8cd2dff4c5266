/**
 * Admin password hashing. New hashes are always argon2id; bcrypt hashes are
 * accepted in the config (operators migrating from other tools have them) and
 * verified with bcryptjs.
 */
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { passwordHashKind } from './password-policy.ts';
import bcrypt from 'bcryptjs';

// `Algorithm` is an ambient const enum, which type stripping cannot inline.
const ARGON2ID = 2 as Algorithm;

export const MIN_PASSWORD_LENGTH = 12;

/** argon2id with the library's defaults (19 MiB, 2 passes: OWASP's baseline). */
export async function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: ARGON2ID });
}

/** False for a wrong password; throws only if `storedHash` is not a supported hash at all. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  switch (passwordHashKind(storedHash)) {
    case 'argon2id':
      return verify(storedHash, password);
    case 'bcrypt':
      return bcrypt.compare(password, storedHash);
    default:
      throw new Error('unsupported password hash format (expected argon2id or bcrypt); generate one with: trellis hash-password');
  }
}
