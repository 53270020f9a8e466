import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietProgress } from '../bench/measure.ts';
import type { BenchReport } from '../bench/render.ts';
import { chartPath, parseOptions, runBenchmarks, writeReport } from '../bench/run.ts';
import { dagIdsOf, shapedSource } from '../bench/shapes.ts';

/**
 * `pnpm bench` is not part of `pnpm test`; this runs all of it once at tiny sizes so it cannot
 * rot. Each benchmark checks by itself that what it measured happened (every DAG listed by the
 * API, no new version for unchanged files, every persist answered as expected) and throws
 * otherwise; here each must also have measured something. As every database test, it runs on
 * PGlite, or on Postgres instead when TEST_DATABASE_URL is set (slower: the row counters need
 * 10 s to settle on either side of the steady pass).
 */
const postgresUrl = process.env.TEST_DATABASE_URL ?? null;
const dir = mkdtempSync(join(tmpdir(), 'dagproc-bench-smoke-'));
const out = join(dir, 'BENCHMARKS.md');
let report: BenchReport;
let markdown: string;

beforeAll(async () => {
  report = await runBenchmarks(
    {
      ...parseOptions(['--out', out, ...(postgresUrl ? ['--postgres-url', postgresUrl, '--no-pglite'] : ['--no-postgres'])]),
      files: 12,
      sizes: [6, 12],
      // The mix covers every kind of file; scaling runs the one-DAG shape.
      shapes: ['mix'],
      // On Postgres the steady pass must start after the first pass's row counters settled.
      intervalSeconds: postgresUrl ? 14 : 4,
      persists: 12,
      isolationFiles: 12,
      strictFiles: 2,
      changes: 1,
      // The warm-up is the system benchmark at 20 files, untimed: the runs below cover it.
      warmup: false,
    },
    quietProgress,
  );
  markdown = await writeReport(report, out);
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const targets = postgresUrl ? ['Postgres'] : ['PGlite'];

describe('pnpm bench, at tiny sizes', () => {
  it('the system benchmark measures parse-only, cold, a steady pass, a changed file and peak memory on each database', () => {
    expect(report.system.map((r) => r.target)).toEqual(targets);
    for (const r of report.system) {
      expect(r.dags).toBe(Array.from({ length: 12 }, (_, i) => dagIdsOf('mix', i).length).reduce((a, b) => a + b));
      expect(r.parseOnly!.ms).toBeGreaterThan(0);
      expect(r.cold.filesPerSecond).toBeGreaterThan(0);
      expect(r.cold.cpu.processor).toBeGreaterThan(0);
      // The pass after cold parses every file again (two agreeing parses make a file static) and
      // re-stamps every DAG; the pass after that skips them all: nothing re-stamped.
      expect(r.reparse!.pass).toBeGreaterThanOrEqual(2);
      expect(r.reparse!.dagsRestamped).toBe(r.dags);
      expect(r.steady!.pass).toBeGreaterThan(r.reparse!.pass);
      expect(r.steady!.ms).toBeGreaterThan(0);
      expect(r.steady!.cycleMs).toBeGreaterThan(r.steady!.ms);
      expect(r.steady!.newVersions).toBe(0);
      expect(r.steady!.dagsRestamped).toBe(0);
      expect(r.changes).toHaveLength(1);
      expect(r.memory.server).toBeGreaterThan(0);
      expect(r.memory.processor).toBeGreaterThan(0);
      expect(r.memory.isolate).toBeGreaterThan(0);
      if (r.target === 'Postgres') expect(r.steady!.rows!.window).toBeGreaterThan(0);
      else expect(r.steady!.rows).toBeNull();
    }
  });

  it('the API benchmark measures persists at 1, 8 and 32 clients, first and unchanged, with latency percentiles', () => {
    expect(report.api.map((r) => `${r.target} ${r.clients} ${r.phase}`)).toEqual(
      targets.flatMap((t) => [1, 8, 32].flatMap((c) => [`${t} ${c} first`, `${t} ${c} steady`])),
    );
    for (const row of report.api) {
      expect(row.calls).toBe(12);
      expect(row.callsPerSecond).toBeGreaterThan(0);
      expect(row.p50Ms).toBeGreaterThan(0);
      expect(row.p99Ms).toBeGreaterThanOrEqual(row.p50Ms);
    }
  });

  it('scaling measures each size and draws the chart next to the report', () => {
    expect(report.scaling!.points.map((p) => p.files)).toEqual([6, 12]);
    for (const point of report.scaling!.points) expect(point.filesPerSecond).toBeGreaterThan(0);
    const svg = readFileSync(chartPath(out), 'utf8');
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<circle /g)).toHaveLength(2);
  });

  it('parse isolation measures pooled and strict parsing', () => {
    expect(report.isolation!.rows.map((r) => r.key)).toEqual(['pooled-cold', 'pooled-warm', 'pooled-paced', 'strict']);
  });

  it('BENCHMARKS.md holds the machine, the targets beside what was reached, and every table', () => {
    expect(readFileSync(out, 'utf8')).toBe(markdown);
    expect(markdown).toContain(`Node ${process.version}`);
    expect(markdown).toContain('## Issue 7 targets');
    expect(markdown).toContain('persist p99 < 25 ms at 8 concurrent clients');
    for (const heading of ['### Cold and parse-only', '### Steady state', '### One changed file', '### Peak memory', '## The API alone', '## Scaling', '## Parse isolation']) {
      expect(markdown).toContain(heading);
    }
    expect(markdown).toContain(`](${chartPath('BENCHMARKS.md')})`);
  });
});

describe('pnpm bench options', () => {
  it('--quick leaves out the 10,000-file point, --sizes chooses the points', () => {
    expect(parseOptions([]).sizes).toEqual([100, 1000, 10_000]);
    expect(parseOptions(['--quick']).sizes).toEqual([100, 1000]);
    expect(parseOptions(['--sizes', '50, 500']).sizes).toEqual([50, 500]);
  });

  it('a bad option is one clear line', () => {
    expect(() => parseOptions(['--only', 'system,nope'])).toThrow('--only: expected a comma-separated list of system, api, scaling, isolation, got "system,nope"');
    expect(() => parseOptions(['--sizes', '10,x'])).toThrow('--sizes: expected a whole number from 1 to 1000000, got "x"');
    expect(() => parseOptions(['--no-postgres', '--postgres-url', 'postgres://x'])).toThrow('contradict');
    expect(() => parseOptions(['--no-postgres', '--no-pglite'])).toThrow('leave no database');
  });

  it('the generated mix is deterministic and holds every kind of file', () => {
    expect(shapedSource('mix', 3)).toBe(shapedSource('mix', 3));
    expect(dagIdsOf('mix', 6)).toHaveLength(20);
    expect(shapedSource('mix', 3)).toContain('const width: number = 200;');
    expect(shapedSource('one', 1, 2)).not.toBe(shapedSource('one', 1));
  });
});
