import { isDeepStrictEqual } from 'node:util';
import { IsolatePool, type IsolatePoolOptions, type ParseOutcome } from '../processor/src/isolate/index.ts';
import { benchDagId, benchSerializedDag, TASKS_PER_DAG, writeBenchBundle, type BenchBundle } from './dag-files.ts';
import { check, runConcurrently, stderrProgress, timed, type Progress } from './measure.ts';
import { measurement, rateRatio, rowOf, type Measurement, type Section } from './report.ts';

export interface ParseBenchOptions {
  files: number;
  /** Strict mode starts a process per file: a smaller batch tells its rate as well. */
  strictFiles: number;
  /** DAGPROC_PARSING_PROCESSES. */
  processes: number;
  /** DAGPROC_ISOLATE_MAX_FILES. */
  maxFilesPerProcess: number;
  progress?: Progress;
}

export const PARSE_DEFAULTS: Omit<ParseBenchOptions, 'files' | 'strictFiles'> = {
  processes: 2,
  // The processor's default for DAGPROC_ISOLATE_MAX_FILES.
  maxFilesPerProcess: 500,
};

/**
 * Isolated parsing alone (no server): the IsolatePool parsing generated DAG files, pooled and
 * strict. Every outcome is checked to hold the file's one ten-task DAG.
 */
export async function benchParse(options: ParseBenchOptions): Promise<Section> {
  const progress = options.progress ?? stderrProgress;
  const strictFiles = Math.min(options.strictFiles, options.files);
  const bundle = await writeBenchBundle(options.files);
  const { processes: size } = options;
  progress(`parse: ${options.files} DAG files written to ${bundle.root}`);
  const rows: Measurement[] = [];
  try {
    // esbuild's service and this process's JIT warm up untimed, so the first measured pool pays only for itself.
    await withPool(options, 'pooled', (pool) => parseAll(pool, bundle, Math.min(50, options.files), options.files));
    await withPool(options, 'pooled', async (pool, startMs) => {
      const cold = await parseAll(pool, bundle, options.files, options.files);
      rows.push(
        measurement('pooled-cold', `pooled, first pass (transforms every file; pool start included), ${size} processes`, cold.count, cold.ms + startMs, { cpu: cold.cpu }),
      );
      progress(`parse: pooled first pass, ${cold.count} files in ${seconds(cold.ms + startMs)}`);
      const warm = await parseAll(pool, bundle, options.files, options.files);
      rows.push(
        measurement('pooled-warm', 'pooled, second pass (files unchanged: cached transforms, warm processes)', warm.count, warm.ms, { cpu: warm.cpu }),
      );
      progress(`parse: pooled second pass, ${warm.count} files in ${seconds(warm.ms)}`);
    });
    await withPool(options, 'pooled', async (pool, startMs) => {
      // The processor's loop hands the pool only as many files as it has processes.
      const paced = await parseAll(pool, bundle, options.files, size);
      rows.push(
        measurement(
          'pooled-paced',
          `pooled, first pass, only ${size} files submitted at a time (as the processor's loop submits)`,
          paced.count,
          paced.ms + startMs,
          { cpu: paced.cpu, note: 'nothing queued, so the pool transforms no file ahead of its turn' },
        ),
      );
      progress(`parse: pooled first pass, ${size} at a time, ${paced.count} files in ${seconds(paced.ms + startMs)}`);
    });
    await withPool(options, 'strict', async (pool, startMs) => {
      const strict = await parseAll(pool, bundle, strictFiles, strictFiles);
      rows.push(measurement('strict', `strict, one process per file, ${size} at once`, strict.count, strict.ms + startMs, { cpu: strict.cpu }));
      progress(`parse: strict, ${strict.count} files in ${seconds(strict.ms + startMs)}`);
    });
  } finally {
    await bundle.dispose();
  }
  const section: Section = {
    title: 'Parse isolation throughput',
    about:
      `${options.files} generated TypeScript DAG files of ${TASKS_PER_DAG} tasks each, parsed by the IsolatePool ` +
      `(processor/src/isolate) with ${size} processes, no server involved. Pooled mode reuses a process for up to ` +
      `${options.maxFilesPerProcess} files, each in a fresh vm context; strict mode starts a process per file, so ` +
      `it runs a smaller batch of ${strictFiles} files. Every outcome is checked to hold its file's DAG.`,
    unit: 'files/s',
    rows,
    ratios: [],
  };
  const strict = rowOf(section, 'strict');
  section.ratios.push(
    ...rateRatio('pooled first pass / strict', rowOf(section, 'pooled-cold'), strict),
    ...rateRatio('pooled second pass / strict', rowOf(section, 'pooled-warm'), strict),
    ...rateRatio('pooled second pass / pooled first pass', rowOf(section, 'pooled-warm'), rowOf(section, 'pooled-cold')),
    ...rateRatio(
      `pooled first pass: all files queued / ${size} at a time`,
      rowOf(section, 'pooled-cold'),
      rowOf(section, 'pooled-paced'),
      'what a deeper hand-off from the processor loop to the pool could gain',
    ),
  );
  return section;
}

async function withPool(
  options: ParseBenchOptions,
  mode: IsolatePoolOptions['mode'],
  work: (pool: IsolatePool, startMs: number) => Promise<unknown>,
): Promise<void> {
  const pool = new IsolatePool({
    mode,
    size: options.processes,
    timeoutMs: 50_000,
    maxFilesPerProcess: options.maxFilesPerProcess,
    memoryLimitMb: 512,
    // Bench files read no Variables; nothing listens here.
    apiUrl: 'http://127.0.0.1:9',
  });
  const start = await timed(() => pool.start());
  try {
    await work(pool, start.ms);
  } finally {
    await pool.close();
  }
}

/** Parses the bundle's first `count` files with at most `inFlight` submitted at once, checking every outcome. */
async function parseAll(pool: IsolatePool, bundle: BenchBundle, count: number, inFlight: number) {
  const files = bundle.files.slice(0, count);
  const workers = Array.from({ length: Math.min(inFlight, files.length) }, (_, i) => i);
  const { value: outcomes, ms, cpu } = await timed(() =>
    runConcurrently(files, workers, (_worker, relativeFileloc) =>
      pool.parse({
        bundleName: 'bench',
        bundleRoot: bundle.root,
        relativeFileloc,
        fileToken: () => Promise.reject(new Error('the bench DAG files read no Variables')),
      }),
    ),
  );
  outcomes.forEach((outcome, i) => checkOutcome(outcome, i, files[i]!));
  return { count: files.length, ms, cpu };
}

function checkOutcome(outcome: ParseOutcome, index: number, relativeFileloc: string): void {
  check(outcome.importError === null, `${relativeFileloc} failed to parse: ${outcome.importError?.stacktrace}`);
  // The persist benchmark sends benchSerializedDag without parsing: it must be what parsing yields.
  check(
    outcome.dags.length === 1 && isDeepStrictEqual(outcome.dags[0], benchSerializedDag(index)),
    `${relativeFileloc} should define ${benchDagId(index)} exactly as benchSerializedDag(${index}) in bench/dag-files.ts ` +
      `describes it (update that if the serialization changed); got ${JSON.stringify(outcome.dags)}`,
  );
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
