/**
 * `pnpm bench`: parse isolation, persist over HTTP, and the processor end to end, on PGlite and
 * Postgres. Progress goes to stderr; the tables go to stdout and to BENCHMARKS.md.
 *
 *   pnpm bench [--quick] [--no-postgres] [--postgres-url URL] [--only parse,persist,e2e] [--out FILE]
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_POSTGRES_URL, PGLITE, postgresTarget, probePostgres, redactUrl, type DatabaseTarget } from './databases.ts';
import { benchEndToEnd } from './end-to-end.ts';
import { describeMachine, type Machine } from './machine.ts';
import { cpuSince, cpuSnapshot, type CpuUse } from './cpu.ts';
import { BenchError, stderrProgress } from './measure.ts';
import { benchParse, PARSE_DEFAULTS } from './parse.ts';
import { benchPersist } from './persist.ts';
import { rateRatio, renderSection, type Section } from './report.ts';

const BENCHMARKS = ['parse', 'persist', 'e2e'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const SIZES = {
  full: { parseFiles: 1000, strictFiles: 100, persists: 2000, e2eFiles: 1000 },
  quick: { parseFiles: 200, strictFiles: 20, persists: 200, e2eFiles: 200 },
};
const PERSIST_CLIENTS = [1, 8];
const PARSING_PROCESSES = 2;

interface RunOptions {
  quick: boolean;
  only: Benchmark[];
  postgresUrl: string | null;
  out: string;
}

function parseOptions(argv: string[]): RunOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        'no-postgres': { type: 'boolean', default: false },
        'postgres-url': { type: 'string' },
        only: { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; usage: pnpm bench [--quick] [--no-postgres] [--postgres-url URL] [--only parse,persist,e2e] [--out FILE]`);
  }
  const only = values.only === undefined ? [...BENCHMARKS] : values.only.split(',').map((s) => s.trim());
  const unknown = only.filter((b) => !(BENCHMARKS as readonly string[]).includes(b));
  if (unknown.length > 0 || only.length === 0) {
    throw new UsageError(`--only: expected a comma-separated list of ${BENCHMARKS.join(', ')}, got ${JSON.stringify(values.only)}`);
  }
  if (values['no-postgres'] && values['postgres-url']) throw new UsageError('--no-postgres and --postgres-url contradict each other');
  const postgresUrl = values['no-postgres'] ? null : (values['postgres-url'] ?? process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL);
  if (postgresUrl !== null && !/^postgres(ql)?:\/\//.test(postgresUrl)) {
    throw new UsageError(`--postgres-url / TEST_DATABASE_URL: expected a postgres:// URL, got ${redactUrl(postgresUrl)}`);
  }
  const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  return {
    quick: values.quick,
    only: only as Benchmark[],
    postgresUrl,
    out: path.resolve(values.out ?? path.join(repoRoot, 'BENCHMARKS.md')),
  };
}

class UsageError extends BenchError {}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const sizes = options.quick ? SIZES.quick : SIZES.full;
  const machine = describeMachine();
  const progress = stderrProgress;
  const started = performance.now();
  progress(`${machine.cpu}, ${machine.cores} cores, ${machine.memoryGib} GiB, Node ${machine.node}${options.quick ? ' (--quick)' : ''}`);
  const idleBefore = await loadBeforeRun();
  if (idleBefore && idleBefore.machineBusy > 0.2) {
    progress(`warning: the machine was ${Math.round(idleBefore.machineBusy * 100)}% busy before the run began; other work will depress the figures`);
  }

  const targets: DatabaseTarget[] = [PGLITE];
  let postgresVersion: string | null = null;
  if (options.postgresUrl !== null && options.only.some((b) => b !== 'parse')) {
    postgresVersion = await probePostgres(options.postgresUrl);
    targets.push(postgresTarget(options.postgresUrl));
    progress(`${postgresVersion} at ${redactUrl(options.postgresUrl)}: one fresh database per server, dropped after`);
  }

  const sections: Partial<Record<Benchmark, Section>> = {};
  if (options.only.includes('parse')) {
    sections.parse = await benchParse({ ...PARSE_DEFAULTS, processes: PARSING_PROCESSES, files: sizes.parseFiles, strictFiles: sizes.strictFiles, progress });
  }
  if (options.only.includes('persist')) {
    sections.persist = await benchPersist({ persists: sizes.persists, clients: PERSIST_CLIENTS, targets, progress });
  }
  if (options.only.includes('e2e')) {
    sections.e2e = await benchEndToEnd({ files: sizes.e2eFiles, processes: PARSING_PROCESSES, targets, progress });
    if (sections.parse) sections.e2e.ratios.push(...crossRatios(sections.e2e, sections.parse));
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const markdown = renderReport({ machine, postgresVersion, quick: options.quick, totalSeconds, idleBefore, sections: Object.values(sections) });
  await writeFile(options.out, markdown);
  process.stdout.write(markdown);
  progress(`done in ${totalSeconds.toFixed(0)} s; wrote ${options.out}`);
}

/** How busy the machine is before the benchmark adds anything: other people's work shows here. */
async function loadBeforeRun(): Promise<CpuUse | null> {
  const before = cpuSnapshot();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return cpuSince(before);
}

/** The whole processor against the pool alone: how much of the parsing throughput survives the loop, the API and the database. */
function crossRatios(e2e: Section, parse: Section) {
  const paced = parse.rows.find((r) => r.key === 'pooled-paced');
  const cold = parse.rows.find((r) => r.key === 'pooled-cold');
  return e2e.rows.flatMap((row) => [
    ...rateRatio(`end to end on ${row.label.split(':')[0]} / parse only (pooled first pass, all files queued)`, row, cold),
    ...rateRatio(`end to end on ${row.label.split(':')[0]} / parse only (pooled first pass, ${PARSING_PROCESSES} at a time)`, row, paced),
  ]);
}

function renderReport(report: {
  machine: Machine;
  postgresVersion: string | null;
  quick: boolean;
  totalSeconds: number;
  idleBefore: CpuUse | null;
  sections: Section[];
}): string {
  const { machine } = report;
  return [
    '# Benchmarks',
    '',
    'Generated by `pnpm bench` (bench/run.ts); every run overwrites this file. `pnpm bench --quick` runs smaller',
    'sizes; `--no-postgres` leaves Postgres out, `--postgres-url URL` (or `TEST_DATABASE_URL`) names the server on',
    `which each benchmark creates a fresh database and drops it afterwards (default \`${DEFAULT_POSTGRES_URL}\`);`,
    '`--only parse,persist,e2e` runs some of them. `pnpm test` does not run it; tests/bench-smoke.test.ts runs every',
    'benchmark at tiny sizes so it cannot rot.',
    '',
    'Each benchmark checks that what it measured happened (every file parsed to its DAG, every persist stored as the',
    'expected version, the database holding every DAG afterwards) and fails otherwise. Absolute figures hold for the',
    'machine below only; the ratios, taken within one run, are the numbers to compare across machines.',
    '',
    'The notes say where the CPU went during each row (Linux /proc, in cores: 1.00 is one core busy throughout):',
    '"bench" is the benchmark\'s own processes (the server and its clients in the benchmark process, and every process',
    'it started: the processor, parse processes, esbuild), "Postgres" every postgres process on the machine, "other"',
    'the rest. Other work on a shared machine depresses the figures; rows with much "other" are worth running again.',
    '',
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGib} GiB RAM; ${machine.os}; Node ${machine.node}`,
    `- Databases: PGlite (in memory, in the server's process)${report.postgresVersion ? `; ${report.postgresVersion} on loopback` : '; Postgres not measured (--no-postgres)'}`,
    `- Run: ${new Date().toISOString()}${report.quick ? ', --quick sizes' : ''}, ${report.totalSeconds.toFixed(0)} s in all` +
      (report.idleBefore ? `; the machine was ${Math.round(report.idleBefore.machineBusy * 100)}% busy in the second before it began` : ''),
    '',
    ...report.sections.flatMap((section) => [renderSection(section), '']),
  ].join('\n');
}

main().catch((error: unknown) => {
  const message = error instanceof BenchError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`pnpm bench: ${message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
