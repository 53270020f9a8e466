import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { delay, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProcessorConfig } from './config.ts';
import type { CallbackOutcome, CallbackTask, ParseOutcome, ParseTask } from './parse-pool.ts';
import { FakeApi, ok } from './testing/fake-api.ts';
import { FakePool } from './testing/fake-pool.ts';
import { createTestManager, managerConfig, managerFixture, until, type ManagerFixture } from './testing/manager-harness.ts';

/** Edge cases of the manager loop. */

let fake: FakeApi;
const server = setupServer();
let fx: ManagerFixture;
let dir: string;
let logs: Record<string, any>[];

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  fake = new FakeApi();
  server.resetHandlers(...fake.handlers());
  fx = managerFixture();
  ({ dir, logs } = fx);
});
afterEach(() => fx.dispose());

const config = (overrides: Partial<ProcessorConfig> = {}) => managerConfig(fx, fake.url, overrides);
function manager(cfg = config(), pool: FakePool = new FakePool()) {
  return { m: createTestManager(fx, cfg, pool, { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 1000 }), pool };
}

const callback = (id: number) => ({
  id,
  dagId: 'a',
  bundleName: 'dags-folder',
  relativeFileloc: 'a.ts',
  callbackType: 'failure' as const,
  runId: `r${id}`,
  msg: null,
  context: {},
  attempts: 1,
  createdAt: new Date().toISOString(),
});

describe('callback acknowledgements', () => {
  it('callbacks finishing together are each acknowledged exactly once', async () => {
    // A real ackCallback takes a DB round trip; make it take a little while so acks overlap.
    const acks: number[] = [];
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/claims.ackCallback`, async ({ request }) => {
        const input = (await request.json()) as { id: number };
        // As the real server: the first ack deletes the row; a repeat finds nothing and answers false.
        const first = !acks.includes(input.id);
        acks.push(input.id);
        await delay(50);
        return ok({ acknowledged: first });
      }),
    );
    fake.callbacks = [1, 2, 3, 4, 5].map(callback);
    const { m, pool } = manager();
    await m.run();
    expect(pool.callbacksRun).toHaveLength(5);
    const counts = Object.fromEntries([1, 2, 3, 4, 5].map((id) => [id, acks.filter((a) => a === id).length]));
    // Each callback acked once: no duplicate acks (false "lease had lapsed" warnings) and none skipped (run twice later).
    const lapsed = logs.filter((l) => l.msg.includes('callback lease had lapsed')).length;
    expect({ counts, lapsedWarnings: lapsed }).toEqual({ counts: { 1: 1, 2: 1, 3: 1, 4: 1, 5: 1 }, lapsedWarnings: 0 });
  });
});

describe('a callback the pool refuses', () => {
  it('a callback whose task the pool rejects (e.g. a relative_fileloc inserted by SQL as "../x.ts") does not become an unhandled rejection', async () => {
    class RefusingPool extends FakePool {
      override async runCallback(task: CallbackTask): Promise<CallbackOutcome> {
        // What IsolatePool.validate throws for a relativeFileloc outside the bundle.
        throw new TypeError(`invalid callback task: relativeFileloc: a file path must stay inside its bundle (${task.relativeFileloc})`);
      }
    }
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      fake.callbacks = [{ ...callback(21), relativeFileloc: '../x.ts' }];
      const { m } = manager(config(), new RefusingPool());
      await m.run();
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled.map(String)).toEqual([]);
    // And the request should be acknowledged as failed rather than re-claimed forever.
    expect(fake.acks).toEqual([{ id: 21, outcome: 'failed' }]);
  });
});

describe('a file deleted while it is being parsed', () => {
  it("its result is not persisted after the sweep that found it gone (that would make its DAGs live again)", async () => {
    let releaseA!: () => void;
    const gate = new Promise<void>((r) => (releaseA = r));
    class GatedPool extends FakePool {
      override async parse(task: ParseTask): Promise<ParseOutcome> {
        if (task.relativeFileloc === 'a.ts') await gate;
        return super.parse(task);
      }
    }
    // Each result sent as it is ready: a lingering batch of the other files could go after the sweep.
    const { m } = manager(config({ persistBatchSize: 1 }), new GatedPool());
    const running = m.run();
    await until(() => fake.sweeps.length > 0, 'first sweep');
    unlinkSync(join(dir, 'a.ts'));
    await until(() => fake.sweeps.some((s) => !s.files.includes('a.ts')), 'a sweep without a.ts');
    releaseA();
    await running;
    // Other files' results may still be on their way after the sweep (a loaded machine); a.ts's never.
    expect({
      aPersisted: fake.persisted.some((p) => p.relativeFileloc === 'a.ts'),
      othersPersisted: fake.persisted.some((p) => p.relativeFileloc !== 'a.ts'),
    }).toEqual({ aPersisted: false, othersPersisted: true });
  });
});

describe('loop pacing while parsing', () => {
  it('does not claim priority requests and callbacks once per finished parse', async () => {
    for (let i = 0; i < 300; i++) writeFileSync(join(dir, `f${i}.ts`), `// ${i}\n`);
    class SlowPool extends FakePool {
      override async parse(task: ParseTask): Promise<ParseOutcome> {
        await new Promise((r) => setTimeout(r, 5));
        return super.parse(task);
      }
    }
    const { m } = manager(config(), new SlowPool());
    const started = Date.now();
    await m.run();
    const seconds = (Date.now() - started) / 1000;
    const claims = fake.calls.filter((c) => c === 'claims.parseRequests').length;
    // The loop sleeps 1 s between iterations; a handful of claims per second of run time is expected.
    expect({ claims, seconds: Math.round(seconds * 10) / 10 }).toMatchObject({ claims: expect.any(Number) });
    expect(claims).toBeLessThanOrEqual(Math.ceil(seconds) * 5 + 5);
  });
});

describe('back-pressure', () => {
  it('stops starting parses while the API holds back results, and resumes when it stores them', async () => {
    for (let i = 0; i < 150; i++) writeFileSync(join(dir, `f${i}.ts`), `// ${i}\n`);
    let release!: () => void;
    const stored = new Promise<void>((r) => (release = r));
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/parsing.persist`, async () => {
        await stored;
        return undefined; // on to the fake API's own handler
      }),
    );
    const { m, pool } = manager(config({ persistBatchSize: 1 }));
    const running = m.run();
    // With one file per request, at most 64 results wait unsent; the parses in flight finish too.
    await until(() => pool.parsed.length >= 64, 'parses up to the limit');
    await new Promise((r) => setTimeout(r, 300));
    expect(pool.parsed.length).toBeLessThanOrEqual(64 + config().parsingProcesses);
    release();
    await running;
    expect(fake.persisted.length).toBeGreaterThanOrEqual(150);
  });
});

describe('bundle refresh bookkeeping', () => {
  it("an unchanged bundle re-listed on every loop records its refresh once, not every time", async () => {
    const { m } = manager(config({ numRuns: null }));
    const running = m.run();
    // The bundle is re-listed on every loop turn (interval 0); claims go once a second.
    await until(() => fake.calls.filter((c) => c === 'claims.parseRequests').length >= 3, 'a few seconds of loop turns');
    m.stop();
    await running;
    expect(fake.syncs.filter((s) => s.name === 'dags-folder' && s.error === undefined)).toHaveLength(1);
  });
});
