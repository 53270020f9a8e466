import type { PersistFileInput, PersistFileOutput } from '../shared/src/index.ts';
import { persistInputOf } from '../shared/src/testing.ts';
import { benchDagSource, benchFileloc, benchSerializedDag, TASKS_PER_DAG } from './dag-files.ts';
import type { DatabaseTarget } from './databases.ts';
import { check, runConcurrently, stderrProgress, type Progress } from './measure.ts';
import { ProcessSampler, type RoleSeconds } from './procfs.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

/**
 * The API alone: `parsing.persist` calls over loopback HTTP to the server process on a fresh
 * database, from N concurrent clients in the benchmark process (each sends its next call as
 * soon as the last one answered), as plain JSON POSTs any HTTP client could send. Each call
 * carries one file with one ten-task DAG. First persists create the DAG and its version 1;
 * re-persists send the same files again with a new parse id, as a processor does every file
 * interval, and must create no version. Every answer is checked, and the API must list every
 * DAG afterwards.
 */
export interface ApiBenchOptions {
  targets: DatabaseTarget[];
  /** Calls per row. */
  persists: number;
  clients: number[];
  progress?: Progress;
}

export type PersistPhase = 'first' | 'steady';

export interface ApiRow {
  target: DatabaseTarget['label'];
  clients: number;
  phase: PersistPhase;
  calls: number;
  ms: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds of the server process and of its database's Postgres backends during the row. */
  cpu: RoleSeconds;
}

export const PHASE_LABEL: Record<PersistPhase, string> = {
  first: 'first persists (new DAG and version)',
  steady: 're-persists, unchanged (no new version)',
};

export async function benchApi(options: ApiBenchOptions): Promise<ApiRow[]> {
  const progress = options.progress ?? stderrProgress;
  const rows: ApiRow[] = [];
  for (const target of options.targets) {
    const server = await startServerProcess(target);
    let backendPids = await server.backendPids();
    const sampler = new ProcessSampler(() => ({ server: server.pid, postgres: backendPids })).start();
    try {
      const token = await server.processorToken();
      const bundles = options.clients.map((c) => `bench-c${c}`);
      const reconciled = await server.mutate(
        'bundles.reconcile',
        { group: 'bench', bundles: ['bench-warmup', ...bundles].map((name) => ({ name, kind: 'local' })) },
        token,
      );
      check(reconciled.status === 200, `bundles.reconcile should answer 200, answered ${reconciled.status}: ${JSON.stringify(reconciled.body)}`);
      // Connections, JIT and the database's caches warm up before anything is timed.
      const warmup = Math.min(100, options.persists);
      await persistMany(server, token, 'bench-warmup', -warmup, warmup, 4, 'first');
      progress(`api: ${target.label} server up (pid ${server.pid}), ${warmup} warm-up persists done`);
      for (const [c, clients] of options.clients.entries()) {
        // Each bundle gets its own dag ids: a dag id belongs to the first file that defined it.
        const offset = c * options.persists;
        for (const phase of ['first', 'steady'] as const) {
          backendPids = await server.backendPids();
          const started = sampler.sample();
          const { latencies, ms } = await persistMany(server, token, bundles[c]!, offset, options.persists, clients, phase);
          const cpu = sampler.cpuBetween(started, sampler.sample());
          const listed = (await server.api(`/api/v2/dags?bundleName=${bundles[c]}&isStale=false&limit=1`)).totalEntries;
          check(listed === options.persists, `after the ${phase} persists the API should list ${options.persists} DAGs of ${bundles[c]}, lists ${listed}`);
          latencies.sort((a, b) => a - b);
          const row: ApiRow = {
            target: target.label,
            clients,
            phase,
            calls: options.persists,
            ms,
            callsPerSecond: (options.persists / ms) * 1000,
            p50Ms: percentile(latencies, 0.5),
            p99Ms: percentile(latencies, 0.99),
            cpu,
          };
          rows.push(row);
          progress(
            `api: ${target.label}, ${clients} client(s), ${phase}: ${row.callsPerSecond.toFixed(0)} calls/s, p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms`,
          );
        }
      }
    } finally {
      sampler.stop();
      await server.stop();
    }
  }
  return rows;
}

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function persistMany(
  server: ServerProcess,
  token: string,
  bundleName: string,
  offset: number,
  count: number,
  clients: number,
  phase: PersistPhase,
): Promise<{ latencies: number[]; ms: number }> {
  const inputs: PersistFileInput[] = Array.from({ length: count }, (_, i) => {
    const index = offset + i + 1_000_000; // clear of every other benchmark's ids, and never negative
    return persistInputOf(benchFileloc(index), [benchSerializedDag(index)], { bundleName, sourceCode: benchDagSource(index) });
  });
  const workers = Array.from({ length: clients }, (_, i) => i);
  const latencies: number[] = new Array(count);
  const started = performance.now();
  await runConcurrently(inputs, workers, async (_worker, input, i) => {
    const sent = performance.now();
    const { status, body } = await server.mutate('parsing.persist', input, token);
    latencies[i] = performance.now() - sent;
    check(status === 200, `persisting ${input.relativeFileloc} (${phase}) should answer 200, answered ${status}: ${JSON.stringify(body).slice(0, 500)}`);
    checkOutput((body as { result: { data: PersistFileOutput } }).result.data, input, phase);
  });
  return { latencies, ms: performance.now() - started };
}

function checkOutput(output: PersistFileOutput, input: PersistFileInput, phase: PersistPhase): void {
  const [dag] = output.dags;
  const newVersion = phase === 'first';
  check(
    output.outcome === 'applied' && output.rejected.length === 0 && output.dags.length === 1 && dag!.versionNumber === 1 && dag!.newVersion === newVersion,
    `persisting ${input.relativeFileloc} (${phase}) should be applied as version 1 (new: ${newVersion}), got ${JSON.stringify(output)}`,
  );
}

export const API_ABOUT =
  `\`parsing.persist\` over loopback HTTP to the server process (\`pnpm start:server\`) on a fresh database, each call ` +
  `one file with one ${TASKS_PER_DAG}-task DAG, from N concurrent clients in the benchmark process (each sends its next ` +
  'call when the last one answered). First persists create the DAG and its version 1; re-persists send the same files ' +
  'again with a new parse id, as a processor does every file interval, and must create no version. Every answer is ' +
  'checked, and the API must list every DAG afterwards. Latency is per call, as the client saw it.';
