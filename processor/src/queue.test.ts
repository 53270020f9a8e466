import { describe, expect, it } from 'vitest';
import { FileQueue, sortFiles, type FileQueueOptions, type QueueEntry, type QueueFile } from './queue.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;

const file = (relativeFileloc: string, mtimeMs = 0, bundleName = 'b'): QueueFile => ({
  bundleName,
  relativeFileloc,
  mtimeMs,
});

const queue = (options: Partial<FileQueueOptions> = {}) =>
  new FileQueue({ sortMode: 'alphabetical', minFileProcessInterval: 30, hostname: 'host-a', ...options });

const names = (entries: readonly { relativeFileloc: string }[]) => entries.map((e) => e.relativeFileloc);

/** Takes every file that can start now, as the manager's loop would with free slots. */
function drain(q: FileQueue, now: number): QueueEntry[] {
  const out: QueueEntry[] = [];
  for (let entry = q.next(now); entry; entry = q.next(now)) out.push(entry);
  return out;
}

/** Parses everything that is due once: enqueue, start all, finish all at `now`. */
function cycle(q: FileQueue, files: QueueFile[], now: number): string[] {
  q.enqueueDue(files, now);
  const started = drain(q, now);
  for (const entry of started) q.markFinished(entry, now);
  return names(started);
}

describe('sort modes', () => {
  const files = [file('b.ts', 200), file('a.ts', 100), file('c.ts', 300), file('d/a.ts', 300)];

  it('modified_time puts the most recently modified file first', () => {
    expect(names(sortFiles(files, 'modified_time', 'h'))).toEqual(['c.ts', 'd/a.ts', 'b.ts', 'a.ts']);
  });

  it('alphabetical orders by relativeFileloc, then bundle', () => {
    const mixed = [file('a.ts', 0, 'z'), ...files];
    expect(sortFiles(mixed, 'alphabetical', 'h').map((f) => `${f.bundleName}:${f.relativeFileloc}`)).toEqual([
      'b:a.ts',
      'z:a.ts',
      'b:b.ts',
      'b:c.ts',
      'b:d/a.ts',
    ]);
  });

  it('random_seeded_by_host is the same on one host whatever the input order, and differs between hosts', () => {
    const many = Array.from({ length: 50 }, (_, i) => file(`dag_${i}.ts`));
    const onA = sortFiles(many, 'random_seeded_by_host', 'host-a').map((f) => f.relativeFileloc);
    const onAReversed = sortFiles([...many].reverse(), 'random_seeded_by_host', 'host-a').map((f) => f.relativeFileloc);
    const onB = sortFiles(many, 'random_seeded_by_host', 'host-b').map((f) => f.relativeFileloc);
    expect(onAReversed).toEqual(onA);
    expect(onB).not.toEqual(onA);
    expect(onA).not.toEqual(many.map((f) => f.relativeFileloc));
    expect([...onA].sort()).toEqual(many.map((f) => f.relativeFileloc).sort());
    // A file keeps its place relative to the others when the batch holds only some of them.
    const some = sortFiles(many.filter((_, i) => i % 3 === 0), 'random_seeded_by_host', 'host-a').map((f) => f.relativeFileloc);
    expect(some).toEqual(onA.filter((n) => some.includes(n)));
  });

  it('the queue serves a first batch in its sort mode', () => {
    const q = queue({ sortMode: 'modified_time' });
    q.enqueueDue(files, T0);
    expect(names(drain(q, T0))).toEqual(['c.ts', 'd/a.ts', 'b.ts', 'a.ts']);
  });
});

describe('min file process interval', () => {
  it('queues a file again only once the interval has passed since its last parse finished', () => {
    const q = queue({ minFileProcessInterval: 30 });
    const files = [file('a.ts'), file('b.ts')];
    expect(cycle(q, files, s(0))).toEqual(['a.ts', 'b.ts']);
    expect(cycle(q, files, s(29))).toEqual([]);
    expect(cycle(q, files, s(30))).toEqual(['a.ts', 'b.ts']);
  });

  it('counts the interval from the finish, not the start, of a parse', () => {
    const q = queue({ minFileProcessInterval: 30 });
    q.enqueueDue([file('slow.ts')], s(0));
    const entry = q.next(s(0))!;
    q.markFinished(entry, s(20));
    expect(q.enqueueDue([file('slow.ts')], s(45))).toBe(0);
    expect(q.enqueueDue([file('slow.ts')], s(50))).toBe(1);
  });

  it('never queues a file twice, nor a file being parsed', () => {
    const q = queue({ minFileProcessInterval: 0 });
    const files = [file('a.ts'), file('b.ts')];
    expect(q.enqueueDue(files, s(0))).toBe(2);
    expect(q.enqueueDue(files, s(1))).toBe(0);
    const a = q.next(s(1))!;
    expect(a.relativeFileloc).toBe('a.ts');
    expect(q.enqueueDue(files, s(2))).toBe(0);
    expect(q.size).toBe(1);
    expect(q.isInProgress('b', 'a.ts')).toBe(true);
    q.markFinished(a, s(3));
    expect(q.enqueueDue(files, s(3))).toBe(1);
    expect(names(q.queued())).toEqual(['b.ts', 'a.ts']);
  });

  it('puts files never parsed ahead of files that are due again', () => {
    const q = queue({ minFileProcessInterval: 30 });
    cycle(q, [file('old1.ts'), file('old2.ts')], s(0));
    q.enqueueDue([file('old1.ts'), file('old2.ts'), file('new.ts')], s(60));
    expect(names(q.queued())).toEqual(['new.ts', 'old1.ts', 'old2.ts']);
    expect(q.queued().map((e) => e.tier)).toEqual(['new', 'due', 'due']);
  });

  it('in modified_time mode, a file changed since its last parse is queued without waiting, as in Airflow', () => {
    const q = queue({ sortMode: 'modified_time', minFileProcessInterval: 30 });
    cycle(q, [file('a.ts', s(-100)), file('b.ts', s(-100))], s(0));
    expect(q.enqueueDue([file('a.ts', s(5)), file('b.ts', s(-100))], s(10))).toBe(1);
    expect(names(q.queued())).toEqual(['a.ts']);
    // An mtime moved back (a copy that keeps times) is a change too.
    cycle(q, [file('a.ts', s(5))], s(11));
    expect(q.enqueueDue([file('a.ts', s(-500))], s(12))).toBe(1);
  });

  it('in modified_time mode, a file with an mtime in the future is not parsed on every loop', () => {
    const q = queue({ sortMode: 'modified_time', minFileProcessInterval: 30 });
    const future = file('future.ts', s(10_000));
    expect(cycle(q, [future], s(0))).toEqual(['future.ts']);
    expect(cycle(q, [future], s(1))).toEqual([]);
    expect(cycle(q, [future], s(31))).toEqual(['future.ts']);
  });

  it('in the other modes, a changed file waits for the interval, as in Airflow', () => {
    for (const sortMode of ['alphabetical', 'random_seeded_by_host'] as const) {
      const q = queue({ sortMode, minFileProcessInterval: 30 });
      cycle(q, [file('a.ts', s(-100))], s(0));
      expect(q.enqueueDue([file('a.ts', s(5))], s(10))).toBe(0);
    }
  });
});

describe('priority requests', () => {
  it('puts requested files at the front, oldest request first, carrying their ids', () => {
    const q = queue();
    q.enqueueDue([file('a.ts'), file('b.ts'), file('c.ts')], s(0));
    q.enqueuePriority([
      { id: 7, bundleName: 'b', relativeFileloc: 'c.ts' },
      { id: 8, bundleName: 'b', relativeFileloc: 'x.ts' },
    ]);
    const order = drain(q, s(0));
    expect(order.map((e) => [e.relativeFileloc, e.priorityRequestIds])).toEqual([
      ['c.ts', [7]],
      ['x.ts', [8]],
      ['a.ts', []],
      ['b.ts', []],
    ]);
  });

  it('merges several requests for one file into one entry', () => {
    const q = queue();
    q.enqueuePriority([
      { id: 1, bundleName: 'b', relativeFileloc: 'a.ts' },
      { id: 2, bundleName: 'b', relativeFileloc: 'a.ts' },
    ]);
    q.enqueuePriority([
      { id: 2, bundleName: 'b', relativeFileloc: 'a.ts' },
      { id: 3, bundleName: 'b', relativeFileloc: 'a.ts' },
    ]);
    expect(q.size).toBe(1);
    expect(q.next(s(0))!.priorityRequestIds).toEqual([1, 2, 3]);
  });

  it('keys files by bundle and path: the same path in two bundles is two files', () => {
    const q = queue();
    q.enqueuePriority([
      { id: 1, bundleName: 'one', relativeFileloc: 'a.ts' },
      { id: 2, bundleName: 'two', relativeFileloc: 'a.ts' },
    ]);
    expect(drain(q, s(0)).map((e) => `${e.bundleName}:${e.priorityRequestIds}`)).toEqual(['one:1', 'two:2']);
  });

  it('a request for a file being parsed waits for that parse, then runs again', () => {
    const q = queue();
    q.enqueueDue([file('a.ts'), file('b.ts')], s(0));
    const running = q.next(s(0))!;
    q.enqueuePriority([{ id: 5, bundleName: 'b', relativeFileloc: 'a.ts' }]);
    // The waiting request does not block the queue behind it.
    expect(q.next(s(1))!.relativeFileloc).toBe('b.ts');
    expect(q.next(s(1))).toBeUndefined();
    q.markFinished(running, s(2));
    const again = q.next(s(2))!;
    expect([again.relativeFileloc, again.priorityRequestIds]).toEqual(['a.ts', [5]]);
  });

  it('ignores the interval and the run limit', () => {
    const q = queue({ minFileProcessInterval: 3600, numRuns: 1 });
    cycle(q, [file('a.ts')], s(0));
    q.enqueuePriority([{ id: 1, bundleName: 'b', relativeFileloc: 'a.ts' }]);
    expect(q.next(s(1))?.relativeFileloc).toBe('a.ts');
  });
});

describe('release', () => {
  it('puts a file that could not start back at the front of its tier, not counted as a run', () => {
    const q = queue();
    q.enqueueDue([file('a.ts'), file('b.ts')], s(0));
    const a = q.next(s(0))!;
    q.release(a);
    expect(q.isInProgress('b', 'a.ts')).toBe(false);
    expect(names(q.queued())).toEqual(['a.ts', 'b.ts']);
    expect(q.fileStat('b', 'a.ts')?.runCount).toBe(0);
  });

  it('merges a released file with a request that arrived meanwhile', () => {
    const q = queue();
    q.enqueuePriority([{ id: 1, bundleName: 'b', relativeFileloc: 'a.ts' }]);
    q.enqueuePriority([{ id: 2, bundleName: 'b', relativeFileloc: 'z.ts' }]);
    const a = q.next(s(0))!;
    q.enqueuePriority([{ id: 3, bundleName: 'b', relativeFileloc: 'a.ts' }]);
    q.release(a);
    expect(q.queued().map((e) => [e.relativeFileloc, e.priorityRequestIds])).toEqual([
      ['a.ts', [1, 3]],
      ['z.ts', [2]],
    ]);
  });
});

describe('deleted files', () => {
  it('forget drops a file from the queue and its counts, returning the requests nobody will answer', () => {
    const q = queue();
    cycle(q, [file('a.ts')], s(0));
    q.enqueuePriority([{ id: 9, bundleName: 'b', relativeFileloc: 'a.ts' }]);
    expect(q.forget('b', 'a.ts')).toEqual([9]);
    expect(q.size).toBe(0);
    expect(q.fileStat('b', 'a.ts')).toBeUndefined();
  });

  it('a parse of a forgotten file records nothing when it finishes', () => {
    const q = queue({ numRuns: 1 });
    q.enqueueDue([file('a.ts')], s(0));
    const old = q.next(s(0))!;
    q.forget('b', 'a.ts');
    expect(q.markFinished(old, s(1))).toBe(false);
    expect(q.fileStat('b', 'a.ts')).toBeUndefined();
    expect(q.inProgressCount).toBe(0);
    // Back again under the same path: a new file, and the stale parse cannot finish it.
    q.enqueueDue([file('a.ts')], s(2));
    const fresh = q.next(s(2))!;
    expect(q.markFinished(old, s(3))).toBe(false);
    expect(q.markFinished(fresh, s(3))).toBe(true);
  });

  it('forgetMissing forgets every file of one bundle that its listing no longer has', () => {
    const q = queue({ minFileProcessInterval: 0 });
    cycle(q, [file('a.ts'), file('b.ts'), file('c.ts'), file('a.ts', 0, 'other')], s(0));
    q.enqueueDue([file('a.ts'), file('b.ts'), file('c.ts'), file('a.ts', 0, 'other')], s(1));
    q.enqueuePriority([{ id: 4, bundleName: 'b', relativeFileloc: 'typo.ts' }]);
    expect(q.forgetMissing('b', ['a.ts'])).toEqual({ forgotten: ['b.ts', 'c.ts', 'typo.ts'], priorityRequestIds: [4] });
    expect(q.queued().map((e) => `${e.bundleName}:${e.relativeFileloc}`)).toEqual(['b:a.ts', 'other:a.ts']);
    expect(q.fileStat('other', 'a.ts')?.runCount).toBe(1);
  });
});

describe('--num-runs', () => {
  it('is done once every current file has been parsed N times', () => {
    const q = queue({ numRuns: 2, minFileProcessInterval: 0 });
    const files = [file('a.ts'), file('b.ts')];
    expect(q.allDone(files)).toBe(false);
    cycle(q, files, s(0));
    expect(q.allDone(files)).toBe(false);
    cycle(q, files, s(1));
    expect(q.allDone(files)).toBe(true);
    expect(q.fileStat('b', 'a.ts')).toEqual({ runCount: 2, lastStartedAt: s(1), lastFinishedAt: s(1), lastStartedMtimeMs: 0 });
  });

  it('does not queue a file again once it has had its runs', () => {
    const q = queue({ numRuns: 1, minFileProcessInterval: 0 });
    const files = [file('a.ts')];
    cycle(q, files, s(0));
    expect(q.enqueueDue(files, s(100))).toBe(0);
  });

  it('a file added later must have its runs too', () => {
    const q = queue({ numRuns: 1, minFileProcessInterval: 0 });
    cycle(q, [file('a.ts')], s(0));
    const more = [file('a.ts'), file('late.ts')];
    expect(q.allDone(more)).toBe(false);
    expect(cycle(q, more, s(1))).toEqual(['late.ts']);
    expect(q.allDone(more)).toBe(true);
  });

  it('is not done while a parse runs or a priority request waits', () => {
    const q = queue({ numRuns: 1, minFileProcessInterval: 0 });
    const files = [file('a.ts')];
    cycle(q, files, s(0));
    q.enqueuePriority([{ id: 1, bundleName: 'b', relativeFileloc: 'a.ts' }]);
    expect(q.allDone(files)).toBe(false);
    const entry = q.next(s(1))!;
    expect(q.allDone(files)).toBe(false);
    q.markFinished(entry, s(2));
    expect(q.allDone(files)).toBe(true);
  });

  it('counts a failed or timed-out parse as a run, as Airflow does', () => {
    const q = queue({ numRuns: 1 });
    q.enqueueDue([file('broken.ts')], s(0));
    q.markFinished(q.next(s(0))!, s(50));
    expect(q.allDone([file('broken.ts')])).toBe(true);
  });

  it('is never done without --num-runs', () => {
    const q = queue();
    cycle(q, [file('a.ts')], s(0));
    expect(q.allDone([file('a.ts')])).toBe(false);
    expect(q.allDone([])).toBe(false);
  });
});
