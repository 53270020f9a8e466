import { readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';

export type BundleReadVerdict =
  | { readable: true }
  | { readable: false; reason: string };

/**
 * Whether a parse process may be granted reads of this bundle. The permission model checks the
 * path a program names and then FOLLOWS symlinks (a documented limit on Node 20, 22 and 24): a
 * link inside the bundle pointing at `/` would let a DAG file read the processor's environment
 * through /proc and then its token file. So a bundle holding a link that leaves it is not
 * granted at all; its files still parse, since the processor reads and sends their code.
 */
export async function checkBundleReadable(root: string, maxEntries = 200_000): Promise<BundleReadVerdict> {
  let seen = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // A folder the processor cannot list, the child cannot list either.
      if ((error as NodeJS.ErrnoException).code === 'EACCES') continue;
      throw error;
    }
    for (const entry of entries) {
      if (++seen > maxEntries) {
        return { readable: false, reason: `it holds more than ${maxEntries} entries, too many to check for symlinks` };
      }
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isSymbolicLink()) {
        const target = await linkTarget(full);
        if (!isWithin(root, target)) {
          return {
            readable: false,
            reason: `${path.relative(root, full)} is a symlink to ${target}, outside the bundle`,
          };
        }
      }
    }
  }
  return { readable: true };
}

async function linkTarget(link: string): Promise<string> {
  try {
    return await realpath(link);
  } catch {
    // Dangling now, but it may not stay so: judge where it points.
    return path.resolve(path.dirname(link), await readlink(link));
  }
}

/** True for the root itself and anything beneath it. */
export function isWithin(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}
