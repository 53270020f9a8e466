import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * A file's bytes read once, as both the sha256 the server compares (a changed file versus a
 * file whose DAGs vary at runtime) and the source code it stores. Hash and source come from
 * one read so they always describe the same bytes, even when the file is being rewritten.
 */
export async function hashFile(absolutePath: string): Promise<{ contentHash: string; source: string }> {
  const bytes = await readFile(absolutePath);
  return { contentHash: createHash('sha256').update(bytes).digest('hex'), source: bytes.toString('utf8') };
}
