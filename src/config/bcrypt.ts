/**
 * bcrypt verification ($2a$/$2b$/$2y$), so operators can keep an existing
 * bcrypt admin hash. No bcrypt package is installed and new hashes are
 * argon2id, so this only ever verifies; it runs once per login.
 *
 * Blowfish's initial P-array and S-boxes are the hexadecimal digits of pi;
 * they are computed once (Machin's formula, BigInt) instead of pasting 4 KB of
 * constants into the source.
 */
import { timingSafeEqual } from 'node:crypto';

const ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const MAGIC = 'OrpheanBeholderScryDoubt';
const BCRYPT = /^\$2([aby])\$(\d{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;
const WORDS = 18 + 4 * 256;

let piWords: Uint32Array | undefined;

function initialState(): Uint32Array {
  piWords ??= computePiWords(WORDS);
  return piWords.slice();
}

/** The first `count` 32-bit words of pi's fractional part. */
function computePiWords(count: number): Uint32Array {
  const guard = 64n;
  const bits = BigInt(count * 32) + guard;
  const one = 1n << bits;
  const arctanInverse = (x: bigint): bigint => {
    const x2 = x * x;
    let term = one / x;
    let sum = term;
    for (let k = 1n; term !== 0n; k++) {
      term /= x2;
      const part = term / (2n * k + 1n);
      sum = k % 2n === 1n ? sum - part : sum + part;
    }
    return sum;
  };
  const pi = 16n * arctanInverse(5n) - 4n * arctanInverse(239n);
  const fraction = (pi - 3n * one) >> guard;
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    words[i] = Number((fraction >> BigInt((count - 1 - i) * 32)) & 0xffffffffn);
  }
  return words;
}

// State layout: P[0..17] then S0..S3 (256 words each) in one array.
function f(state: Uint32Array, x: number): number {
  const a = state[18 + (x >>> 24)] as number;
  const b = state[274 + ((x >>> 16) & 0xff)] as number;
  const c = state[530 + ((x >>> 8) & 0xff)] as number;
  const d = state[786 + (x & 0xff)] as number;
  return ((((a + b) >>> 0) ^ c) + d) >>> 0;
}

function encipher(state: Uint32Array, block: Uint32Array, offset: number): void {
  let l = block[offset] as number;
  let r = block[offset + 1] as number;
  l ^= state[0] as number;
  for (let i = 1; i <= 16; i += 2) {
    r ^= f(state, l) ^ (state[i] as number);
    l ^= f(state, r) ^ (state[i + 1] as number);
  }
  block[offset] = (r ^ (state[17] as number)) >>> 0;
  block[offset + 1] = l >>> 0;
}

/** Reads 4 bytes big-endian, cycling over `data`. */
function streamWord(data: Uint8Array, cursor: { at: number }): number {
  let word = 0;
  for (let i = 0; i < 4; i++) {
    word = ((word << 8) | (data[cursor.at] as number)) >>> 0;
    cursor.at = (cursor.at + 1) % data.length;
  }
  return word;
}

function expandKey(state: Uint32Array, key: Uint8Array, salt: Uint8Array | null): void {
  const keyCursor = { at: 0 };
  for (let i = 0; i < 18; i++) state[i] = ((state[i] as number) ^ streamWord(key, keyCursor)) >>> 0;
  const saltCursor = { at: 0 };
  const block = new Uint32Array(2);
  for (let i = 0; i < WORDS; i += 2) {
    if (salt) {
      block[0] = (block[0] as number) ^ streamWord(salt, saltCursor);
      block[1] = (block[1] as number) ^ streamWord(salt, saltCursor);
    }
    encipher(state, block, 0);
    state[i] = block[0] as number;
    state[i + 1] = block[1] as number;
  }
}

function decode(text: string, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let buffer = 0;
  let bitCount = 0;
  let index = 0;
  for (const char of text) {
    buffer = (buffer << 6) | ALPHABET.indexOf(char);
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      if (index < bytes) out[index++] = (buffer >>> bitCount) & 0xff;
    }
  }
  return out;
}

function encode(data: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bitCount = 0;
  for (const byte of data) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bitCount += 8;
    while (bitCount >= 6) {
      bitCount -= 6;
      out += ALPHABET[(buffer >>> bitCount) & 0x3f];
    }
  }
  if (bitCount > 0) out += ALPHABET[(buffer << (6 - bitCount)) & 0x3f];
  return out;
}

/** The 31-character checksum part of a bcrypt hash. */
export function bcryptChecksum(password: string, cost: number, salt: Uint8Array): string {
  // The terminating NUL is part of the key; $2b$ caps the key at 72 bytes.
  const key = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]).subarray(0, 72);
  const state = initialState();
  expandKey(state, key, salt);
  for (let round = 0; round < 2 ** cost; round++) {
    expandKey(state, key, null);
    expandKey(state, salt, null);
  }
  const text = new Uint32Array(6);
  const magic = Buffer.from(MAGIC, 'latin1');
  for (let i = 0; i < 6; i++) text[i] = magic.readUInt32BE(i * 4);
  for (let round = 0; round < 64; round++) {
    for (let i = 0; i < 6; i += 2) encipher(state, text, i);
  }
  const raw = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) raw.writeUInt32BE(text[i] as number, i * 4);
  return encode(raw.subarray(0, 23));
}

export async function verifyBcrypt(hash: string, password: string): Promise<boolean> {
  const match = BCRYPT.exec(hash);
  if (!match) throw new Error('malformed bcrypt hash; generate a new one with: trellis hash-password');
  const cost = Number(match[2]);
  if (cost < 4 || cost > 31) throw new Error(`bcrypt cost ${cost} is out of range (4..31)`);
  const expected = Buffer.from(match[4] as string, 'latin1');
  const actual = Buffer.from(bcryptChecksum(password, cost, decode(match[3] as string, 16)), 'latin1');
  return timingSafeEqual(expected, actual);
}
