import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * A file's bytes read once, as both the sha256 the server compares (a changed file versus a
 * file whose DAGs vary at runtime) and the source code it stores. Hash and source come from
 * one read so they always describe the same bytes, even when the file is being rewritten.
 */
export async function hashFile(absolutePath: string): Promise<{ contentHash: string; source: string }> {
  const bytes = await readFile(absolutePath);
  return { contentHash: sha256(bytes), source: bytes.toString('utf8') };
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * How close an mtime may be to the moment a file was read and still hide a later write: a
 * filesystem with coarse timestamps (1 s, 2 s on FAT; a network mount's own clock) gives a
 * write in the same tick the same mtime, and often the same size. Git calls such entries
 * "racily clean" and compares contents; so do the caches and checks that use this.
 */
export const RACY_MTIME_MS = 2_000;

/** Whether a file read at `readAt` with `mtimeMs` could have changed since without its mtime moving. */
export function isRacy(mtimeMs: number, readAt: number): boolean {
  return mtimeMs >= readAt - RACY_MTIME_MS;
}
