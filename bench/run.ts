/**
 * `pnpm bench`: issue 7's benchmark. The real server and the real processor, each its own
 * process, on Postgres and on PGlite, over generated bundles; the API alone; cost against
 * bundle size; parse isolation alone. Progress goes to stderr; the report goes to stdout, to
 * BENCHMARKS.md and (the scaling chart) to BENCHMARKS-scaling.svg.
 *
 *   pnpm bench [--quick] [--files N] [--sizes 100,1000,10000] [--shapes one,mix] [--interval S]
 *              [--no-postgres | --postgres-url URL] [--no-pglite] [--only system,api,scaling,isolation] [--out FILE]
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchApi } from './api.ts';
import { cpuSince, cpuSnapshot, type CpuUse } from './cpu.ts';
import { DEFAULT_POSTGRES_URL, PGLITE, postgresTarget, probePostgres, redactUrl, type DatabaseTarget } from './databases.ts';
import { describeMachine } from './machine.ts';
import { BenchError, stderrProgress } from './measure.ts';
import { benchParse, PARSE_DEFAULTS } from './parse.ts';
import { renderReport, type BenchReport } from './render.ts';
import { benchScaling, scalingChartSvg } from './scaling.ts';
import { SHAPES, type Shape } from './shapes.ts';
import { benchSystem, BUNDLE_REFRESH_SECONDS } from './system.ts';

const BENCHMARKS = ['system', 'api', 'scaling', 'isolation'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const SIZES = {
  full: { files: 1000, scaling: [100, 1000, 10_000], persists: 1000 },
  quick: { files: 200, scaling: [100, 1000], persists: 200 },
};
const PERSIST_CLIENTS = [1, 8, 32];
const PARSING_PROCESSES = 2;
/** The processor's default DAGPROC_MIN_FILE_PROCESS_INTERVAL: the steady state it would see. */
const DEFAULT_INTERVAL = 30;
const CHANGES = 3;
const USAGE =
  'usage: pnpm bench [--quick] [--files N] [--sizes 100,1000,10000] [--shapes one,mix] [--interval S] ' +
  '[--no-postgres | --postgres-url URL] [--no-pglite] [--only system,api,scaling,isolation] [--out FILE]';

export interface RunOptions {
  quick: boolean;
  only: Benchmark[];
  files: number;
  sizes: number[];
  shapes: Shape[];
  intervalSeconds: number;
  postgresUrl: string | null;
  pglite: boolean;
  out: string;
}

class UsageError extends BenchError {}

function listOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw.split(',').map((s) => s.trim());
  const unknown = items.filter((b) => !(allowed as readonly string[]).includes(b));
  if (unknown.length > 0 || items.length === 0) throw new UsageError(`${flag}: expected a comma-separated list of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return [...new Set(items)] as T[];
}

function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function parseOptions(argv: string[]): RunOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        files: { type: 'string' },
        sizes: { type: 'string' },
        shapes: { type: 'string' },
        interval: { type: 'string' },
        'no-postgres': { type: 'boolean', default: false },
        'postgres-url': { type: 'string' },
        'no-pglite': { type: 'boolean', default: false },
        only: { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; ${USAGE}`);
  }
  const sizes = values.quick ? SIZES.quick : SIZES.full;
  if (values['no-postgres'] && values['postgres-url']) throw new UsageError('--no-postgres and --postgres-url contradict each other');
  if (values['no-postgres'] && values['no-pglite']) throw new UsageError('--no-postgres and --no-pglite leave no database to run on');
  const postgresUrl = values['no-postgres'] ? null : (values['postgres-url'] ?? process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL);
  if (postgresUrl !== null && !/^postgres(ql)?:\/\//.test(postgresUrl)) {
    throw new UsageError(`--postgres-url / TEST_DATABASE_URL: expected a postgres:// URL, got ${redactUrl(postgresUrl)}`);
  }
  const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  return {
    quick: values.quick,
    only: listOf('--only', values.only, BENCHMARKS) ?? [...BENCHMARKS],
    files: values.files === undefined ? sizes.files : wholeNumber('--files', values.files, 1, 1_000_000),
    sizes: values.sizes === undefined ? sizes.scaling : values.sizes.split(',').map((s) => wholeNumber('--sizes', s.trim(), 1, 1_000_000)),
    shapes: listOf('--shapes', values.shapes, SHAPES) ?? [...SHAPES],
    intervalSeconds: values.interval === undefined ? DEFAULT_INTERVAL : wholeNumber('--interval', values.interval, 1, 3600),
    postgresUrl,
    pglite: !values['no-pglite'],
    out: path.resolve(values.out ?? path.join(repoRoot, 'BENCHMARKS.md')),
  };
}

/** Runs the benchmarks `options` select; answers the report (also what the smoke test checks). */
export async function runBenchmarks(
  options: RunOptions & { persists?: number; isolationFiles?: number; strictFiles?: number; changes?: number; warmup?: boolean },
  progress = stderrProgress,
): Promise<BenchReport> {
  const sizes = options.quick ? SIZES.quick : SIZES.full;
  const machine = describeMachine();
  const started = performance.now();
  progress(`${machine.cpu}, ${machine.cores} cores, ${machine.memoryGib} GiB, Node ${machine.node}${options.quick ? ' (--quick)' : ''}`);
  const idleBefore = await loadBeforeRun();
  if (idleBefore && idleBefore.machineBusy > 0.2) {
    progress(`warning: the machine was ${Math.round(idleBefore.machineBusy * 100)}% busy before the run began; other work will depress the figures`);
  }
  const targets: DatabaseTarget[] = [];
  let postgresVersion: string | null = null;
  if (options.postgresUrl !== null && options.only.some((b) => b !== 'isolation')) {
    postgresVersion = await probePostgres(options.postgresUrl);
    targets.push(postgresTarget(options.postgresUrl));
    progress(`${postgresVersion} at ${redactUrl(options.postgresUrl)}: one fresh database per server process, dropped after`);
  }
  if (options.pglite) targets.push(PGLITE);

  const report: BenchReport = {
    machine,
    postgresVersion,
    pglite: options.pglite,
    quick: options.quick,
    startedAt: new Date(),
    totalSeconds: 0,
    idleBefore,
    settings: { files: options.files, processes: PARSING_PROCESSES, intervalSeconds: options.intervalSeconds, persistClients: PERSIST_CLIENTS },
    system: [],
    api: [],
    scaling: null,
    isolation: null,
  };
  if ((options.warmup ?? true) && (options.only.includes('system') || options.only.includes('scaling'))) {
    // The first server and processor of a run would pay alone for tsx's transform cache, the page
    // cache and the database's first connections: an untimed small run pays for them instead.
    progress('warm-up: an untimed run over 20 files');
    await benchSystem({
      target: targets[0]!,
      shape: 'one',
      files: 20,
      processes: PARSING_PROCESSES,
      intervalSeconds: 3600,
      refreshSeconds: BUNDLE_REFRESH_SECONDS,
      parseOnly: true,
      steady: false,
      changes: 0,
      progress: () => {},
    });
  }
  if (options.only.includes('system')) {
    for (const shape of options.shapes) {
      for (const target of targets) {
        report.system.push(
          await benchSystem({
            target,
            shape,
            files: options.files,
            processes: PARSING_PROCESSES,
            intervalSeconds: options.intervalSeconds,
            refreshSeconds: BUNDLE_REFRESH_SECONDS,
            parseOnly: true,
            steady: true,
            changes: options.changes ?? CHANGES,
            progress,
          }),
        );
      }
    }
  }
  if (options.only.includes('api')) {
    report.api = await benchApi({ targets, persists: options.persists ?? sizes.persists, clients: PERSIST_CLIENTS, progress });
  }
  if (options.only.includes('scaling')) {
    const target = targets[0]!;
    const points = await benchScaling({ target, sizes: options.sizes, processes: PARSING_PROCESSES, progress });
    report.scaling = { target: target.label, points, chart: path.basename(chartPath(options.out)) };
  }
  if (options.only.includes('isolation')) {
    report.isolation = await benchParse({
      ...PARSE_DEFAULTS,
      processes: PARSING_PROCESSES,
      files: options.isolationFiles ?? options.files,
      // Strict mode starts a process per file: a tenth of the files tells its rate.
      strictFiles: options.strictFiles ?? Math.max(1, Math.round(options.files / 10)),
      progress,
    });
  }
  report.totalSeconds = (performance.now() - started) / 1000;
  return report;
}

/** The chart sits next to the report: BENCHMARKS.md → BENCHMARKS-scaling.svg. */
export function chartPath(out: string): string {
  return out.replace(/(\.md)?$/i, '-scaling.svg');
}

/** How busy the machine is before the benchmark adds anything: other people's work shows here. */
async function loadBeforeRun(): Promise<CpuUse | null> {
  const before = cpuSnapshot();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return cpuSince(before);
}

export async function writeReport(report: BenchReport, out: string): Promise<string> {
  const markdown = renderReport(report);
  await writeFile(out, markdown);
  if (report.scaling && report.scaling.points.length > 0) await writeFile(chartPath(out), scalingChartSvg(report.scaling.points, report.scaling.target));
  return markdown;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const report = await runBenchmarks(options);
  const markdown = await writeReport(report, options.out);
  process.stdout.write(markdown);
  stderrProgress(`done in ${report.totalSeconds.toFixed(0)} s; wrote ${options.out}${report.scaling ? ` and ${chartPath(options.out)}` : ''}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    const message = error instanceof BenchError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`pnpm bench: ${message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
