import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The lock file kept in a PGlite data directory by whoever has it open (`pnpm start`, `start:server`, `db migrate`); it holds the pid. */
export const LOCK_FILE = 'dagproc.lock';

export class DataDirLocked extends Error {
  override name = 'DataDirLocked';
  constructor(
    readonly dataDir: string,
    readonly lockPath: string,
    readonly pid: number,
  ) {
    super(
      `another dagproc is already running on ${dataDir} (pid ${pid}); stop it first, or set DAGPROC_DATA_DIR to another directory ` +
        `(if no such process is dagproc, delete ${lockPath})`,
    );
  }
}

export interface DataDirLock {
  path: string;
  /** The pid of a dead holder whose lock was taken over, if any. */
  tookOverFrom: number | undefined;
  /** Removes the lock if it is still this process's. Synchronous, so it can run in an `exit` handler. */
  release(): void;
}

/**
 * Embedded PGlite is one process's database: a second `pnpm start` on the same data directory
 * would open the same files and corrupt them. So the first start takes this lock before it
 * touches anything, and a second one stops, naming the first's pid. A lock whose process is
 * gone (a crash, a `kill -9`) is taken over.
 *
 * The lock is written whole under a temporary name and then hard-linked into place, which
 * fails if the name exists: a reader never sees a half-written lock, and of two starts racing
 * for a free directory exactly one wins.
 */
export function lockDataDir(dataDir: string, options: { isAlive?: (pid: number) => boolean } = {}): DataDirLock {
  const isAlive = options.isAlive ?? processIsAlive;
  const path = join(dataDir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  let tookOverFrom: number | undefined;
  // A few rounds: each lost race (another start took the lock between our read and our link)
  // is settled by reading the lock again.
  for (let round = 0; round < 5; round++) {
    if (tryLink(path, mine)) {
      return {
        path,
        tookOverFrom,
        release() {
          if (readHolder(path) === process.pid) unlinkSync(path);
        },
      };
    }
    const holder = readHolder(path);
    if (holder === 'gone') continue; // released meanwhile: try again
    if (typeof holder === 'number' && holder !== process.pid && isAlive(holder)) throw new DataDirLocked(dataDir, path, holder);
    // Stale: its process is dead, or the file does not hold a pid at all. Read it once more
    // just before removing it, so a lock another start has just taken is not removed.
    if (readHolder(path) !== holder) continue;
    if (typeof holder === 'number') tookOverFrom = holder;
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(`could not take the lock ${path}: other starts kept taking it`);
}

function tryLink(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
}

/** The holder's pid, 'gone' when there is no lock, or 'unreadable' for a file without a pid. */
function readHolder(path: string): number | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  const match = /^(\d+)\s*$/.exec(text);
  return match ? Number(match[1]) : 'unreadable';
}

/** Signal 0 checks existence only. EPERM: the process exists but belongs to another user. */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
