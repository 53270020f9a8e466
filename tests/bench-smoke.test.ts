import { describe, expect, it } from 'vitest';
import { PGLITE, postgresTarget, type DatabaseTarget } from '../bench/databases.ts';
import { benchEndToEnd } from '../bench/end-to-end.ts';
import { quietProgress } from '../bench/measure.ts';
import { benchParse, PARSE_DEFAULTS } from '../bench/parse.ts';
import { benchPersist } from '../bench/persist.ts';
import { renderSection, type Section } from '../bench/report.ts';

/**
 * `pnpm bench` is not part of `pnpm test`; this runs each of its benchmarks at tiny sizes so
 * they cannot rot: each must measure something, and each checks the database itself (a
 * benchmark that silently measures nothing throws). Postgres joins when TEST_DATABASE_URL is set.
 */
const targets: DatabaseTarget[] = [PGLITE, ...(process.env.TEST_DATABASE_URL ? [postgresTarget(process.env.TEST_DATABASE_URL)] : [])];

function expectMeasured(section: Section, keys: string[]): void {
  expect(section.rows.map((r) => r.key)).toEqual(keys);
  for (const row of section.rows) {
    expect(row.count, row.label).toBeGreaterThan(0);
    expect(row.ms, row.label).toBeGreaterThan(0);
    expect(row.rate, row.label).toBeGreaterThan(0);
    expect(Number.isFinite(row.rate), row.label).toBe(true);
  }
  for (const ratio of section.ratios) expect(ratio.value, ratio.label).toBeGreaterThan(0);
  const table = renderSection(section);
  for (const row of section.rows) expect(table).toContain(row.label);
}

describe('the benchmarks, at tiny sizes', () => {
  it('parse isolation measures pooled and strict parsing of real DAG files', async () => {
    const section = await benchParse({ ...PARSE_DEFAULTS, files: 20, strictFiles: 4, progress: quietProgress });
    expectMeasured(section, ['pooled-cold', 'pooled-warm', 'pooled-paced', 'strict']);
    expect(section.rows.find((r) => r.key === 'strict')!.count).toBe(4);
    expect(section.ratios.length).toBe(4);
  });

  it('persist measures first persists and re-persists, checking each in the database', async () => {
    const section = await benchPersist({ persists: 20, clients: [1, 4], targets, progress: quietProgress });
    expectMeasured(
      section,
      targets.flatMap((t) =>
        [1, 4].flatMap((c) => [`${t.kind}-c${c}-first`, `${t.kind}-c${c}-steady`, `${t.kind}-c${c}-first-b20`, `${t.kind}-c${c}-steady-b20`]),
      ),
    );
    expect(section.ratios.some((r) => r.label.includes('re-persist / first persist'))).toBe(true);
    expect(section.ratios.some((r) => r.label.includes('20 files per request / 1'))).toBe(true);
  });

  it('end to end runs the real processor over a bundle until every DAG is in the database', async () => {
    const section = await benchEndToEnd({ files: 20, processes: 2, targets: [PGLITE], progress: quietProgress });
    expectMeasured(section, ['pglite']);
  });
});
