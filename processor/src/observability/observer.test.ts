import { describe, expect, it } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import { ProcessorObserver, type ManagerStatus } from './observer.ts';

function observer(options: { printStatsInterval?: number; healthCheckThreshold?: number } = {}) {
  const logs: Record<string, any>[] = [];
  let now = 1_000_000;
  const status: ManagerStatus = { bundles: [{ name: 'b', files: ['x.ts', 'y.ts'] }], queueLength: 0, parsesInProgress: 0, unsentResults: 0, apiDown: false };
  const o = new ProcessorObserver({
    logger: createLogger('processor', { write: (l) => logs.push(JSON.parse(l)) }),
    printStatsInterval: options.printStatsInterval ?? 30,
    healthCheckThreshold: options.healthCheckThreshold ?? 30,
    now: () => now,
  });
  o.attach(() => status);
  return { o, logs, status, advance: (ms: number) => (now += ms) };
}

describe('processor health', () => {
  it('is unhealthy when the loop stops turning, even with a recent heartbeat', () => {
    const { o, advance } = observer({ healthCheckThreshold: 30 });
    o.loopStarted(4);
    o.heartbeatSucceeded();
    o.loopTurned();
    expect(o.health()).toMatchObject({ ok: true, jobId: 4 });
    advance(20_000);
    o.heartbeatSucceeded(); // a heartbeat from another path; the loop itself is stuck
    advance(15_000);
    expect(o.health()).toEqual({ ok: false, reason: 'the processor loop has not turned for 35s' });
  });

  it('is unhealthy once the last heartbeat is older than the threshold', () => {
    const { o, advance } = observer({ healthCheckThreshold: 30 });
    o.loopStarted(1);
    o.heartbeatSucceeded();
    advance(31_000);
    o.loopTurned();
    expect(o.health()).toEqual({ ok: false, reason: 'the last heartbeat the API accepted was 31s ago (threshold 30s)' });
  });
});

describe('the stats line', () => {
  it('comes once per interval, and not at all when nothing was parsed or queued', () => {
    const { o, logs, advance, status } = observer({ printStatsInterval: 30 });
    o.fileParsed('b', 'x.ts', 120, false);
    advance(29_000);
    o.loopTurned();
    expect(logs).toEqual([]);
    advance(1_000);
    o.loopTurned();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ msg: 'DAG file processing stats', intervalSeconds: 30, parsed: 1, bundles: [{ bundle: 'b', files: 2, parsed: 1, importErrors: 0 }] });
    advance(30_000);
    o.loopTurned();
    expect(logs).toHaveLength(1); // idle: nothing to say
    status.queueLength = 2;
    advance(30_000);
    o.loopTurned();
    expect(logs).toHaveLength(2);
  });

  it('prints none when the interval is 0', () => {
    const { o, logs, advance } = observer({ printStatsInterval: 0 });
    o.fileParsed('b', 'x.ts', 120, false);
    advance(3_600_000);
    o.loopTurned();
    expect(logs).toEqual([]);
  });

  it('forgets files gone from their bundle', () => {
    const { o, logs, advance, status } = observer({ printStatsInterval: 1 });
    o.fileParsed('b', 'x.ts', 500, true);
    o.fileParsed('b', 'y.ts', 100, false);
    status.bundles = [{ name: 'b', files: ['y.ts'] }];
    advance(1_000);
    o.loopTurned();
    expect(logs[0]).toMatchObject({ bundles: [{ bundle: 'b', files: 1, parsed: 2, importErrors: 0 }], slowest: [{ file: 'y.ts', lastDurationSeconds: 0.1 }] });
  });
});
