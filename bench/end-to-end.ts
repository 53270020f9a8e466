import { rmSync } from 'node:fs';
import path from 'node:path';
import type { TestServer } from '../server/src/testing/server.ts';
import { startProcessor, writeToken } from '../tests/helpers/processor.ts';
import { cpuSince, cpuSnapshot } from './cpu.ts';
import { TASKS_PER_DAG, writeBenchBundle, type BenchBundle } from './dag-files.ts';
import { countRows, withBenchServer, type DatabaseTarget } from './databases.ts';
import { check, stderrProgress, type Progress } from './measure.ts';
import { measurement, rateRatio, type Measurement, type Section } from './report.ts';

export interface EndToEndBenchOptions {
  files: number;
  /** DAGPROC_PARSING_PROCESSES. */
  processes: number;
  targets: DatabaseTarget[];
  /** The processor must exit within this, or the benchmark fails. */
  timeoutMs?: number;
  progress?: Progress;
}

const BUNDLE = 'bench';

/**
 * The real processor (`pnpm start:processor`, its own process, `--num-runs 1`) over a bundle
 * of generated DAG files, against a real server on a fresh database: from spawn to exit 0.
 * Afterwards the database must hold every file's DAG and no import error.
 */
export async function benchEndToEnd(options: EndToEndBenchOptions): Promise<Section> {
  const progress = options.progress ?? stderrProgress;
  const bundle = await writeBenchBundle(options.files);
  progress(`end to end: ${options.files} DAG files written to ${bundle.root}`);
  const rows: Measurement[] = [];
  try {
    for (const target of options.targets) {
      const row = await withBenchServer(target, (server) => runProcessor(server, target, bundle, options));
      rows.push(row);
      progress(`end to end: ${target.label}, ${row.count} files in ${seconds(row.ms)}, all ${row.count} DAGs in the database`);
    }
  } finally {
    await bundle.dispose();
  }
  const [pglite, postgres] = [rows.find((r) => r.key === 'pglite'), rows.find((r) => r.key === 'postgres')];
  return {
    title: 'End to end: processor over a bundle',
    about:
      `The real processor as its own process (\`--num-runs 1\`, DAGPROC_PARSING_PROCESSES=${options.processes}) over a ` +
      `bundle of ${options.files} generated ${TASKS_PER_DAG}-task DAG files, against a real server (in the benchmark ` +
      'process) on a fresh database: wall time from spawning the processor to its exit 0, which it reaches once ' +
      'every file was parsed once and its result stored. The database is then checked to hold every DAG and no ' +
      'import error.',
    unit: 'files/s',
    rows,
    ratios: rateRatio('Postgres / PGlite', postgres, pglite),
  };
}

async function runProcessor(server: TestServer, target: DatabaseTarget, bundle: BenchBundle, options: EndToEndBenchOptions): Promise<Measurement> {
  const tokenPath = writeToken(await server.processorToken());
  try {
    const spawnedAt = Date.now();
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    const processor = startProcessor({
      apiUrl: server.url,
      tokenPath,
      bundles: [{ name: BUNDLE, path: bundle.root }],
      env: {
        DAGPROC_PARSING_PROCESSES: String(options.processes),
        // Per-file debug lines would cost the processor time the benchmark means to measure.
        DAGPROC_LOG_LEVEL: 'info',
        DAGPROC_FILE_PARSE_TIMEOUT: '50',
        DAGPROC_MIN_FILE_PROCESS_INTERVAL: '30',
      },
      args: ['--num-runs', '1'],
    });
    const timeoutMs = options.timeoutMs ?? 240_000;
    const timer = setTimeout(() => void processor.stop('SIGKILL'), timeoutMs);
    const code = await processor.exited.finally(() => clearTimeout(timer));
    const ms = performance.now() - started;
    const cpu = cpuSince(cpuBefore);

    const tail = () => [...processor.stderr, ...processor.logs.map((l) => JSON.stringify(l))].slice(-15).join('\n');
    check(code === 0, `the processor should exit 0 within ${timeoutMs / 1000} s, exited ${code}; its last output:\n${tail()}`);
    const [dags, serialized, importErrors] = await Promise.all([
      countRows(server, 'select 1 from dag where bundle_name = $1 and not is_stale', [BUNDLE]),
      countRows(server, 'select 1 from serialized_dag sd join dag_version dv on dv.id = sd.dag_version_id where dv.bundle_name = $1', [BUNDLE]),
      countRows(server, 'select 1 from import_error where bundle_name = $1', [BUNDLE]),
    ]);
    check(
      dags === options.files && serialized === options.files && importErrors === 0,
      `after the run the database should hold ${options.files} DAGs and serialized DAGs and no import error, ` +
        `holds ${dags} DAGs, ${serialized} serialized DAGs, ${importErrors} import errors; the processor's last output:\n${tail()}`,
    );

    const readyAt = logTime(processor.logs, 'processor started');
    const parsedAt = logTime(processor.logs, 'first pass over all bundles done');
    const note = [
      readyAt === null ? null : `processor start-up ${seconds(readyAt - spawnedAt)} included`,
      parsedAt === null ? null : `every file parsed ${seconds(parsedAt - spawnedAt)} after spawn; the rest went to storing results and stopping`,
    ]
      .filter((part) => part !== null)
      .join('; ');
    return measurement(target.kind, `${target.label}: spawn to exit 0, ${options.processes} parsing processes`, options.files, ms, { cpu, note });
  } finally {
    rmSync(path.dirname(tokenPath), { recursive: true, force: true });
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function logTime(logs: Record<string, unknown>[], msg: string): number | null {
  const line = logs.find((l) => l.msg === msg);
  return typeof line?.time === 'string' ? Date.parse(line.time) : null;
}
