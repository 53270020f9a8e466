import { API_ABOUT, PHASE_LABEL, type ApiRow } from './api.ts';
import type { CpuUse } from './cpu.ts';
import { DEFAULT_POSTGRES_URL } from './databases.ts';
import type { Machine } from './machine.ts';
import type { RoleSeconds } from './procfs.ts';
import { markdownTable, num, renderSection, type Section } from './report.ts';
import { SCALING_REFRESH_SECONDS, type ScalingPoint } from './scaling.ts';
import { ROWS_WRITTEN_SETTLE_MS } from './server-process.ts';
import { describeShape, SHAPES } from './shapes.ts';
import { BUNDLE_REFRESH_SECONDS, totalCpu, type SystemResult } from './system.ts';

/** Everything one `pnpm bench` run found, for BENCHMARKS.md. */
export interface BenchReport {
  machine: Machine;
  postgresVersion: string | null;
  pglite: boolean;
  quick: boolean;
  startedAt: Date;
  totalSeconds: number;
  idleBefore: CpuUse | null;
  settings: { files: number; processes: number; intervalSeconds: number; persistClients: number[] };
  system: SystemResult[];
  api: ApiRow[];
  scaling: { target: string; points: ScalingPoint[]; chart: string } | null;
  isolation: Section | null;
}

const s = (ms: number) => num(ms / 1000, 2);
const mb = (value: number | null) => num(value, 0);
const cpuCell = (cpu: RoleSeconds, postgres: boolean) =>
  `${num(totalCpu(cpu), 2)} (server ${num(cpu.server, 2)}, processor ${num(cpu.processor, 2)}, parse processes ${num(cpu.isolates, 2)}, esbuild ${num(cpu.esbuild, 2)}${postgres ? `, Postgres ${num(cpu.postgres, 2)}` : ''})`;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
};

interface Target {
  goal: string;
  reached: string;
  met: boolean | null;
}

/** Issue 7's targets beside what this run reached (null: not measured in this run). */
export function targetsOf(report: BenchReport): Target[] {
  const main = report.system.find((r) => r.target === 'Postgres' && r.shape === 'one');
  const on = main ? `Postgres, ${main.files} one-DAG files` : null;
  const notMeasured = (why: string): Pick<Target, 'reached' | 'met'> => ({ reached: `not measured (${why})`, met: null });
  const sized = (met: boolean) => (main && main.files === 1000 ? met : null);
  const targets: Target[] = [];

  targets.push({
    goal: 'cold, 1,000 one-DAG files, Postgres: ≥ 100 files/s end to end',
    ...(main ? { reached: `${num(main.cold.filesPerSecond, 0)} files/s (${s(main.cold.ms)} s; ${on})`, met: sized(main.cold.filesPerSecond >= 100) } : notMeasured('no Postgres system run')),
  });
  const share = main?.parseOnly ? main.cold.ms / main.parseOnly.ms : null;
  targets.push({
    goal: "the API's share: end to end ≤ 1.25 × parse-only",
    ...(main && share !== null ? { reached: `${num(share, 2)} × (${s(main.cold.ms)} s / ${s(main.parseOnly!.ms)} s)`, met: sized(share <= 1.25) } : notMeasured('no Postgres system run')),
  });
  const steady = main?.steady;
  targets.push({
    goal: 'steady state, 1,000 unchanged files: zero rows written',
    ...(steady?.rows
      ? {
          reached: `${steady.rows.parseResults} rows of parse results (${[...steady.rows.byTable].filter(([t]) => t !== 'job' && t !== 'dag_bundle').map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}); ${steady.rows.bookkeeping} bookkeeping rows (Job heartbeats, bundle refreshes) in the ${num(steady.rows.window, 1)} s window`,
          met: sized(steady.rows.parseResults === 0),
        }
      : notMeasured('no Postgres steady pass')),
  });
  targets.push({
    goal: 'steady state, 1,000 unchanged files: < 0.5 CPU-seconds per cycle',
    ...(steady
      ? {
          reached: `${num(totalCpu(steady.cycleCpu), 2)} CPU-s, all processes, over the whole ${s(steady.cycleMs)} s cycle (pass ${steady.pass} itself: ${num(totalCpu(steady.cpu), 2)} CPU-s in ${s(steady.ms)} s)`,
          met: sized(totalCpu(steady.cycleCpu) < 0.5),
        }
      : notMeasured('no Postgres steady pass')),
  });
  const worstChange = main && main.changes.length ? Math.max(...main.changes) : null;
  targets.push({
    goal: 'one changed file among 1,000: new version visible within 2 s of the write',
    ...(worstChange !== null
      ? { reached: `${s(worstChange)} s at worst, ${s(median(main!.changes))} s median of ${main!.changes.length} (file watcher on, bundle re-listed every ${BUNDLE_REFRESH_SECONDS} s)`, met: sized(worstChange <= 2000) }
      : notMeasured('no Postgres system run')),
  });
  const at8 = report.api.filter((r) => r.target === 'Postgres' && r.clients === 8);
  targets.push({
    goal: 'persist p99 < 25 ms at 8 concurrent clients',
    ...(at8.length
      ? { reached: at8.map((r) => `${num(r.p99Ms, 1)} ms (${r.phase === 'first' ? 'first persists' : 're-persists'})`).join('; '), met: at8.every((r) => r.p99Ms < 25) }
      : notMeasured('no Postgres API run')),
  });
  const big = report.scaling?.points.find((p) => p.files === 10_000);
  targets.push({
    goal: 'at 10,000 files: processor peak RSS < 300 MB, server < 250 MB',
    ...(big
      ? {
          reached: `processor ${mb(big.memory.processor)} MB (+ parse processes, ${mb(big.memory.isolate)} MB each at most), server ${mb(big.memory.server)} MB (${report.scaling!.target})`,
          met: (big.memory.processor ?? Infinity) < 300 && (big.memory.server ?? Infinity) < 250,
        }
      : notMeasured('the 10,000-file point was not run: --quick or --sizes')),
  });
  return targets;
}

export function renderReport(report: BenchReport): string {
  const { machine } = report;
  const hasPostgres = report.postgresVersion !== null;
  const lines: string[] = [
    '# Benchmarks',
    '',
    'Generated by `pnpm bench` (bench/run.ts); every run overwrites this file and the chart next to it. Options:',
    '`--quick` (smaller sizes, no 10,000-file point), `--files N`, `--sizes 100,1000,10000` (the scaling points),',
    '`--shapes one,mix`, `--interval S` (the long-running processor\'s DAGPROC_MIN_FILE_PROCESS_INTERVAL),',
    `\`--no-postgres\`, \`--postgres-url URL\` (or \`TEST_DATABASE_URL\`; default \`${DEFAULT_POSTGRES_URL}\`, on which every`,
    'server gets a fresh database, dropped after), `--no-pglite`, `--only system,api,scaling,isolation`, `--out FILE`.',
    '`pnpm test` does not run it; tests/bench-smoke.test.ts runs every benchmark at tiny sizes so it cannot rot.',
    'Benchmarks are not tests: nothing here asserts a time, but each benchmark checks that what it measured',
    'happened (every DAG listed by the API, no import error, no new version for unchanged files, every persist',
    'answered as expected) and fails otherwise.',
    '',
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGib} GiB RAM; ${machine.os}; Node ${machine.node}`,
    `- Databases: ${hasPostgres ? `${report.postgresVersion} on loopback` : 'Postgres not measured (--no-postgres)'}; ${report.pglite ? "PGlite (the server's embedded database, files in a temp folder)" : 'PGlite not measured (--no-pglite)'}`,
    `- Run: ${report.startedAt.toISOString()}${report.quick ? ', --quick sizes' : ''}, ${report.totalSeconds.toFixed(0)} s in all` +
      (report.idleBefore ? `; the machine was ${Math.round(report.idleBefore.machineBusy * 100)}% busy in the second before it began (other work depresses the figures)` : ''),
    `- Settings: DAGPROC_PARSING_PROCESSES=${report.settings.processes}, pooled parsing (the default), DAGPROC_LOG_LEVEL=info, file watcher on (the default), bundle re-listed every ${BUNDLE_REFRESH_SECONDS} s (the default), ` +
      `DAGPROC_MIN_FILE_PROCESS_INTERVAL=${report.settings.intervalSeconds} s for the long-running processor, file sort mode modified_time (a changed mtime queues the file at once); ` +
      'an untimed run over 20 files warms caches (tsx, the page cache) before the first timed one',
    '',
    '## Issue 7 targets',
    '',
    markdownTable(
      ['target', 'reached', 'met'],
      targetsOf(report).map((t) => [t.goal, t.reached, t.met === null ? '—' : t.met ? 'yes' : 'no']),
    ),
    '',
    '"—": not measured at the size the target names in this run.',
    '',
  ];

  if (report.system.length > 0) lines.push(...renderSystem(report));
  if (report.api.length > 0) lines.push(...renderApi(report.api));
  if (report.scaling) lines.push(...renderScaling(report.scaling));
  if (report.isolation) lines.push(renderSection(report.isolation), '');
  return lines.join('\n');
}

function renderSystem(report: BenchReport): string[] {
  const rows = report.system;
  const label = (r: SystemResult) => `${r.target}, ${r.shape}`;
  const shapes = SHAPES.filter((shape) => rows.some((r) => r.shape === shape));
  const out: string[] = [
    '## The system: server and processor processes over a bundle',
    '',
    '`pnpm start:server` and `pnpm start:processor` as separate processes (spawned as `node --import tsx ...`), the',
    'server on a fresh database, the processor over a bundle of generated TypeScript DAG files:',
    '',
    ...shapes.map((shape) => `- \`${shape}\`: ${describeShape(shape)}.`),
    '',
    'Phases, in order, on one server: **parse-only** is the processor with `--dry-run --num-runs 1` (every file parsed',
    'in the same isolated processes, nothing written through the API), from spawn to its first-pass log line;',
    '**cold** is a long-running processor from spawn until `/api/v2/dags` lists every DAG of the bundle (polled every',
    `50 ms); **re-parse** is that processor's next pass over the unchanged files, from the pass's first parse to every`,
    'result handed to the API (its `pass over all bundles done` line): every file parsed again, since a file is',
    'static only once two parses agree, and its unchanged result sent (what every pass costs with incremental',
    'parsing off); **steady** (incremental) is the second pass after it, the first whose cycle begins after a pass that also skipped the static files (the first skipping cycle still holds the aftermath of the re-parse: idle parse processes collecting garbage, then ended); **change** rewrites one file with a new',
    'revision of its DAG and times the write until `/api/v2/dags/{id}` shows the next version.',
    '',
    'CPU seconds come from /proc (utime + stime): the server process; the processor process; its parse processes',
    '(their own time, live or already exited); the esbuild transform service; and, on Postgres, the backends serving',
    'the run\'s database. Peak memory is VmHWM, sampled every 200 ms.',
    '',
    '### Cold and parse-only',
    '',
    markdownTable(
      ['run', 'files', 'DAGs', 'cold (s)', 'cold files/s', 'parse-only (s)', 'parse-only files/s', "API's share (cold / parse-only)", 'CPU-s in the cold run'],
      rows.map((r) => [
        label(r),
        num(r.files),
        num(r.dags),
        s(r.cold.ms),
        num(r.cold.filesPerSecond, 0),
        r.parseOnly ? s(r.parseOnly.ms) : 'n/a',
        r.parseOnly ? num(r.parseOnly.filesPerSecond, 0) : 'n/a',
        r.parseOnly ? num(r.cold.ms / r.parseOnly.ms, 2) : 'n/a',
        cpuCell(r.cold.cpu, r.target === 'Postgres'),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
    '### Steady state: one more pass over the unchanged files',
    '',
    `Rows written are pg_stat_user_tables' n_tup_ins + n_tup_upd + n_tup_del deltas between two readings, each taken`,
    `${ROWS_WRITTEN_SETTLE_MS / 1000} s after the last pass ended (Postgres 15 flushes a backend's counters at most once a second, else`,
    'after 10 s idle; pg_stat_force_next_flush() reaches only the calling backend), so the window also holds the',
    'bookkeeping writes of those seconds: Job heartbeats (`job`) and bundle refreshes (`dag_bundle`). PGlite offers',
    'no view from outside its process; there, and on Postgres too, the API tells how many DAGs had their last parse',
    'time moved by the pass and how many new versions appeared (the benchmark fails unless that is 0).',
    '',
    markdownTable(
      ['run', 'pass', 'wall (s)', 'CPU-s', 'whole cycle: s, CPU-s', 'rows written: parse results', 'rows written: bookkeeping', 'DAGs re-stamped (API)'],
      rows
        .flatMap((r) => [
          ...(r.reparse ? [{ r, steady: r.reparse, what: 're-parse' }] : []),
          ...(r.steady ? [{ r, steady: r.steady, what: 'incremental' }] : []),
        ])
        .map(({ r, steady, what }) => {
          return [
            `${label(r)}, ${what}`,
            String(steady.pass),
            s(steady.ms),
            cpuCell(steady.cpu, r.target === 'Postgres'),
            `${s(steady.cycleMs)} s, ${num(totalCpu(steady.cycleCpu), 2)}`,
            steady.rows
              ? `${steady.rows.parseResults}${steady.rows.parseResults ? ` (${[...steady.rows.byTable].filter(([t]) => t !== 'job' && t !== 'dag_bundle').map(([t, n]) => `${t} ${n}`).join(', ')})` : ''}`
              : 'n/a (PGlite)',
            steady.rows ? `${steady.rows.bookkeeping} in ${num(steady.rows.window, 1)} s` : 'n/a (PGlite)',
            `${num(steady.dagsRestamped)} of ${num(r.dags)}`,
          ];
        }),
      ['l', 'r', 'r', 'l', 'r', 'l', 'l', 'r'],
    ),
    '',
    '### One changed file',
    '',
    `The processor's file watcher (DAGPROC_FILE_WATCH, on by default) queues a written file at once, ahead of its interval;`,
    `the bundle is also re-listed every ${BUNDLE_REFRESH_SECONDS} s as the safety net (in modified_time sort mode a file whose mtime changed is`,
    'queued then too). Each trial edits a different one-DAG file.',
    '',
    markdownTable(
      ['run', 'trials', 'write → new version in the API (s)', 'median (s)'],
      rows.filter((r) => r.changes.length).map((r) => [label(r), String(r.changes.length), r.changes.map(s).join(', '), s(median(r.changes))]),
      ['l', 'r', 'l', 'r'],
    ),
    '',
    '### Peak memory (MiB, VmHWM)',
    '',
    markdownTable(
      ['run', 'server', 'processor', 'one parse process, at most', 'all parse processes at once', 'processor in --dry-run'],
      rows.map((r) => [label(r), mb(r.memory.server), mb(r.memory.processor), mb(r.memory.isolate), mb(r.memory.isolatesTogether), r.parseOnly ? mb(r.parseOnly.memory.processor) : 'n/a']),
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
  ];
  return out;
}

function renderApi(rows: ApiRow[]): string[] {
  return [
    '## The API alone: parsing.persist',
    '',
    API_ABOUT,
    '',
    markdownTable(
      ['server on', 'clients', 'calls', 'calls/s', 'p50 (ms)', 'p99 (ms)', 'CPU-s: server, Postgres backends'],
      rows.map((r) => [
        `${r.target}, ${PHASE_LABEL[r.phase]}`,
        String(r.clients),
        num(r.calls),
        num(r.callsPerSecond, 0),
        num(r.p50Ms, 1),
        num(r.p99Ms, 1),
        `${num(r.cpu.server, 2)}${r.target === 'Postgres' ? `, ${num(r.cpu.postgres, 2)}` : ''}`,
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
  ];
}

function renderScaling(scaling: NonNullable<BenchReport['scaling']>): string[] {
  return [
    '## Scaling: cold files/s against bundle size',
    '',
    `The cold run (spawn until the API lists every DAG) on ${scaling.target}, one-DAG files, a fresh server and database`,
    `for each size, the processor otherwise on its defaults (bundle re-listed every ${SCALING_REFRESH_SECONDS} s). Chart:`,
    `[${scaling.chart}](${scaling.chart}).`,
    '',
    `![cold files/s against bundle size](${scaling.chart})`,
    '',
    markdownTable(
      ['files', 'cold (s)', 'files/s', 'server peak (MiB)', 'processor peak (MiB)', 'one parse process, at most (MiB)'],
      scaling.points.map((p) => [num(p.files), s(p.ms), num(p.filesPerSecond, 0), mb(p.memory.server), mb(p.memory.processor), mb(p.memory.isolate)]),
      ['r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
  ];
}

