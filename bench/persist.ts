import type { PersistFileInput, PersistFileOutput } from '../shared/src/index.ts';
import { persistInputOf } from '../shared/src/testing.ts';
import type { TestServer } from '../server/src/testing/server.ts';
import { benchDagSource, benchFileloc, benchSerializedDag, TASKS_PER_DAG } from './dag-files.ts';
import type { CpuUse } from './cpu.ts';
import { countRows, withBenchServer, type DatabaseTarget } from './databases.ts';
import { check, runConcurrently, stderrProgress, timed, type Progress } from './measure.ts';
import { measurement, rateRatio, type Measurement, type Ratio, type Section } from './report.ts';

export interface PersistBenchOptions {
  /** Persists per measured row. */
  persists: number;
  /** Concurrent clients, one row pair each (e.g. [1, 8]). */
  clients: number[];
  targets: DatabaseTarget[];
  progress?: Progress;
}

type Phase = 'first' | 'steady';
/** Files per request: 1 is `parsing.persist`; more is `parsing.persistMany` with that many files. */
const BATCH_SIZES = [1, 20] as const;
type Client = ReturnType<TestServer['client']>;

const PHASE_LABEL: Record<Phase, string> = {
  first: 'first persists (a new DAG and version each)',
  steady: 're-persists of unchanged DAGs (steady state: no new version)',
};

/**
 * `parsing.persist` over real HTTP: the typed tRPC client a processor uses, against a real
 * server on a fresh database, each call one file with one ten-task DAG. The database is then
 * asked whether every persist landed as it should.
 */
export async function benchPersist(options: PersistBenchOptions): Promise<Section> {
  const progress = options.progress ?? stderrProgress;
  const rows: Measurement[] = [];
  for (const target of options.targets) {
    await withBenchServer(target, async (server) => {
      const token = await server.processorToken();
      const bundles = options.clients.flatMap((clients) => BATCH_SIZES.map((batch) => bundleFor(clients, batch)));
      await server.client(token).bundles.reconcile.mutate({
        group: 'bench',
        bundles: ['bench-warmup', ...bundles].map((name) => ({ name, kind: 'local' as const })),
      });
      // Connections, JIT and the database's caches warm up before anything is timed.
      const warmup = Math.min(100, options.persists);
      await persistMany(server, token, 'bench-warmup', offsetOf(-1, options.persists), warmup, 4, 'first');
      progress(`persist: ${target.label} server up, ${warmup} warm-up persists done`);
      for (const [c, clients] of options.clients.entries()) {
        for (const [b, batch] of BATCH_SIZES.entries()) {
          const bundleName = bundleFor(clients, batch);
          const offset = offsetOf(c * BATCH_SIZES.length + b, options.persists);
          for (const phase of ['first', 'steady'] as const) {
            const since = new Date();
            const { ms, cpu } = await persistMany(server, token, bundleName, offset, options.persists, clients, phase, batch);
            await checkLanded(server, bundleName, options.persists, phase, since);
            rows.push(
              measurement(
                keyOf(target, clients, phase, batch),
                `${target.label}, ${clients} client${clients === 1 ? '' : 's'}, ${PHASE_LABEL[phase]}${batch > 1 ? `, ${batch} files per persistMany` : ''}`,
                options.persists,
                ms,
                { cpu },
              ),
            );
            progress(`persist: ${target.label}, ${clients} client(s), batch ${batch}, ${phase}: ${options.persists} persists in ${(ms / 1000).toFixed(2)} s`);
          }
        }
      }
    });
  }
  return {
    title: 'Persist throughput over HTTP',
    about:
      `${options.persists} calls of \`parsing.persist\` per row, each one file with one ${TASKS_PER_DAG}-task DAG, sent ` +
      'with the typed tRPC client over loopback HTTP to a real server (in the benchmark process) on a fresh database. ' +
      `"N clients" is N callers each sending its next persist as soon as the last one answered. First persists create ` +
      'the DAG and its version 1; re-persists send the same files again (a new parse id), as a processor does every ' +
      'file interval, and must create no version. Rows with "files per persistMany" send that many files per request ' +
      '(`parsing.persistMany`, as the processor does by default) and count files. Each row is checked in the database afterwards.',
    unit: 'persists/s',
    rows,
    ratios: persistRatios(rows, options),
  };
}

const bundleFor = (clients: number, batch: number) => `bench-c${clients}${batch > 1 ? `-b${batch}` : ''}`;
/** Each bundle gets its own dag ids: a dag id belongs to the first file that defined it. */
const offsetOf = (row: number, persists: number) => (row + 1) * persists;
const keyOf = (target: DatabaseTarget, clients: number, phase: Phase, batch = 1) =>
  `${target.kind}-c${clients}-${phase}${batch > 1 ? `-b${batch}` : ''}`;

async function persistMany(
  server: TestServer,
  token: string,
  bundleName: string,
  offset: number,
  count: number,
  clients: number,
  phase: Phase,
  batch = 1,
): Promise<{ ms: number; cpu: CpuUse | null }> {
  const inputs: PersistFileInput[] = Array.from({ length: count }, (_, i) =>
    persistInputOf(benchFileloc(offset + i), [benchSerializedDag(offset + i)], {
      bundleName,
      sourceCode: benchDagSource(offset + i),
    }),
  );
  const callers: Client[] = Array.from({ length: clients }, () => server.client(token));
  const batches = Array.from({ length: Math.ceil(count / batch) }, (_, i) => inputs.slice(i * batch, (i + 1) * batch));
  const { value: outputs, ms, cpu } = await timed(async () =>
    batch === 1
      ? runConcurrently(inputs, callers, (client, input) => client.parsing.persist.mutate(input))
      : (
          await runConcurrently(batches, callers, async (client, files) => (await client.parsing.persistMany.mutate({ files })).results)
        ).flatMap((results) => results.map((r) => (r.ok ? r : ({ outcome: 'failed', error: r.error } as unknown as PersistFileOutput)))),
  );
  outputs.forEach((output, i) => checkOutput(output, inputs[i]!, phase));
  return { ms, cpu };
}

function checkOutput(output: PersistFileOutput, input: PersistFileInput, phase: Phase): void {
  const [dag] = output.dags;
  const expected = phase === 'first' ? { versionNumber: 1, newVersion: true } : { versionNumber: 1, newVersion: false };
  check(
    output.outcome === 'applied' &&
      output.rejected.length === 0 &&
      output.dags.length === 1 &&
      dag!.versionNumber === expected.versionNumber &&
      dag!.newVersion === expected.newVersion,
    `persisting ${input.relativeFileloc} (${phase}) should be applied as version 1 (new: ${expected.newVersion}), got ${JSON.stringify(output)}`,
  );
}

async function checkLanded(server: TestServer, bundleName: string, count: number, phase: Phase, since: Date): Promise<void> {
  const [dags, versions, parsedSince] = await Promise.all([
    countRows(server, 'select 1 from dag where bundle_name = $1 and not is_stale', [bundleName]),
    countRows(server, 'select 1 from dag_version where bundle_name = $1', [bundleName]),
    countRows(server, 'select 1 from dag where bundle_name = $1 and last_parsed_time >= $2::timestamptz', [bundleName, since.toISOString()]),
  ]);
  check(dags === count, `bundle ${bundleName} should hold ${count} live DAGs after the ${phase} persists, holds ${dags}`);
  check(versions === count, `bundle ${bundleName} should hold ${count} DAG versions after the ${phase} persists, holds ${versions}`);
  check(parsedSince === count, `all ${count} DAGs of ${bundleName} should carry the ${phase} persists' parse time, ${parsedSince} do`);
}

function persistRatios(rows: Measurement[], options: PersistBenchOptions): Ratio[] {
  const row = (target: DatabaseTarget, clients: number, phase: Phase, batch = 1) => rows.find((r) => r.key === keyOf(target, clients, phase, batch));
  const ratios: Ratio[] = [];
  const [few, many] = [Math.min(...options.clients), Math.max(...options.clients)];
  for (const target of options.targets) {
    for (const clients of options.clients) {
      ratios.push(...rateRatio(`${target.label}, ${clients} client(s): re-persist / first persist`, row(target, clients, 'steady'), row(target, clients, 'first')));
    }
    for (const clients of options.clients) {
      for (const phase of ['first', 'steady'] as const) {
        const batched = BATCH_SIZES[BATCH_SIZES.length - 1]!;
        ratios.push(...rateRatio(`${target.label}, ${clients} client(s), ${phase === 'first' ? 'first persists' : 're-persists'}: ${batched} files per request / 1`, row(target, clients, phase, batched), row(target, clients, phase)));
      }
    }
    if (many !== few) {
      for (const phase of ['first', 'steady'] as const) {
        ratios.push(...rateRatio(`${target.label}, ${phase === 'first' ? 'first persists' : 're-persists'}: ${many} clients / ${few}`, row(target, many, phase), row(target, few, phase)));
      }
    }
  }
  const pglite = options.targets.find((t) => t.kind === 'pglite');
  const postgres = options.targets.find((t) => t.kind === 'postgres');
  if (pglite && postgres) {
    for (const clients of options.clients) {
      for (const phase of ['first', 'steady'] as const) {
        ratios.push(
          ...rateRatio(`${clients} client(s), ${phase === 'first' ? 'first persists' : 're-persists'}: Postgres / PGlite`, row(postgres, clients, phase), row(pglite, clients, phase)),
        );
      }
    }
  }
  return ratios;
}
