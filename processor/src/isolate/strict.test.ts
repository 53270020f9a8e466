import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsolatePool, PoolClosedError } from './index.ts';
import { dagReporting, taskFor, tempBundle, testPoolOptions, type TempBundle } from './testing.ts';

let first: TempBundle;
let second: TempBundle;

const files = {
  'dags/pid.ts': dagReporting('pid', '[String(process.pid)]', "import process from 'node:process';"),
  // Escapes its context to leave a mark on the process, as a hostile file could leave a hook.
  'dags/tamper.ts': dagReporting('tamper', '[String(process.pid)]', "import process from 'node:process';\n(process as any).dagprocMark = 'left by tamper.ts';"),
  'dags/forever.ts': 'await new Promise(() => {});\n',
  'dags/observe.ts': dagReporting('observe', '[String((process as any).dagprocMark)]', "import process from 'node:process';"),
};

beforeAll(async () => {
  first = await tempBundle('first', files);
  second = await tempBundle('second', files);
});

afterAll(async () => {
  await first?.remove();
  await second?.remove();
});

async function withPool<T>(options: Parameters<typeof testPoolOptions>[0], use: (pool: IsolatePool) => Promise<T>): Promise<T> {
  const pool = new IsolatePool(testPoolOptions(options));
  await pool.start();
  try {
    return await use(pool);
  } finally {
    await pool.close();
  }
}

async function pidOf(pool: IsolatePool, bundle: TempBundle): Promise<number> {
  const outcome = await pool.parse(taskFor(bundle, 'dags/pid.ts'));
  expect(outcome.importError).toBeNull();
  return Number(outcome.dags[0]!.tags[0]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilDead(pid: number, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still alive after ${deadlineMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('strict mode', () => {
  it('runs every file in a new process and kills it afterwards', async () => {
    await withPool({ mode: 'strict', size: 2 }, async (pool) => {
      const pids = await Promise.all([pidOf(pool, first), pidOf(pool, first), pidOf(pool, first)]);
      expect(new Set(pids).size).toBe(3);
      for (const pid of pids) await waitUntilDead(pid);
    });
  });

  it('keeps what one file did to its process from every later file', async () => {
    await withPool({ mode: 'strict', size: 1 }, async (pool) => {
      expect((await pool.parse(taskFor(first, 'dags/tamper.ts'))).importError).toBeNull();
      expect((await pool.parse(taskFor(first, 'dags/observe.ts'))).dags[0]!.tags).toEqual(['undefined']);
    });
  });
});

describe('pooled mode', () => {
  it('reuses a process for files of one bundle, so a file that escapes its context can reach later files of that bundle', async () => {
    // The documented limit of pooled mode: the process, not the context, is the boundary.
    await withPool({ mode: 'pooled', size: 1 }, async (pool) => {
      const tamper = await pool.parse(taskFor(first, 'dags/tamper.ts'));
      const observed = await pool.parse(taskFor(first, 'dags/observe.ts'));
      expect(observed.dags[0]!.tags).toEqual(['left by tamper.ts']);
      expect(await pidOf(pool, first)).toBe(Number(tamper.dags[0]!.tags[0]));
    });
  });

  it('never hands a process of one bundle a file of another: it recycles an idle one instead', async () => {
    await withPool({ mode: 'pooled', size: 1 }, async (pool) => {
      const firstPid = await pidOf(pool, first);
      expect((await pool.parse(taskFor(first, 'dags/tamper.ts'))).importError).toBeNull();
      const secondPid = await pidOf(pool, second);
      expect(secondPid).not.toBe(firstPid);
      await waitUntilDead(firstPid);
      expect((await pool.parse(taskFor(second, 'dags/observe.ts'))).dags[0]!.tags).toEqual(['undefined']);
      const firstAgain = await pidOf(pool, first);
      expect([firstPid, secondPid]).not.toContain(firstAgain);
    });
  });

  it('recycles a process after maxFilesPerProcess files', async () => {
    await withPool({ mode: 'pooled', size: 1, maxFilesPerProcess: 2 }, async (pool) => {
      const pids = [await pidOf(pool, first), await pidOf(pool, first), await pidOf(pool, first)];
      expect(pids[1]).toBe(pids[0]);
      expect(pids[2]).not.toBe(pids[0]);
    });
  });
});

describe('closing the pool', () => {
  it('kills running and waiting jobs\' processes and rejects those jobs', async () => {
    const pool = new IsolatePool(testPoolOptions({ size: 1, timeoutMs: 30_000 }));
    await pool.start();
    const running = pool.parse(taskFor(first, 'dags/forever.ts'));
    const waiting = pool.parse(taskFor(first, 'dags/forever.ts'));
    // The first job is running once its process is up; the pid file would need its turn.
    const [closed] = await Promise.allSettled([pool.close(), running, waiting]);
    expect(closed.status).toBe('fulfilled');
    await expect(running).rejects.toBeInstanceOf(PoolClosedError);
    await expect(waiting).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.parse(taskFor(first, 'dags/pid.ts'))).rejects.toBeInstanceOf(PoolClosedError);
  });
});
