import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirLocked, LOCK_FILE, lockDataDir, processIsAlive } from './data-dir-lock.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dagproc-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has exited: a lock holder that crashed. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('the data directory lock', () => {
  it('is taken on a free directory, holds this pid, and is removed on release', () => {
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    expect(lock.tookOverFrom).toBeUndefined();
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a second holder while the first process lives, naming its pid, and leaves the lock alone', () => {
    writeFileSync(join(dir, LOCK_FILE), '4242\n');
    const error = (() => {
      try {
        lockDataDir(dir, { isAlive: (pid) => pid === 4242 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DataDirLocked);
    expect((error as DataDirLocked).pid).toBe(4242);
    expect((error as Error).message).toMatch(new RegExp(`^another dagproc is already running on ${dir} \\(pid 4242\\)`));
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe('4242\n');
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  it('takes over the lock of a process that is gone', async () => {
    const pid = await deadPid();
    expect(processIsAlive(pid)).toBe(false);
    writeFileSync(join(dir, LOCK_FILE), `${pid}\n`);
    const lock = lockDataDir(dir);
    expect(lock.tookOverFrom).toBe(pid);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
  });

  it('takes over a lock file that holds no pid', () => {
    writeFileSync(join(dir, LOCK_FILE), '');
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
  });

  it('release leaves a lock that another process has taken since', () => {
    const lock = lockDataDir(dir);
    writeFileSync(join(dir, LOCK_FILE), '4242\n');
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
  });

  it('sees this very process as alive and a finished one as gone', async () => {
    expect(processIsAlive(process.pid)).toBe(true);
    expect(processIsAlive(await deadPid())).toBe(false);
  });
});
