/**
 * Reading, validating and installing plugin archives (zip files with a
 * `plugin.yaml` at the root). Archives come from the network, so every size
 * and name is treated as hostile: limits are enforced on the bytes actually
 * inflated, never on what the headers claim.
 */
import { parseMaubotManifest } from './maubot-manifest.ts';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { parseManifest, PluginValidationError, unsafePathReason, type PluginManifest } from './manifest.ts';

export interface ArchiveLimits {
  /** Size of the zip file itself. */
  maxArchiveBytes: number;
  /** Entries in the central directory, folders included. */
  maxEntries: number;
  /** Sum of the inflated sizes of all entries. */
  maxTotalUncompressedBytes: number;
  /** Inflated size of any single entry. */
  maxEntryBytes: number;
  /** Inflated bytes per compressed byte above which an entry is treated as a zip bomb. */
  maxCompressionRatio: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxArchiveBytes: 50 * MiB,
  maxEntries: 2000,
  maxTotalUncompressedBytes: 200 * MiB,
  maxEntryBytes: 50 * MiB,
  maxCompressionRatio: 100,
});

// Tiny or highly repetitive files legitimately exceed any sane ratio (an empty
// JSON array, a run of spaces); the ratio only matters once output is large.
const RATIO_GRACE_BYTES = 1 * MiB;

export interface PluginArchive {
  manifest: PluginManifest;
  /** Regular files by their path inside the archive (folders are implied). */
  files: Map<string, Buffer>;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1000 * 1000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1000 / 1000).toFixed(1)} MB`;
}

function reject(problem: string): never {
  throw new PluginValidationError([problem]);
}

/** Translate yauzl's terse messages into something an operator can act on. */
function explainZipError(error: Error, entryName?: string): PluginValidationError {
  if (error instanceof PluginValidationError) return error;
  const message = error.message;
  const where = entryName ? `entry ${JSON.stringify(entryName)}: ` : '';
  if (/end of central directory record signature not found/i.test(message)) {
    return new PluginValidationError(['not a zip archive (no zip directory found; is the file truncated or another format?)']);
  }
  if (/too many bytes in the stream/i.test(message)) {
    return new PluginValidationError([`${where}holds more data than its header declares: the archive is corrupt or crafted (possible zip bomb)`]);
  }
  if (/not enough bytes in the stream/i.test(message)) {
    return new PluginValidationError([`${where}holds less data than its header declares: the archive is corrupt or truncated`]);
  }
  if (/size mismatch for stored file/i.test(message)) {
    return new PluginValidationError([`${where}header sizes disagree (${message}): the archive is corrupt or crafted`]);
  }
  return new PluginValidationError([`${where}not a readable zip archive: ${message}`]);
}

function openZip(data: Buffer): Promise<ZipFile> {
  return new Promise((resolvePromise, rejectPromise) => {
    // decodeStrings off: yauzl's own name check throws terse errors and
    // rewrites backslashes; we decode and judge names ourselves.
    yauzl.fromBuffer(data, { lazyEntries: true, validateEntrySizes: true, decodeStrings: false }, (error, zip) => {
      if (error) rejectPromise(explainZipError(error));
      else resolvePromise(zip);
    });
  });
}

function entryName(entry: Entry): string {
  // With decodeStrings off, fileName is the raw bytes; getFileNameLowLevel
  // honours the UTF-8 flag and the Info-ZIP Unicode path field, and strict
  // mode keeps backslashes so that we can reject them.
  const raw = entry.fileName as unknown as Buffer;
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
}

function entryKind(entry: Entry, name: string): 'file' | 'dir' | 'symlink' | 'special' {
  const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
  const type = mode & S_IFMT;
  // Checked whatever the "made by" platform claims: a symlink bit set by a
  // crafted archive must never be extracted as a link.
  if (type === S_IFLNK) return 'symlink';
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) return 'special';
  if (name.endsWith('/') || type === S_IFDIR) return 'dir';
  return 'file';
}

interface Budget {
  total: number;
}

async function readEntryData(zip: ZipFile, entry: Entry, name: string, limits: ArchiveLimits, budget: Budget): Promise<Buffer> {
  if (entry.isEncrypted()) reject(`entry ${JSON.stringify(name)}: encrypted entries are not supported`);
  if (!entry.canDecodeFileData()) {
    reject(`entry ${JSON.stringify(name)}: unsupported compression method ${entry.compressionMethod} (use deflate or store)`);
  }
  const stream: Readable = await new Promise((resolvePromise, rejectPromise) => {
    zip.openReadStream(entry, (error, s) => (error ? rejectPromise(explainZipError(error, name)) : resolvePromise(s)));
  });
  const ratioLimit = Math.max(entry.compressedSize * limits.maxCompressionRatio, RATIO_GRACE_BYTES);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      budget.total += chunk.length;
      if (size > limits.maxEntryBytes) {
        reject(`entry ${JSON.stringify(name)}: larger than the ${formatBytes(limits.maxEntryBytes)} limit for one file (stopped after ${formatBytes(size)})`);
      }
      if (size > ratioLimit) {
        reject(
          `entry ${JSON.stringify(name)}: inflates to more than ${limits.maxCompressionRatio}x its compressed size ` +
            `(${formatBytes(entry.compressedSize)} compressed, stopped after ${formatBytes(size)}): this looks like a zip bomb`,
        );
      }
      if (budget.total > limits.maxTotalUncompressedBytes) {
        reject(`archive: its files add up to more than the ${formatBytes(limits.maxTotalUncompressedBytes)} limit (stopped at entry ${JSON.stringify(name)})`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    throw explainZipError(error as Error, name);
  } finally {
    // Stops inflation at once when we bail out early.
    stream.destroy();
  }
  return Buffer.concat(chunks, size);
}

/**
 * Validate a plugin archive completely and return its manifest and files.
 * Throws {@link PluginValidationError} with a plain-words reason otherwise.
 */
export async function readPluginArchive(data: Buffer, limits?: Partial<ArchiveLimits>): Promise<PluginArchive> {
  const effective: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
  if (data.length > effective.maxArchiveBytes) {
    reject(`archive: ${formatBytes(data.length)} is larger than the ${formatBytes(effective.maxArchiveBytes)} limit`);
  }
  const zip = await openZip(data);
  try {
    if (zip.entryCount > effective.maxEntries) {
      reject(`archive: ${zip.entryCount} entries is more than the limit of ${effective.maxEntries}`);
    }
    const files = new Map<string, Buffer>();
    const seen = new Map<string, string>();
    const dirs = new Set<string>();
    const budget: Budget = { total: 0 };

    for await (const entry of zip.eachEntry()) {
      const name = entryName(entry);
      const reason = unsafePathReason(name);
      if (reason) reject(`entry ${JSON.stringify(name)}: unsafe path: ${reason}`);
      const kind = entryKind(entry, name);
      if (kind === 'symlink') reject(`entry ${JSON.stringify(name)}: symbolic links are not allowed in plugin archives`);
      if (kind === 'special') reject(`entry ${JSON.stringify(name)}: only regular files and folders are allowed (device, FIFO or socket entry)`);
      const bare = name.replace(/\/$/, '');
      // Case-folded so that two entries cannot overwrite each other on a
      // case-insensitive filesystem either.
      const folded = bare.toLowerCase();
      const previous = seen.get(folded);
      if (previous !== undefined) {
        reject(`entry ${JSON.stringify(name)}: duplicate name (already have ${JSON.stringify(previous)})`);
      }
      seen.set(folded, name);
      if (kind === 'dir') {
        dirs.add(bare);
        continue;
      }
      files.set(name, await readEntryData(zip, entry, name, effective, budget));
    }

    // A file named like a folder of another file cannot be extracted.
    for (const name of files.keys()) {
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        if (files.has(parent)) reject(`entry ${JSON.stringify(name)}: its folder ${JSON.stringify(parent)} is also a file in the archive`);
      }
    }
    for (const dir of dirs) {
      if (files.has(dir)) reject(`entry ${JSON.stringify(dir + '/')}: is both a file and a folder`);
    }

    const maubotYaml = files.get('maubot.yaml');
    if (!files.has('plugin.yaml') && maubotYaml) {
      const has = (path: string) => files.has(path) || dirs.has(path.replace(/\/$/, '')) || [...files.keys()].some((f) => f.startsWith(`${path.replace(/\/$/, '')}/`));
      return { manifest: parseMaubotManifest(maubotYaml.toString('utf8'), has).manifest, files };
    }
    const manifestData = files.get('plugin.yaml');
    if (!manifestData) reject('archive: no plugin.yaml (a Trellis plugin) or maubot.yaml (a maubot .mbp) at the root of the archive (zip the plugin folder contents, not the folder)');
    let manifest: PluginManifest;
    try {
      manifest = parseManifest(manifestData.toString('utf8'));
    } catch (error) {
      if (error instanceof PluginValidationError) {
        throw new PluginValidationError(error.problems.map((p) => (p.startsWith('plugin.yaml:') ? p : `plugin.yaml: ${p}`)));
      }
      throw error;
    }
    const missing: string[] = [];
    if (!files.has(manifest.main)) missing.push(`plugin.yaml: main: ${JSON.stringify(manifest.main)} is not in the archive`);
    for (const extra of manifest.extraFiles) {
      if (!files.has(extra) && !dirs.has(extra.replace(/\/$/, ''))) {
        missing.push(`plugin.yaml: extra_files: ${JSON.stringify(extra)} is not in the archive`);
      }
    }
    if (missing.length > 0) throw new PluginValidationError(missing);
    return { manifest, files };
  } catch (error) {
    throw explainZipError(error as Error);
  } finally {
    zip.close();
  }
}

function insideDir(root: string, relative: string): string {
  const target = resolve(root, relative);
  if (!target.startsWith(root + sep)) throw new Error(`refusing to write ${JSON.stringify(relative)} outside ${root}`);
  return target;
}

/**
 * Validate an archive fully, then extract it to `<pluginsDir>/<id>/<version>-<random>`.
 * The files are written to a temporary folder inside pluginsDir and renamed
 * into place in one step, so a failure leaves nothing behind.
 */
export async function installPluginArchive(data: Buffer, pluginsDir: string, limits?: Partial<ArchiveLimits>): Promise<{ manifest: PluginManifest; dir: string }> {
  const { manifest, files } = await readPluginArchive(data, limits);
  const root = resolve(pluginsDir);
  await mkdir(root, { recursive: true });
  const suffix = randomBytes(4).toString('hex');
  const tempDir = insideDir(root, `.install-${manifest.id}-${suffix}`);
  const pluginDir = insideDir(root, manifest.id);
  const finalDir = insideDir(pluginDir, `${manifest.version}-${suffix}`);
  let createdPluginDir = false;
  try {
    await mkdir(tempDir);
    for (const [name, content] of files) {
      const target = insideDir(tempDir, name);
      await mkdir(dirname(target), { recursive: true });
      // 'wx': never follow or overwrite anything already there.
      await writeFile(target, content, { flag: 'wx', mode: 0o644 });
    }
    createdPluginDir = (await mkdir(pluginDir, { recursive: true })) !== undefined;
    await rename(tempDir, finalDir);
    return { manifest, dir: finalDir };
  } catch (error) {
    await rm(tempDir, { recursive: true, force: true });
    if (createdPluginDir) await rmdir(pluginDir).catch(() => undefined);
    throw error;
  }
}
