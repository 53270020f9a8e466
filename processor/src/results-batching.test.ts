import { http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PersistFileInput } from '@dagproc/shared';
import { createLogger } from '@dagproc/shared/log';
import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import { createApiClient } from './api/client.ts';
import { ApiHealth, OnceLog } from './api-health.ts';
import { PendingResults, type PendingResultsOptions } from './results.ts';
import { FakeApi, trpcError } from './testing/fake-api.ts';
import { managerFixture, until, type ManagerFixture } from './testing/manager-harness.ts';

/** PendingResults sending results in batches through parsing.persistMany, against msw's stand-in API. */

let fake: FakeApi;
const server = setupServer();
let fx: ManagerFixture;

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());
beforeEach(() => {
  fake = new FakeApi();
  server.resetHandlers(...fake.handlers());
  fx = managerFixture([]);
});
afterEach(() => fx.dispose());

function pendingResults(options: PendingResultsOptions) {
  const logger = createLogger('processor', { level: 'debug', write: (line) => fx.logs.push(JSON.parse(line)) });
  const client = createApiClient({
    apiUrl: fake.url,
    tokenPath: fx.tokenPath,
    logger,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 1_000 },
  });
  const health = new ApiHealth(logger);
  return { results: new PendingResults(client.api, health, new OnceLog(logger), logger, options), health };
}

const resultOf = (file: string, o: Partial<PersistFileInput> = {}) => persistInputOf(file, [serializedDagOf(file.replace(/\W/g, '_'))], o);
const persistedFiles = () => fake.persisted.map((p) => p.relativeFileloc).sort();

describe('PendingResults: when a batch goes', () => {
  it('a full batch goes at once, without waiting out the linger', async () => {
    const { results } = pendingResults({ batchSize: 3, lingerMs: 60_000 });
    for (const f of ['a.ts', 'b.ts', 'c.ts']) results.add(resultOf(f));
    await until(() => results.size === 0, 'the batch to be stored');
    expect(fake.batches).toEqual([3]);
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.ts']);
  });

  it('fewer results than a batch wait for the linger, then go together', async () => {
    const { results } = pendingResults({ batchSize: 10, lingerMs: 200 });
    results.add(resultOf('a.ts'));
    results.add(resultOf('b.ts'));
    expect(fake.calls).toEqual([]); // still lingering: nothing sent yet
    await until(() => results.size === 0, 'the lingering results to be sent');
    expect(fake.batches).toEqual([2]);
  });

  it('draining sends what waits at once, however long the linger', async () => {
    const { results } = pendingResults({ batchSize: 10, lingerMs: 60_000 });
    results.add(resultOf('a.ts'));
    results.add(resultOf('b.ts'));
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.calls).toEqual([]);
    results.flushNow();
    await until(() => results.size === 0, 'the drained results to be stored');
    expect(fake.batches).toEqual([2]);
  });

  it("a waiting result of a file found gone is dropped, so it cannot revive the file's DAGs after the sweep", async () => {
    const { results } = pendingResults({ batchSize: 10, lingerMs: 60_000 });
    results.add(resultOf('gone.ts', { priorityRequestIds: [7] }));
    results.add(resultOf('kept.ts'));
    results.add(resultOf('other-bundle.ts', { bundleName: 'other' }));
    expect(results.forgetMissing('dags-folder', new Set(['kept.ts']))).toEqual({ priorityRequestIds: [7] });
    results.flushNow();
    await until(() => results.size === 0, 'the rest to be stored');
    expect(persistedFiles()).toEqual(['kept.ts', 'other-bundle.ts']);
  });

  it('more results than a batch holds go in several batches, none larger than the batch size', async () => {
    const { results } = pendingResults({ batchSize: 4, lingerMs: 20, maxInFlight: 1 });
    for (let i = 0; i < 10; i++) results.add(resultOf(`f${i}.ts`));
    await until(() => results.size === 0, 'every result to be stored');
    expect(fake.batches.every((n) => n <= 4)).toBe(true);
    expect(fake.batches.reduce((a, b) => a + b, 0)).toBe(10);
    expect(persistedFiles()).toHaveLength(10);
  });

  it('batch size 1 sends each result with parsing.persist', async () => {
    const { results } = pendingResults({ batchSize: 1 });
    results.add(resultOf('a.ts'));
    results.add(resultOf('b.ts'));
    await until(() => results.size === 0, 'both results to be stored');
    expect(fake.calls).toEqual(['parsing.persist', 'parsing.persist']);
  });
});

describe('PendingResults: failures', () => {
  it('a batch answered 503 (beyond the client retries) is kept whole and sent once the API is back', async () => {
    const { results, health } = pendingResults({ batchSize: 3, lingerMs: 10 });
    fake.mode = '503';
    for (const f of ['a.ts', 'b.ts', 'c.ts']) results.add(resultOf(f));
    await until(() => health.down, 'the outage to be noticed');
    expect(results.size).toBe(3);
    fake.mode = 'up';
    health.succeeded(); // what the manager's next successful call does
    results.flush();
    await until(() => results.size === 0, 'the kept batch to be stored');
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.ts']);
  });

  it('a storm of 503s shorter than the client retries loses nothing', async () => {
    const { results } = pendingResults({ batchSize: 3, lingerMs: 10 });
    fake.failNext = 2;
    for (const f of ['a.ts', 'b.ts', 'c.ts']) results.add(resultOf(f));
    await until(() => results.size === 0, 'the batch to be stored');
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.ts']);
  });

  it('a file the server could not store now (a 503 outcome) is sent again; the others are not', async () => {
    const { results } = pendingResults({ batchSize: 3, lingerMs: 10 });
    fake.refuseInBatch.set('b.ts', { code: 'SERVICE_UNAVAILABLE', httpStatus: 503, message: 'retry later' });
    for (const f of ['a.ts', 'b.ts', 'c.ts']) results.add(resultOf(f));
    await until(() => results.size === 0 && persistedFiles().includes('b.ts'), 'b.ts to land on its second try');
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.ts']);
  });

  it('a file the server refuses (a 400 outcome) is dropped and logged once; the others land', async () => {
    const { results } = pendingResults({ batchSize: 3, lingerMs: 10 });
    fake.refuseInBatch.set('b.ts', { code: 'BAD_REQUEST', httpStatus: 400, message: 'input.files[1].dags[0].dagId: bad' });
    for (const f of ['a.ts', 'b.ts', 'c.ts']) results.add(resultOf(f));
    await until(() => results.size === 0, 'the batch to settle');
    expect(persistedFiles()).toEqual(['a.ts', 'c.ts']);
    expect(results.rejected).toBe(1);
    expect(fx.logs.filter((l) => l.msg.includes('rejected a parse result'))).toEqual([
      expect.objectContaining({ relativeFileloc: 'b.ts', error: 'input.files[1].dags[0].dagId: bad' }),
    ]);
  });

  it('a batch over the body limit (413) is sent again file by file, so only the oversized file becomes an import error', async () => {
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/parsing.persistMany`, () => new Response('{"detail":"too large"}', { status: 413 })),
      http.post(`${fake.url}/dag-processing/trpc/parsing.persist`, async ({ request }) => {
        const input = (await request.clone().json()) as PersistFileInput;
        if (input.relativeFileloc === 'huge.ts' && input.dags.length > 0) return new Response('{"detail":"too large"}', { status: 413 });
        fake.persisted.push(input);
        return Response.json({ result: { data: { outcome: 'applied', dags: [], rejected: [], warnings: [] } } });
      }),
    );
    const { results } = pendingResults({ batchSize: 2, lingerMs: 10 });
    results.add(resultOf('small.ts'));
    results.add(resultOf('huge.ts'));
    await until(() => results.size === 0, 'both files to settle');
    const huge = fake.persisted.find((p) => p.relativeFileloc === 'huge.ts')!;
    expect(huge.importError?.stacktrace).toMatch(/^ResultTooLarge/);
    expect(fake.persisted.find((p) => p.relativeFileloc === 'small.ts')!.dags).toHaveLength(1);
  });

  it('an API without parsing.persistMany (404) gets every result through parsing.persist from then on', async () => {
    let batchesTried = 0;
    server.use(
      http.post(`${fake.url}/dag-processing/trpc/parsing.persistMany`, () => {
        batchesTried++;
        return trpcError(404, 'NOT_FOUND', 'No procedure found');
      }),
    );
    const { results } = pendingResults({ batchSize: 2, lingerMs: 10 });
    results.add(resultOf('a.ts'));
    results.add(resultOf('b.ts'));
    await until(() => results.size === 0, 'the first pair');
    results.add(resultOf('c.ts'));
    results.add(resultOf('d.ts'));
    await until(() => results.size === 0, 'the second pair');
    expect(persistedFiles()).toEqual(['a.ts', 'b.ts', 'c.ts', 'd.ts']);
    expect(batchesTried).toBe(1);
  });
});

describe('PendingResults: one result per file', () => {
  it('a result put back after a failed send never replaces a newer parse of its file that arrived meanwhile', async () => {
    const { results, health } = pendingResults({ batchSize: 2, lingerMs: 10 });
    fake.mode = '503';
    const t0 = Date.now();
    const older = resultOf('a.ts', { parseStartedAt: new Date(t0).toISOString(), parseFinishedAt: new Date(t0 + 1).toISOString(), priorityRequestIds: [3] });
    const newer = resultOf('a.ts', { parseStartedAt: new Date(t0 + 10).toISOString(), parseFinishedAt: new Date(t0 + 11).toISOString() });
    results.add(older);
    results.add(resultOf('b.ts'));
    await until(() => fake.calls.length > 0, 'the first batch to be tried');
    results.add(newer); // parsed again while the first batch fails
    await until(() => health.down && results.size === 2, 'the failed batch to be put back');
    fake.mode = 'up';
    health.succeeded();
    results.flush();
    await until(() => results.size === 0, 'the results to land');
    const a = fake.persisted.filter((p) => p.relativeFileloc === 'a.ts');
    expect(a.map((p) => [p.parseId, p.priorityRequestIds])).toEqual([[newer.parseId, [3]]]);
  });
});
