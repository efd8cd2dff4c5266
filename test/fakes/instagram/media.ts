/**
 * Real, tiny media files for the fake Instagram, generated in code:
 *  - `jpeg()`: a baseline greyscale JFIF of the exact width/height (every 8x8 block flat; decodes with
 *    libjpeg/Pillow), tagged with a COM segment so two images of the same size never share bytes;
 *  - `mp4()`: an ISO BMFF file (ftyp, moov with one H.264 video track, mdat) holding a single decodable
 *    IDR frame made of I_PCM macroblocks, `duration` seconds long, padded with a `free` box to `size`.
 */
import { Buffer } from 'node:buffer';

// ---------------------------------------------------------------- JPEG

function segment(marker: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xff00 | marker, 0);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

/**
 * `level` 0..7 shifts the grey of the first block so images also differ visually; `size` pads the
 * file with COM segments to exactly that many bytes (when larger than the natural size).
 */
export function jpeg(width: number, height: number, comment: string, level = 0, size = 0): Buffer {
  if (width < 1 || height < 1 || width > 65535 || height > 65535) throw new Error(`bad jpeg size ${width}x${height}`);
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  // DC table: category 0 -> '0', category 4 -> '10'. AC table: EOB (0x00) -> '0'.
  const dht = (cls: number, counts: number[], symbols: number[]): Buffer => {
    const c = Buffer.alloc(16);
    counts.forEach((n, i) => (c[i] = n));
    return segment(0xc4, Buffer.concat([Buffer.from([cls]), c, Buffer.from(symbols)]));
  };
  const sof = Buffer.alloc(9);
  sof[0] = 8;
  sof.writeUInt16BE(height, 1);
  sof.writeUInt16BE(width, 3);
  sof.set([1, 1, 0x11, 0], 5);
  // Entropy data: first block DC diff = level (category 4 value 8..15 -> code '10' + 4 bits), then
  // '0' (DC diff 0) '0' (EOB) for every block; pad the last byte with 1 bits.
  const bits: number[] = [];
  const lvl = 8 + (level & 7);
  bits.push(1, 0, (lvl >> 3) & 1, (lvl >> 2) & 1, (lvl >> 1) & 1, lvl & 1, 0);
  for (let i = 1; i < blocks; i++) bits.push(0, 0);
  while (bits.length % 8) bits.push(1);
  const scan = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < bits.length; i++) if (bits[i]) scan[i >> 3] |= 0x80 >> (i & 7);
  const dqt = Buffer.alloc(65, 1);
  dqt[0] = 0;
  dqt[1] = 8; // DC quantiser: a DC diff of d moves the block mean by d grey levels
  const build = (text: string, padding: Buffer[]) =>
    Buffer.concat([
      Buffer.from([0xff, 0xd8]),
      segment(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0])),
      segment(0xfe, Buffer.from(text, 'latin1')),
      ...padding,
      segment(0xdb, dqt),
      segment(0xc0, sof),
      dht(0x00, [1, 1], [0, 4]),
      dht(0x10, [1], [0]),
      segment(0xda, Buffer.from([1, 1, 0, 0, 63, 0])),
      scan,
      Buffer.from([0xff, 0xd9]),
    ]);
  const natural = build(comment, []);
  let rest = size - natural.length;
  if (rest <= 0) return natural;
  if (rest < 4) return build(comment + ' '.repeat(rest), []);
  const padding: Buffer[] = [];
  while (rest > 0) {
    let n = Math.min(rest, 65537); // a COM segment is 4 + up to 65533 bytes
    if (rest - n > 0 && rest - n < 4) n -= 4;
    padding.push(segment(0xfe, Buffer.alloc(n - 4, 0x20)));
    rest -= n;
  }
  return build(comment, padding);
}

// ---------------------------------------------------------------- H.264

class BitWriter {
  private bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) & 1);
    return this;
  }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    return this.u(len, 0).u(len + 1, v + 1);
  }
  se(v: number): this {
    return this.ue(v <= 0 ? -2 * v : 2 * v - 1);
  }
  align(bit: 0 | 1): this {
    while (this.bits.length % 8) this.bits.push(bit);
    return this;
  }
  bytes(buf: Buffer): this {
    if (this.bits.length % 8) throw new Error('unaligned');
    for (const b of buf) this.u(8, b);
    return this;
  }
  trailing(): Buffer {
    this.bits.push(1);
    this.align(0);
    const out = Buffer.alloc(this.bits.length / 8);
    for (let i = 0; i < this.bits.length; i++) if (this.bits[i]) out[i >> 3] |= 0x80 >> (i & 7);
    return out;
  }
}

/** NAL unit: header byte + RBSP with emulation-prevention bytes. */
function nal(header: number, rbsp: Buffer): Buffer {
  const out: number[] = [header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

function h264(width: number, height: number): { sps: Buffer; pps: Buffer; idr: Buffer } {
  const mbw = Math.ceil(width / 16);
  const mbh = Math.ceil(height / 16);
  const cropRight = (mbw * 16 - width) / 2;
  const cropBottom = (mbh * 16 - height) / 2;
  const sps = new BitWriter()
    .u(8, 66)
    .u(8, 0xc0)
    .u(8, 40)
    .ue(0) // constrained baseline, level 4.0, sps 0
    .ue(0)
    .ue(2)
    .ue(1)
    .u(1, 0) // log2_max_frame_num-4, poc type 2, 1 ref frame, no gaps
    .ue(mbw - 1)
    .ue(mbh - 1)
    .u(1, 1)
    .u(1, 1); // size in macroblocks, frame_mbs_only, direct_8x8
  if (cropRight || cropBottom) sps.u(1, 1).ue(0).ue(cropRight).ue(0).ue(cropBottom);
  else sps.u(1, 0);
  sps.u(1, 0); // no VUI
  const pps = new BitWriter().ue(0).ue(0).u(1, 0).u(1, 0).ue(0).ue(0).ue(0).u(1, 0).u(2, 0).se(0).se(0).se(0).u(1, 0).u(1, 0).u(1, 0);
  // IDR slice: every macroblock I_PCM (mb_type 25) with raw 4:2:0 samples.
  const slice = new BitWriter().ue(0).ue(7).ue(0).u(4, 0).ue(0).u(1, 0).u(1, 0).se(0);
  const luma = Buffer.alloc(256, 0x6e);
  const chroma = Buffer.concat([Buffer.alloc(64, 0xa0), Buffer.alloc(64, 0x5a)]);
  for (let i = 0; i < mbw * mbh; i++) slice.ue(25).align(0).bytes(luma).bytes(chroma);
  return { sps: nal(0x67, sps.trailing()), pps: nal(0x68, pps.trailing()), idr: nal(0x65, slice.trailing()) };
}

// ---------------------------------------------------------------- MP4

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}
function full(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}
function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}
function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16BE(v & 0xffff, 2 * i));
  return b;
}
const MATRIX = u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000);

/** A playable one-frame H.264 MP4 (no audio track). */
export function mp4(width: number, height: number, durationSeconds: number, label: string, size = 0): Buffer {
  const w = width + (width % 2);
  const h = height + (height % 2);
  const ms = Math.max(1, Math.round(durationSeconds * 1000));
  const { sps, pps, idr } = h264(w, h);
  const sample = Buffer.concat([u32(idr.length), idr]);
  const avcC = box('avcC', Buffer.from([1, 66, 0xc0, 40, 0xff, 0xe1]), u16(sps.length), sps, Buffer.from([1]), u16(pps.length), pps);
  const compressor = Buffer.alloc(32);
  const avc1 = box('avc1', Buffer.alloc(6), u16(1, 0, 0), u32(0, 0, 0), u16(w, h), u32(0x480000, 0x480000, 0), u16(1), compressor, u16(0x18, 0xffff), avcC);
  const ftyp = box('ftyp', Buffer.from('isom', 'latin1'), u32(0x200), Buffer.from('isomiso2avc1mp41', 'latin1'));
  const moov = (chunkOffset: number): Buffer =>
    box(
      'moov',
      full('mvhd', 0, 0, u32(0, 0, 1000, ms, 0x10000), u16(0x100), Buffer.alloc(10), MATRIX, Buffer.alloc(24), u32(2)),
      box(
        'trak',
        full('tkhd', 0, 3, u32(0, 0, 1, 0, ms, 0, 0), u16(0, 0, 0, 0), MATRIX, u32(w * 0x10000, h * 0x10000)),
        box(
          'mdia',
          full('mdhd', 0, 0, u32(0, 0, 1000, ms), u16(0x55c4, 0)),
          full('hdlr', 0, 0, u32(0), Buffer.from('vide', 'latin1'), Buffer.alloc(12), Buffer.from('VideoHandler\0', 'latin1')),
          box(
            'minf',
            full('vmhd', 0, 1, Buffer.alloc(8)),
            box('dinf', full('dref', 0, 0, u32(1), full('url ', 0, 1))),
            box(
              'stbl',
              full('stsd', 0, 0, u32(1), avc1),
              full('stts', 0, 0, u32(1, 1, ms)),
              full('stss', 0, 0, u32(1, 1)),
              full('stsc', 0, 0, u32(1, 1, 1, 1)),
              full('stsz', 0, 0, u32(0, 1, sample.length)),
              full('stco', 0, 0, u32(1, chunkOffset)),
            ),
          ),
        ),
      ),
    );
  const offset = ftyp.length + moov(0).length + 8;
  const body = Buffer.concat([ftyp, moov(offset), box('mdat', sample)]);
  const note = Buffer.from(label, 'latin1');
  const pad = Math.max(8 + note.length, size - body.length);
  const free = box('free', note, Buffer.alloc(pad - 8 - note.length));
  return Buffer.concat([body, free]);
}
