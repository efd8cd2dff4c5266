/** `trellis plugin validate <archive>`: check an archive as an upload would be checked. */
import { readFile, stat } from 'node:fs/promises';
import { DEFAULT_ARCHIVE_LIMITS, formatBytes, readPluginArchive } from './archive.ts';
import { PluginValidationError } from './manifest.ts';

/** A one-line summary such as "org.example.hello 1.2.0: OK (3 files, 12.3 kB)". */
export async function validateArchiveFile(path: string): Promise<string> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    size = info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${path}: no such file`);
    throw error;
  }
  // Check before reading so a huge file is not loaded into memory.
  if (size > DEFAULT_ARCHIVE_LIMITS.maxArchiveBytes) {
    throw new PluginValidationError([`archive: ${formatBytes(size)} is larger than the ${formatBytes(DEFAULT_ARCHIVE_LIMITS.maxArchiveBytes)} limit`]);
  }
  const { manifest, files } = await readPluginArchive(await readFile(path));
  return `${manifest.id} ${manifest.version}: OK (${files.size} files, ${formatBytes(size)})`;
}
