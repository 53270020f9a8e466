import { rmSync } from 'node:fs';
import path from 'node:path';
import { startProcessor, writeToken, type ProcessorHandle } from '../tests/helpers/processor.ts';
import { benchDagId } from './dag-files.ts';
import type { DatabaseTarget } from './databases.ts';
import { check, stderrProgress, type Progress } from './measure.ts';
import { ProcessSampler, type PeakMemory, type RoleSeconds } from './procfs.ts';
import { ROWS_WRITTEN_SETTLE_MS, startServerProcess, writesBetween, type ServerProcess } from './server-process.ts';
import { writeShapedBundle, type Shape, type ShapedBundle } from './shapes.ts';

/**
 * The whole system as deployed: `pnpm start:server` as its own process on a fresh database, and
 * `pnpm start:processor` as another, over a generated bundle. One run measures, in order:
 *   parse-only  the processor with `--dry-run --num-runs 1`: spawn to its first-pass line;
 *   cold        a long-running processor: spawn until the API lists every DAG of the bundle;
 *   steady      the same processor's next pass over the unchanged files: the pass's wall time,
 *               each process's CPU seconds in it, and the rows it wrote;
 *   change      one file rewritten with a new DAG version: the write until the API shows it;
 *   memory      peak resident set of the server, the processor and its parse processes.
 */
export interface SystemOptions {
  target: DatabaseTarget;
  shape: Shape;
  files: number;
  /** DAGPROC_PARSING_PROCESSES. */
  processes: number;
  /**
   * DAGPROC_MIN_FILE_PROCESS_INTERVAL of the long-running processor, seconds. The steady pass
   * measured must begin after the rows-written counters settled past the previous pass, so on
   * Postgres it must exceed a pass's duration plus ROWS_WRITTEN_SETTLE_MS.
   */
  intervalSeconds: number;
  /** How often the processor re-lists the bundle (seconds): how soon it sees a changed file. */
  refreshSeconds: number;
  parseOnly: boolean;
  steady: boolean;
  /** One-file changes to time (0: none). */
  changes: number;
  /** Each phase must finish within this, or the benchmark fails. */
  timeoutMs?: number;
  progress?: Progress;
}

/** The system runs re-list the bundle this often (seconds), so a changed file is seen soon. */
/**
 * DAGPROC_BUNDLE_REFRESH_INTERVAL's default: a changed file is seen by the file watcher
 * (DAGPROC_FILE_WATCH, on by default) long before the next listing.
 */
export const BUNDLE_REFRESH_SECONDS = 10;
const BUNDLE = 'bench';
const POLL_MS = 50;

export interface PhaseResult {
  ms: number;
  filesPerSecond: number;
  cpu: RoleSeconds;
}

export interface SteadyResult {
  /** Which pass over the files was measured (the first eligible unless an earlier one overlapped the settling). */
  pass: number;
  ms: number;
  cpu: RoleSeconds;
  /**
   * The whole cycle: from the previous pass's end to this one's, so the bundle listings,
   * heartbeats and waiting between passes count too (a cycle is DAGPROC_MIN_FILE_PROCESS_INTERVAL).
   */
  cycleMs: number;
  cycleCpu: RoleSeconds;
  /** Postgres: rows inserted, updated or deleted over the window, per table; null on PGlite. */
  rows: { window: number; byTable: Map<string, number>; parseResults: number; bookkeeping: number } | null;
  /** Seen through the API: DAGs whose last parse time moved, and new versions (must be 0). */
  dagsRestamped: number;
  newVersions: number;
}

export interface SystemResult {
  target: DatabaseTarget['label'];
  shape: Shape;
  files: number;
  dags: number;
  processes: number;
  intervalSeconds: number;
  refreshSeconds: number;
  parseOnly: (PhaseResult & { memory: PeakMemory }) | null;
  cold: PhaseResult;
  /**
   * The pass after cold: every file parsed again (a file becomes static only once two parses
   * agree), results re-sent unchanged; what a processor without incremental parsing pays each pass.
   */
  reparse: SteadyResult | null;
  /** The steady state: a pass after a pass that skipped the static files too (incremental parsing). */
  steady: SteadyResult | null;
  /** Milliseconds from each write to the new version in the API. */
  changes: number[];
  memory: PeakMemory;
}

/** Tables whose rows only say a processor is alive or a bundle was listed, not what a parse found. */
const BOOKKEEPING_TABLES = new Set(['job', 'dag_bundle']);

export async function benchSystem(options: SystemOptions): Promise<SystemResult> {
  const progress = options.progress ?? stderrProgress;
  const label = `${options.target.label}, ${options.shape}, ${options.files} files`;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const bundle = await writeShapedBundle(options.shape, options.files);
  let server: ServerProcess | null = null;
  let processor: ProcessorHandle | null = null;
  let tokenPath: string | null = null;
  let backendPids: number[] = [];
  const sampler = new ProcessSampler(() => ({ server: server?.pid, processor: processor?.child.pid ?? undefined, postgres: backendPids }));
  const pidsTimer = setInterval(() => {
    void server
      ?.backendPids()
      .then((pids) => (backendPids = pids))
      .catch(() => {});
  }, 1000);
  try {
    server = await startServerProcess(options.target);
    backendPids = await server.backendPids();
    sampler.start();
    tokenPath = writeToken(await server.processorToken());
    progress(`${label}: server up (pid ${server.pid}), ${bundle.dags} DAGs in the bundle`);
    const spawn = (args: string[]) =>
      startProcessor({
        apiUrl: server!.url,
        tokenPath: tokenPath!,
        bundles: [{ name: BUNDLE, path: bundle.root }],
        env: {
          DAGPROC_BUNDLES: JSON.stringify([{ name: BUNDLE, kind: 'local', path: bundle.root, refreshInterval: options.refreshSeconds }]),
          DAGPROC_PARSING_PROCESSES: String(options.processes),
          DAGPROC_MIN_FILE_PROCESS_INTERVAL: String(options.intervalSeconds),
          DAGPROC_FILE_PARSE_TIMEOUT: '50',
          DAGPROC_HEARTBEAT_INTERVAL: '5',
          // Per-file debug lines would cost the processor time the benchmark means to measure.
          DAGPROC_LOG_LEVEL: 'info',
        },
        args,
      });

    let parseOnly: SystemResult['parseOnly'] = null;
    if (options.parseOnly) {
      sampler.resetProcessorPeaks();
      const started = sampler.sample();
      processor = spawn(['--dry-run', '--num-runs', '1']);
      const pass = await waitForLog(processor, (l) => l.msg === 'first pass over all bundles done', 'the dry run\'s first-pass line', timeoutMs);
      const ended = sampler.sample();
      const memory = sampler.peakMemory();
      const code = await exitOf(processor, timeoutMs);
      check(code === 0, `the dry run should exit 0, exited ${code}; its last output:\n${tail(processor)}`);
      check(
        pass.line.files === options.files && pass.line.importErrors === 0,
        `the dry run should parse all ${options.files} files without an import error, logged ${JSON.stringify(pass.line)}`,
      );
      const [dags, jobs] = await Promise.all([server.api('/api/v2/dags?limit=1'), server.api('/api/v2/jobs?limit=1')]);
      check(dags.totalEntries === 0 && jobs.totalEntries === 0, `the dry run should write nothing, but the API lists ${dags.totalEntries} DAGs and ${jobs.totalEntries} Jobs`);
      const ms = pass.at - started;
      parseOnly = { ms, filesPerSecond: (options.files / ms) * 1000, cpu: sampler.cpuBetween(started, ended), memory };
      progress(`${label}: parse only (--dry-run) ${seconds(ms)}`);
      processor = null;
    }

    sampler.resetProcessorPeaks();
    const coldStarted = sampler.sample();
    processor = spawn([]);
    const visibleAt = await pollUntil(
      async () => (await server!.api(`/api/v2/dags?bundleName=${BUNDLE}&isStale=false&limit=1`)).totalEntries >= bundle.dags,
      `all ${bundle.dags} DAGs listed by the API`,
      timeoutMs,
      processor,
    );
    const coldEnded = sampler.sample();
    const errors = await server.api(`/api/v2/importErrors?bundleName=${BUNDLE}&limit=1`);
    check(errors.totalEntries === 0, `the cold run should leave no import error, the API lists ${errors.totalEntries}`);
    const coldMs = visibleAt - coldStarted;
    const cold: PhaseResult = { ms: coldMs, filesPerSecond: (options.files / coldMs) * 1000, cpu: sampler.cpuBetween(coldStarted, coldEnded) };
    progress(`${label}: cold ${seconds(coldMs)}, ${cold.filesPerSecond.toFixed(0)} files/s`);

    // A pass falls due an interval after the last one; one that never ends means the processor stopped logging passes.
    const passTimeoutMs = Math.min(timeoutMs, 2 * options.intervalSeconds * 1000 + 3 * coldMs + 60_000);
    const reparse = options.steady ? await measureSteady(server, processor, bundle, sampler, options, 1, passTimeoutMs) : null;
    if (reparse) progress(`${label}: re-parse pass ${reparse.pass} ${seconds(reparse.ms)}, ${totalCpu(reparse.cpu).toFixed(2)} CPU-s`);
    // Steady state is a cycle after a skipping pass: the first one after the re-parse still
    // holds that pass's aftermath (parse processes collecting garbage, then ending idle).
    const steady = reparse ? await measureSteady(server, processor, bundle, sampler, options, reparse.pass + 1, passTimeoutMs) : null;
    if (steady) progress(`${label}: steady pass ${steady.pass} ${seconds(steady.ms)}, ${totalCpu(steady.cpu).toFixed(2)} CPU-s`);

    const changes: number[] = [];
    for (let trial = 1; trial <= options.changes; trial++) {
      const index = bundle.plainFiles[Math.floor((trial * bundle.plainFiles.length) / (options.changes + 1))]!;
      changes.push(await timeChange(server, processor, bundle, index, trial, timeoutMs));
    }
    if (changes.length) progress(`${label}: changed files visible after ${changes.map((ms) => seconds(ms)).join(', ')}`);

    sampler.sample();
    const memory = sampler.peakMemory();
    const code = await processor.stop();
    check(code === 0, `the processor should stop with exit 0 on SIGTERM, exited ${code}; its last output:\n${tail(processor)}`);
    return {
      target: options.target.label,
      shape: options.shape,
      files: options.files,
      dags: bundle.dags,
      processes: options.processes,
      intervalSeconds: options.intervalSeconds,
      refreshSeconds: options.refreshSeconds,
      parseOnly,
      cold,
      reparse,
      steady,
      changes,
      memory,
    };
  } finally {
    clearInterval(pidsTimer);
    sampler.stop();
    if (processor && processor.child.exitCode === null) await processor.stop('SIGKILL');
    await server?.stop();
    if (tokenPath) rmSync(path.dirname(tokenPath), { recursive: true, force: true });
    await bundle.dispose();
  }
}

/**
 * Waits for pass `afterPass` to end, lets the database's counters settle, reads them, and
 * measures the next pass. When that pass began before the reading (a long pass, a short
 * interval), it tries the one after, up to three passes on.
 */
async function measureSteady(
  server: ServerProcess,
  processor: ProcessorHandle,
  bundle: ShapedBundle,
  sampler: ProcessSampler,
  options: SystemOptions,
  afterPass: number,
  timeoutMs: number,
): Promise<SteadyResult> {
  const settle = options.target.kind === 'postgres' ? ROWS_WRITTEN_SETTLE_MS : 0;
  let previous =
    afterPass === 1
      ? await waitForLog(processor, (l) => l.msg === 'first pass over all bundles done', 'the first-pass line', timeoutMs)
      : await waitForLog(processor, (l) => l.msg === 'pass over all bundles done' && l.pass >= afterPass, `the line of pass ${afterPass}`, timeoutMs);
  for (let pass = afterPass + 1; pass <= afterPass + 3; pass++) {
    await delay(Math.max(0, previous.at + settle - performance.now()));
    const snapshotAt = sampler.sample();
    const [writesBefore, viewBefore] = [await server.tableWrites(), await dagView(server)];
    const done = await waitForLog(
      processor,
      // Passes that overlapped are logged as one, under the later number.
      (l) => l.msg === 'pass over all bundles done' && l.pass >= pass,
      `the processor's "pass over all bundles done" line for pass ${pass} (the steady pass is timed by it)`,
      timeoutMs,
    );
    const startedAt = Date.parse(String(done.line.startedAt)) - performance.timeOrigin;
    if (startedAt < snapshotAt) {
      previous = done;
      pass = done.line.pass;
      continue;
    }
    check(
      done.line.files === options.files && done.line.importErrors === 0,
      `pass ${done.line.pass} should cover all ${options.files} files without an import error, logged ${JSON.stringify(done.line)}`,
    );
    const cpu = sampler.cpuBetween(startedAt, done.at);
    const cycleCpu = sampler.cpuBetween(previous.at, done.at);
    await delay(Math.max(0, done.at + settle - performance.now()));
    const windowEnd = performance.now();
    const [writesAfter, viewAfter] = [await server.tableWrites(), await dagView(server)];
    let dagsRestamped = 0;
    let newVersions = 0;
    for (const [dagId, before] of viewBefore) {
      const after = viewAfter.get(dagId);
      check(after !== undefined, `DAG ${dagId} should still be listed after the steady pass`);
      if (after.lastParsedTime !== before.lastParsedTime) dagsRestamped++;
      newVersions += (after.latestVersionNumber ?? 0) - (before.latestVersionNumber ?? 0);
    }
    check(viewBefore.size === bundle.dags, `the API should list ${bundle.dags} DAGs before the steady pass, lists ${viewBefore.size}`);
    check(newVersions === 0, `unchanged files must make no new DAG version, yet pass ${done.line.pass} made ${newVersions}`);
    let rows: SteadyResult['rows'] = null;
    if (writesBefore && writesAfter) {
      const { byTable } = writesBetween(writesBefore, writesAfter);
      let parseResults = 0;
      let bookkeeping = 0;
      for (const [table, n] of byTable) {
        if (BOOKKEEPING_TABLES.has(table)) bookkeeping += n;
        else parseResults += n;
      }
      rows = { window: (windowEnd - snapshotAt) / 1000, byTable, parseResults, bookkeeping };
    }
    return { pass: done.line.pass, ms: done.at - startedAt, cpu, cycleMs: done.at - previous.at, cycleCpu, rows, dagsRestamped, newVersions };
  }
  throw new Error(
    `every pass from ${afterPass + 1} to ${afterPass + 3} began before the previous one's writes had settled; raise the interval (now ${options.intervalSeconds} s) above a pass's duration plus ${settle / 1000} s`,
  );
}

/** Rewrites file `index` with a new revision of its DAG; answers the milliseconds until the API shows the new version. */
async function timeChange(server: ServerProcess, processor: ProcessorHandle, bundle: ShapedBundle, index: number, revision: number, timeoutMs: number) {
  const dagId = benchDagId(index);
  const before = (await server.api(`/api/v2/dags/${dagId}`)).latestVersionNumber as number;
  await bundle.change(index, revision);
  const written = performance.now();
  const visible = await pollUntil(
    async () => (await server.api(`/api/v2/dags/${dagId}`)).latestVersionNumber === before + 1,
    `version ${before + 1} of ${dagId} in the API`,
    timeoutMs,
    processor,
  );
  return visible - written;
}

/** Every DAG of the bundle as the API lists it: last parse time and latest version. */
async function dagView(server: ServerProcess): Promise<Map<string, { lastParsedTime: string | null; latestVersionNumber: number | null }>> {
  const view = new Map<string, { lastParsedTime: string | null; latestVersionNumber: number | null }>();
  for (let offset = 0; ; offset += 1000) {
    const page = await server.api(`/api/v2/dags?bundleName=${BUNDLE}&limit=1000&offset=${offset}`);
    for (const dag of page.dags) view.set(dag.dagId, { lastParsedTime: dag.lastParsedTime, latestVersionNumber: dag.latestVersionNumber });
    if (page.dags.length < 1000) return view;
  }
}

/** Polls `done` every POLL_MS; answers the performance.now() at which it first held. */
async function pollUntil(done: () => Promise<boolean>, what: string, timeoutMs: number, processor: ProcessorHandle): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await done()) return performance.now();
    check(processor.child.exitCode === null, `the processor exited (${processor.child.exitCode}) before ${what}; its last output:\n${tail(processor)}`);
    check(performance.now() < deadline, `timed out after ${timeoutMs / 1000} s waiting for ${what}; the processor's last output:\n${tail(processor)}`);
    await delay(POLL_MS);
  }
}

/** Waits for a processor log line; `at` is when it was logged, on performance.now()'s clock. */
async function waitForLog(processor: ProcessorHandle, match: (line: Record<string, any>) => boolean, what: string, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const line = processor.logs.find(match);
    // The line's own time, not when this poll saw it: a line that arrived during another wait is still placed right.
    if (line) return { line, at: typeof line.time === 'string' ? Date.parse(line.time) - performance.timeOrigin : performance.now() };
    check(processor.child.exitCode === null, `the processor exited (${processor.child.exitCode}) before ${what}; its last output:\n${tail(processor)}`);
    check(performance.now() < deadline, `timed out after ${timeoutMs / 1000} s waiting for ${what}; the processor's last output:\n${tail(processor)}`);
    await delay(10);
  }
}

async function exitOf(processor: ProcessorHandle, timeoutMs: number): Promise<number | null> {
  const timer = setTimeout(() => void processor.stop('SIGKILL'), timeoutMs);
  return processor.exited.finally(() => clearTimeout(timer));
}

function tail(processor: ProcessorHandle): string {
  return [...processor.stderr, ...processor.logs.map((l) => JSON.stringify(l))].slice(-15).join('\n');
}

export function totalCpu(cpu: RoleSeconds): number {
  return cpu.server + cpu.processor + cpu.isolates + cpu.esbuild + cpu.postgres;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
