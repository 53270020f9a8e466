import { rmSync } from 'node:fs';
import { http, passthrough } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseExposition } from '@dagproc/shared/metrics-parse';
import type { ProcessorConfig } from './config.ts';
import type { DagFileProcessorManager } from './manager.ts';
import { startHealthServer, type HealthServer } from './observability/health-server.ts';
import type { ParseOutcome, ParseTask } from './parse-pool.ts';
import { FakeApi } from './testing/fake-api.ts';
import { FakePool } from './testing/fake-pool.ts';
import { createTestManager, managerConfig, managerFixture, until, type ManagerFixture } from './testing/manager-harness.ts';

/** Files named `broken*` fail to import; every parse takes as long as its name says (`slow` 2.5 s). */
class TimedPool extends FakePool {
  override async parse(task: ParseTask): Promise<ParseOutcome> {
    const outcome = await super.parse(task);
    const durationMs = task.relativeFileloc.startsWith('slow') ? 2_500 : 20;
    if (task.relativeFileloc.startsWith('broken')) {
      return { dags: [], importError: { stacktrace: 'SyntaxError: Unexpected token' }, durationMs };
    }
    return { ...outcome, durationMs };
  }
}

let fake: FakeApi;
const server = setupServer();
let fx: ManagerFixture;
let health: HealthServer | null = null;
let running: { m: DagFileProcessorManager; done: Promise<void> } | null = null;

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  fake = new FakeApi();
  // The health endpoint is a real socket on loopback: let the test's own requests through.
  server.resetHandlers(...fake.handlers(), http.all(/^http:\/\/127\.0\.0\.1:\d+\//, () => passthrough()));
  fx = managerFixture(['a.ts', 'broken.ts', 'slow.ts']);
});
afterEach(async () => {
  if (running) {
    fake.mode = 'up';
    running.m.stop();
    await running.done;
    running = null;
  }
  await health?.close();
  health = null;
  await fx.dispose();
});

// Each file once per run, so counts are exact.
const config = (overrides: Partial<ProcessorConfig> = {}) => managerConfig(fx, fake.url, { minFileProcessInterval: 3600, ...overrides });

function start(cfg: ProcessorConfig) {
  const m = createTestManager(fx, cfg, new TimedPool());
  running = { m, done: m.run() };
  return m;
}

/** Polls an async reading until `ok` holds, with a deadline; answers the last reading. */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function scrape(m: DagFileProcessorManager) {
  health ??= await startHealthServer(m.observer, '127.0.0.1', 0);
  const res = await fetch(`${health.url}/metrics`);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await res.text());
}

async function probe(m: DagFileProcessorManager): Promise<{ status: number; body: any }> {
  health ??= await startHealthServer(m.observer, '127.0.0.1', 0);
  const res = await fetch(`${health.url}/health`);
  return { status: res.status, body: await res.json() };
}

describe('processor metrics', () => {
  it('count files parsed by outcome, parse times, import errors, refreshes, callbacks and the heartbeat', async () => {
    fake.callbacks = [
      { id: 11, dagId: 'a', bundleName: 'dags-folder', relativeFileloc: 'a.ts', callbackType: 'failure', runId: 'r1', msg: 'boom', context: {}, attempts: 1, createdAt: new Date().toISOString() },
    ];
    const m = createTestManager(fx, config(), new TimedPool());
    const startedAt = Math.floor(Date.now() / 1000);
    await m.run();
    const metrics = await scrape(m);
    const bundle = 'dags-folder';
    expect(metrics.value('dagproc_processor_files_parsed_total', { bundle, outcome: 'ok' })).toBe(2);
    expect(metrics.value('dagproc_processor_files_parsed_total', { bundle, outcome: 'import_error' })).toBe(1);
    expect(metrics.value('dagproc_processor_parse_duration_seconds_count', { bundle })).toBe(3);
    expect(metrics.value('dagproc_processor_parse_duration_seconds_sum', { bundle })).toBeCloseTo(2.54);
    expect(metrics.value('dagproc_processor_parse_duration_seconds_bucket', { bundle, le: '1' })).toBe(2);
    expect(metrics.value('dagproc_processor_import_errors', { bundle })).toBe(1);
    expect(metrics.value('dagproc_processor_bundle_files', { bundle })).toBe(3);
    expect(metrics.value('dagproc_processor_bundle_refreshes_total', { bundle, outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metrics.value('dagproc_processor_callbacks_total', { outcome: 'success' })).toBe(1);
    expect(metrics.value('dagproc_processor_queue_length')).toBe(0);
    expect(metrics.value('dagproc_processor_api_up')).toBe(1);
    expect(metrics.value('dagproc_processor_last_heartbeat_timestamp_seconds')).toBeGreaterThanOrEqual(startedAt);
    expect(metrics.sum('dagproc_processor_api_failures_total')).toBe(0);
  });

  it('count API failures by kind, and show the API down while it is', async () => {
    const m = start(config({ numRuns: null }));
    await until(() => fake.persisted.length >= 3, 'the first pass');
    fake.mode = 'down';
    await until(() => m.status().apiDown, 'the manager to notice the outage');
    const during = await scrape(m);
    expect(during.value('dagproc_processor_api_failures_total', { kind: 'unavailable' })).toBeGreaterThanOrEqual(1);
    expect(during.value('dagproc_processor_api_up')).toBe(0);
    fake.mode = 'up';
    await until(() => !m.status().apiDown, 'the manager to resume');
    expect((await scrape(m)).value('dagproc_processor_api_up')).toBe(1);
  });

  it("count a failed bundle refresh, which is not a failed API call", async () => {
    const m = start(config({ numRuns: null }));
    await until(() => fake.persisted.length >= 3, 'the first pass');
    // The bundle's folder goes away: its refresh fails while every API call still succeeds.
    rmSync(fx.dir, { recursive: true, force: true });
    const failedRefreshes = (metrics: Awaited<ReturnType<typeof scrape>>) =>
      metrics.value('dagproc_processor_bundle_refreshes_total', { bundle: 'dags-folder', outcome: 'failed' }) ?? 0;
    await eventually(() => scrape(m), (metrics) => failedRefreshes(metrics) > 0, 'a failed refresh to be counted');
    expect((await scrape(m)).value('dagproc_processor_api_failures_total', { kind: 'rejected' }) ?? 0).toBe(0);
  });
});

describe('the processor health endpoint', () => {
  it('answers 503 before the Job is registered, 200 while heartbeats reach the API, 503 with the reason when they stop, 200 again after', async () => {
    fake.mode = 'down';
    const m = start(config({ numRuns: null, heartbeatInterval: 1, healthCheckThreshold: 1 }));
    const starting = await probe(m);
    expect(starting).toEqual({ status: 503, body: { status: 'unhealthy', ok: false, reason: 'the processor has not registered its Job yet' } });

    fake.mode = 'up';
    let answer = await eventually(() => probe(m), (a) => a.status === 200, 'health to be 200');
    expect(answer.body).toEqual({ status: 'healthy', ok: true, jobId: 1, lastHeartbeat: expect.any(String) });

    fake.mode = 'down';
    answer = await eventually(() => probe(m), (a) => a.status === 503, 'health to be 503 once heartbeats stop reaching the API');
    // Usually the heartbeat's age; on a loaded machine the loop may be caught mid-retry first.
    expect(answer.body.reason).toMatch(/^(the last heartbeat the API accepted was \d+s ago \(threshold 1s\)|the processor loop has not turned for \d+s)$/);

    fake.mode = 'up';
    await eventually(() => probe(m), (a) => a.status === 200, 'health to be 200 again');
  });

  it('answers 503 once the loop has stopped, and 404 for other paths', async () => {
    const m = createTestManager(fx, config(), new TimedPool());
    await m.run();
    expect(await probe(m)).toEqual({ status: 503, body: { status: 'unhealthy', ok: false, reason: 'the processor loop has stopped' } });
    expect((await fetch(`${health!.url}/nope`)).status).toBe(404);
  });
});

describe('the stats line', () => {
  it('is one info event per interval with per-bundle counts, the slowest files and the queue', async () => {
    const m = start(config({ numRuns: null, printStatsInterval: 1 }));
    await until(() => fx.logs.some((l) => l.msg === 'DAG file processing stats'), 'a stats line', 15_000);
    m.stop();
    const line = fx.logs.find((l) => l.msg === 'DAG file processing stats')!;
    expect(line).toMatchObject({
      level: 'info',
      component: 'processor',
      intervalSeconds: expect.any(Number),
      parsed: 3,
      queued: expect.any(Number),
      parsing: expect.any(Number),
      unsentResults: expect.any(Number),
      callbacksRun: 0,
      bundles: [{ bundle: 'dags-folder', files: 3, parsed: 3, importErrors: 1 }],
    });
    expect(line.slowest[0]).toEqual({ bundle: 'dags-folder', file: 'slow.ts', lastDurationSeconds: 2.5, importError: false });
    expect(line.slowest.map((s: { file: string }) => s.file).sort()).toEqual(['a.ts', 'broken.ts', 'slow.ts']);
  });
});
