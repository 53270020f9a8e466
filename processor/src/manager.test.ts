import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProcessorConfig } from './config.ts';
import { FakeApi } from './testing/fake-api.ts';
import { FakePool } from './testing/fake-pool.ts';
import { createTestManager, managerConfig, managerFixture, until, type ManagerFixture } from './testing/manager-harness.ts';

const TOKEN_A = 'aaaa.bbbb.cccc';
const TOKEN_B = 'dddd.eeee.ffff';

let fake: FakeApi;
const server = setupServer();
let fx: ManagerFixture;
let dir: string;
let tokenPath: string;
let logs: Record<string, any>[];

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  fake = new FakeApi();
  server.resetHandlers(...fake.handlers());
  fx = managerFixture(['a.ts', 'b.ts', 'c.mjs'], TOKEN_A);
  ({ dir, tokenPath, logs } = fx);
});
afterEach(() => fx.dispose());

const config = (overrides: Partial<ProcessorConfig> = {}) => managerConfig(fx, fake.url, overrides);
function manager(cfg = config(), pool = new FakePool()) {
  return { m: createTestManager(fx, cfg, pool), pool };
}

const persistedFiles = () => [...new Set(fake.persisted.map((p) => p.relativeFileloc))].sort();
const warnings = (msg: string) => logs.filter((l) => l.level === 'warn' && l.msg.includes(msg));

describe('manager: the normal run', () => {
  it('registers its Job, parses every file once for --num-runs 1, persists each, completes the Job and returns', async () => {
    const { m, pool } = manager();
    await m.run();
    expect(fake.registered).toEqual([expect.objectContaining({ jobType: 'DagProcessorJob', pid: process.pid, hostname: expect.any(String), unixname: expect.any(String) })]);
    expect(pool.parsed.sort()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
    expect(fake.persisted[0]).toMatchObject({ bundleName: 'dags-folder', contentHash: expect.stringMatching(/^[0-9a-f]{64}$/), sourceCode: expect.stringContaining('//') });
    expect(fake.sweeps[0]).toEqual({ bundleName: 'dags-folder', files: ['a.ts', 'b.ts', 'c.mjs'] });
    expect(fake.completed).toEqual([{ jobId: 1, state: 'success' }]);
    expect(pool.closed).toBe(true);
  });

  it('--dry-run parses every file but writes nothing through the API: no Job, no bundle sync, no sweep, no persist', async () => {
    const { m, pool } = manager(config({ dryRun: true }));
    await m.run();
    expect(pool.parsed.sort()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
    expect(fake.calls).toEqual([]);
    expect(fake.persisted).toEqual([]);
    expect(fake.registered).toEqual([]);
    expect(fake.completed).toEqual([]);
    expect(logs.find((l) => l.msg === 'processor started')).toMatchObject({ dryRun: true, jobId: null });
    expect(logs.find((l) => l.msg === 'first pass over all bundles done')).toMatchObject({ files: 3 });
  });

  it('logs each pass over all files once its results are handed over, with when the pass began', async () => {
    const { m } = manager(config({ numRuns: 2, minFileProcessInterval: 1 }));
    await m.run();
    const pass = logs.find((l) => l.msg === 'pass over all bundles done');
    expect(pass).toMatchObject({ pass: 2, files: 3, importErrors: 0, seconds: expect.any(Number) });
    expect(Date.parse(pass!.startedAt)).toBeLessThanOrEqual(Date.parse(pass!.time));
    expect(fake.persisted.length).toBe(6);
    expect(logs.filter((l) => l.msg === 'first pass over all bundles done')).toHaveLength(1);
  });

  it('puts claimed priority parse requests first and passes their ids to the persist', async () => {
    fake.parseRequests = [{ id: 7, bundleName: 'dags-folder', relativeFileloc: 'c.mjs', createdAt: new Date().toISOString() }];
    const { m, pool } = manager(config({ parsingProcesses: 1 }));
    await m.run();
    expect(pool.parsed[0]).toBe('c.mjs');
    expect(fake.persisted.find((p) => p.relativeFileloc === 'c.mjs')!.priorityRequestIds).toEqual([7]);
  });

  it('runs claimed callbacks and acknowledges each', async () => {
    fake.callbacks = [
      { id: 11, dagId: 'a', bundleName: 'dags-folder', relativeFileloc: 'a.ts', callbackType: 'failure', runId: 'r1', msg: 'boom', context: {}, attempts: 1, createdAt: new Date().toISOString() },
    ];
    const { m, pool } = manager();
    await m.run();
    expect(pool.callbacksRun.map((c) => [c.dagId, c.callbackType, c.context.msg])).toEqual([['a', 'failure', 'boom']]);
    expect(fake.acks).toEqual([{ id: 11, outcome: 'success' }]);
  });
});

describe('manager: API faults', () => {
  it('waits for the API to be ready before registering, saying so once', async () => {
    fake.mode = 'down';
    const { m } = manager();
    const running = m.run();
    await until(() => warnings('waiting for the API').length === 1, 'the wait to be logged');
    await new Promise((r) => setTimeout(r, 600));
    expect(fake.registered).toEqual([]);
    fake.mode = 'up';
    await running;
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
    expect(warnings('waiting for the API')).toHaveLength(1);
  });

  it('keeps running through an outage, logs it once, and resumes and persists when the API is back', async () => {
    const { m, pool } = manager(config({ numRuns: null, minFileProcessInterval: 3600 }));
    const running = m.run();
    await until(() => persistedFiles().length === 3, 'the first results');
    fake.mode = 'down';
    writeFileSync(join(dir, 'd.ts'), '// added during the outage\n');
    await until(() => warnings('API unavailable').length === 1, 'the outage to be noticed');
    await new Promise((r) => setTimeout(r, 1_500)); // several loop cycles inside the outage
    expect(warnings('API unavailable')).toHaveLength(1);
    fake.mode = 'up';
    await until(() => persistedFiles().includes('d.ts'), 'the new file to land after the outage');
    expect(logs.filter((l) => l.msg.includes('API reachable again'))).toHaveLength(1);
    m.stop();
    await running;
    expect(fake.completed).toEqual([{ jobId: 1, state: 'success' }]);
    expect(pool.parsed.filter((f) => f === 'd.ts').length).toBeGreaterThanOrEqual(1);
  });

  it('a 401 pauses the processor until the token file changes, then it carries on without a restart', async () => {
    fake.acceptedTokens = new Set([TOKEN_B]);
    const { m } = manager();
    const running = m.run();
    await until(() => warnings('refuses the token').length === 1, 'the 401 to be noticed');
    expect(fake.registered).toEqual([]);
    writeFileSync(tokenPath, TOKEN_B); // the minter rotates the token
    await running;
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
  });

  it('rides out a storm of 503s with retries', async () => {
    fake.failNext = 12;
    const { m } = manager();
    await m.run();
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
    expect(fake.completed).toHaveLength(1);
  });

  it('treats answers slower than the timeout as an outage and recovers when they speed up', async () => {
    fake.mode = 'slow';
    fake.slowMs = 1_000; // the test client times out after 300 ms
    const { m } = manager();
    const running = m.run();
    await until(() => fake.calls.length >= 3, 'some slow calls');
    fake.mode = 'up';
    await running;
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
  });

  it('a result the API rejects (4xx) is dropped and logged once; the other files still land', async () => {
    let rejectedOnce = 0;
    fake.overrides.set('parsing.persist', () => {
      fake.overrides.delete('parsing.persist');
      rejectedOnce++;
      return new Response(JSON.stringify({ error: { message: 'input.relativeFileloc: bad', code: -32600, data: { code: 'BAD_REQUEST', httpStatus: 400 } } }), {
        status: 400,
        headers: { 'content-type': 'application/json' },
      });
    });
    // One file per request (DAGPROC_PERSIST_BATCH_SIZE=1): results.test.ts covers a file refused inside a batch.
    const { m } = manager(config({ parsingProcesses: 1, persistBatchSize: 1 }));
    await m.run();
    expect(rejectedOnce).toBe(1);
    expect(persistedFiles()).toHaveLength(2);
    expect(warnings('rejected a parse result')).toHaveLength(1);
  });

  it('a file whose Variable read fails because the API is down is parsed again later, not stored as an import error', async () => {
    const pool = new FakePool();
    pool.readsVariables.add('b.ts');
    fake.overrides.set('parsing.fileToken', () => {
      fake.overrides.delete('parsing.fileToken');
      return new Response(null, { status: 503 });
    });
    fake.failNext = 0;
    const { m } = manager(config(), pool);
    await m.run();
    const b = fake.persisted.filter((p) => p.relativeFileloc === 'b.ts');
    expect(b.every((p) => p.importError === null)).toBe(true);
    expect(b.length).toBeGreaterThanOrEqual(1);
  });
});

describe('manager: stopping', () => {
  it('on stop() it finishes, marks its Job complete and returns', async () => {
    const { m } = manager(config({ numRuns: null }));
    const running = m.run();
    await until(() => persistedFiles().length === 3, 'the first results');
    m.stop();
    await running;
    expect(fake.completed).toEqual([{ jobId: 1, state: 'success' }]);
    expect(logs.some((l) => l.msg === 'processor stopped')).toBe(true);
  });
});

describe('manager: results the API cannot take', () => {
  it('a result over the body limit (413) is replaced by an import error saying so', async () => {
    fake.overrides.set('parsing.persist', () => {
      fake.overrides.delete('parsing.persist');
      return new Response(JSON.stringify({ detail: 'request body is larger than 16777216 bytes (DAGPROC_MAX_BODY_BYTES)' }), {
        status: 413,
        headers: { 'content-type': 'application/json' },
      });
    });
    const { m } = manager(config({ parsingProcesses: 1, persistBatchSize: 1 }));
    await m.run();
    const tooLarge = fake.persisted.filter((p) => p.importError?.stacktrace.startsWith('ResultTooLarge'));
    expect(tooLarge).toHaveLength(1);
    expect(tooLarge[0]).toMatchObject({ dags: [], sourceCode: '' });
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.mjs']);
  });

  it('a file with a NUL byte still lands: the NUL is replaced in the stored source', async () => {
    writeFileSync(join(dir, 'a.ts'), '// a\u0000b\n');
    const { m } = manager();
    await m.run();
    const a = fake.persisted.find((p) => p.relativeFileloc === 'a.ts')!;
    expect(a.sourceCode).toBe('// a\uFFFDb\n');
  });
});
