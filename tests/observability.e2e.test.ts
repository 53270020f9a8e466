import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@dagproc/server/testing/server';
import { parseExposition } from '@dagproc/shared/metrics-parse';
import { TempBundle, dagFile } from './helpers/bundle.ts';
import { until } from './helpers/poll.ts';
import { startProcessor, writeToken, type ProcessorHandle } from './helpers/processor.ts';

let ts: TestServer;
let bundle: TempBundle;
let tokenPath: string;

/** A port nothing listens on now (the processor binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  ts = await startTestServer();
  bundle = new TempBundle();
  bundle.write('good.ts', dagFile('observed'));
  bundle.write('broken.ts', 'throw new Error("on purpose");\n');
  tokenPath = writeToken(await ts.processorToken());
}, 60_000);

afterAll(async () => {
  bundle.dispose();
  await ts.close();
});

describe('a running processor with DAGPROC_PROCESSOR_HEALTH_PORT', () => {
  let processor: ProcessorHandle;
  let health: string;

  beforeAll(async () => {
    const port = await freePort();
    health = `http://127.0.0.1:${port}`;
    processor = startProcessor({
      apiUrl: ts.url,
      tokenPath,
      bundles: [{ name: 'observed', path: bundle.root }],
      env: {
        DAGPROC_PROCESSOR_HEALTH_PORT: String(port),
        DAGPROC_HEALTH_CHECK_THRESHOLD: '2',
        DAGPROC_PRINT_STATS_INTERVAL: '1',
        DAGPROC_LOG_FORMAT: 'json',
      },
    });
    await processor.waitForLog((l) => l.msg === 'health endpoint listening', 'the health endpoint', 30_000);
  }, 60_000);

  afterAll(async () => {
    await processor?.stop();
  });

  it('answers /health 200 and serves metrics that count its parses, and the server counts its calls', async () => {
    await until(async () => (await get(`${health}/health`)).status === 200, 'a healthy processor');
    const metrics = await until(async () => {
      const scraped = parseExposition((await get(`${health}/metrics`)).text);
      const ok = scraped.value('dagproc_processor_files_parsed_total', { bundle: 'observed', outcome: 'ok' }) ?? 0;
      const failed = scraped.value('dagproc_processor_files_parsed_total', { bundle: 'observed', outcome: 'import_error' }) ?? 0;
      return ok >= 1 && failed >= 1 ? scraped : null;
    }, 'both files parsed');
    expect(metrics.value('dagproc_processor_import_errors', { bundle: 'observed' })).toBe(1);
    expect(metrics.value('dagproc_processor_bundle_files', { bundle: 'observed' })).toBe(2);
    expect(metrics.value('dagproc_processor_parse_duration_seconds_count', { bundle: 'observed' })).toBeGreaterThanOrEqual(2);
    expect(metrics.value('dagproc_processor_last_heartbeat_timestamp_seconds')).toBeGreaterThan(0);

    // The first heartbeat after registering comes a DAGPROC_HEARTBEAT_INTERVAL later.
    const server = await until(async () => {
      const scraped = parseExposition((await get(`${ts.url}/metrics`)).text);
      return (scraped.value('dagproc_http_requests_total', { route: 'jobs.heartbeat', status: '200' }) ?? 0) >= 1 ? scraped : null;
    }, 'the server to count a heartbeat');
    // Both files' results, sent one by one or together in a persistMany batch.
    expect(server.value('dagproc_persist_files_total', { outcome: 'applied' })).toBeGreaterThanOrEqual(2);
    const persistCalls = ['parsing.persist', 'parsing.persistMany'].map((route) => server.value('dagproc_http_requests_total', { route, status: '200' }) ?? 0);
    expect(persistCalls[0]! + persistCalls[1]!).toBeGreaterThanOrEqual(1);
    expect(server.value('dagproc_http_requests_total', { route: 'jobs.register', status: '200' })).toBe(1);
  });

  it('logs the stats line with its fields', async () => {
    // A line lists the files parsed so far: wait for one written after both were.
    const line = await processor.waitForLog(
      (l) => l.msg === 'DAG file processing stats' && l.slowest?.length === 2,
      'a stats line naming both files',
      30_000,
    );
    expect(line).toMatchObject({
      level: 'info',
      component: 'processor',
      parsed: expect.any(Number),
      queued: expect.any(Number),
      bundles: [{ bundle: 'observed', files: 2, parsed: expect.any(Number), importErrors: 1 }],
    });
    expect(line.slowest.map((s: { file: string }) => s.file).sort()).toEqual(['broken.ts', 'good.ts']);
    expect(line.slowest[0]).toEqual({ bundle: 'observed', file: expect.any(String), lastDurationSeconds: expect.any(Number), importError: expect.any(Boolean) });
  });

  it('answers 503 naming the stale heartbeat while the API is down, and 200 once it is back', async () => {
    await ts.stop();
    try {
      const down = await until(async () => {
        const answer = await get(`${health}/health`);
        return answer.status === 503 ? answer : null;
      }, 'health to go 503');
      // Whichever is noticed first: the heartbeat growing old, or the loop held up retrying the API.
      expect(JSON.parse(down.text)).toMatchObject({
        status: 'unhealthy',
        reason: expect.stringMatching(/^(the last heartbeat the API accepted was \d+s ago \(threshold 2s\)|the processor loop has not turned for \d+s)$/),
      });
      // The client retries a while before it calls the API down.
      const metrics = await until(async () => {
        const scraped = parseExposition((await get(`${health}/metrics`)).text);
        return scraped.value('dagproc_processor_api_up') === 0 ? scraped : null;
      }, 'the processor to see the API down');
      expect(metrics.value('dagproc_processor_api_failures_total', { kind: 'unavailable' })).toBeGreaterThanOrEqual(1);
    } finally {
      await ts.start();
    }
    await until(async () => (await get(`${health}/health`)).status === 200, 'health to be 200 again');
  }, 60_000);

  it('stops cleanly', async () => {
    expect(await processor.stop('SIGTERM')).toBe(0);
  }, 30_000);
});

describe('processor startup', () => {
  it('a bad health port stops it with one line naming the setting and exit code 2', async () => {
    const processor = startProcessor({
      apiUrl: ts.url,
      tokenPath,
      bundles: [{ name: 'observed', path: bundle.root }],
      env: { DAGPROC_PROCESSOR_HEALTH_PORT: '99999' },
    });
    expect(await processor.exited).toBe(2);
    expect(processor.stderr).toEqual(['dagproc processor: DAGPROC_PROCESSOR_HEALTH_PORT: must be a port number from 1 to 65535 (got "99999")']);
  });

  it('a health port already in use stops it the same way', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const processor = startProcessor({
        apiUrl: ts.url,
        tokenPath,
        bundles: [{ name: 'observed', path: bundle.root }],
        env: { DAGPROC_PROCESSOR_HEALTH_PORT: String(port) },
      });
      expect(await processor.exited).toBe(2);
      expect(processor.stderr).toEqual([`dagproc processor: DAGPROC_PROCESSOR_HEALTH_PORT: 127.0.0.1:${port} is already in use`]);
    } finally {
      taken.close();
    }
  });

  it('DAGPROC_LOG_FORMAT=pretty writes `time level component msg key=value` lines', async () => {
    const processor = startProcessor({
      apiUrl: ts.url,
      tokenPath,
      bundles: [{ name: 'observed', path: bundle.root }],
      env: { DAGPROC_LOG_FORMAT: 'pretty', DAGPROC_LOG_LEVEL: 'info' },
      args: ['--num-runs', '1'],
    });
    expect(await processor.exited).toBe(0);
    expect(processor.logs).toEqual([]); // no JSON at all
    expect(processor.stderr).toContainEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  processor processor started jobId=\d+ bundles=\["observed"\] parsingProcesses=2$/));
    expect(processor.stderr).toContainEqual(expect.stringMatching(/^\S+ INFO  processor processor stopped jobId=\d+ parsed=2 skippedUnchanged=0 importErrors=1 callbacksRun=0$/));
  }, 60_000);
});
