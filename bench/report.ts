import { describeCpu, type CpuUse } from './cpu.ts';
import { perSecond } from './measure.ts';

/** What one benchmark found: measured rows and the ratios between them. */
export interface Section {
  title: string;
  /** What the rows measure, for the reader of BENCHMARKS.md. */
  about: string;
  unit: string;
  rows: Measurement[];
  ratios: Ratio[];
}

export interface Measurement {
  /** Stable key, for ratios and for the smoke test. */
  key: string;
  label: string;
  count: number;
  ms: number;
  /** `count` per second. */
  rate: number;
  cpu: CpuUse | null;
  note?: string;
}

export interface Ratio {
  label: string;
  value: number;
  note?: string;
}

export function measurement(
  key: string,
  label: string,
  count: number,
  ms: number,
  options: { cpu?: CpuUse | null; note?: string } = {},
): Measurement {
  const cpu = options.cpu ?? null;
  const note = [options.note, describeCpu(cpu)].filter(Boolean).join('; ');
  return { key, label, count, ms, rate: perSecond(count, ms), cpu, ...(note ? { note } : {}) };
}

export function rowOf(section: Section, key: string): Measurement {
  const row = section.rows.find((r) => r.key === key);
  if (!row) throw new Error(`section '${section.title}' has no row '${key}'`);
  return row;
}

/** The ratio of two rows' rates, when both were measured. */
export function rateRatio(label: string, numerator: Measurement | undefined, denominator: Measurement | undefined, note?: string): Ratio[] {
  if (!numerator || !denominator || denominator.rate === 0) return [];
  return [{ label, value: numerator.rate / denominator.rate, ...(note ? { note } : {}) }];
}

const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function fixed(value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function renderSection(section: Section): string {
  const lines = [
    `## ${section.title}`,
    '',
    section.about,
    '',
    `| measured | count | wall time (s) | ${section.unit} | notes |`,
    '| --- | ---: | ---: | ---: | --- |',
    ...section.rows.map(
      (r) => `| ${escape(r.label)} | ${fixed(r.count, 0)} | ${fixed(r.ms / 1000, 2)} | ${fixed(r.rate, r.rate < 100 ? 1 : 0)} | ${escape(r.note ?? '')} |`,
    ),
  ];
  if (section.ratios.length > 0) {
    lines.push('', '| ratio (of rates) | value | notes |', '| --- | ---: | --- |');
    lines.push(...section.ratios.map((r) => `| ${escape(r.label)} | ${fixed(r.value, 2)} | ${escape(r.note ?? '')} |`));
  }
  return lines.join('\n');
}

/** A Markdown table; cells are escaped, numbers formatted by the caller. */
export function markdownTable(headers: string[], rows: string[][], align: ('l' | 'r')[] = []): string {
  const rule = headers.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [headers, rule, ...rows].map((cells, i) => `| ${(i === 1 ? cells : cells.map(escape)).join(' | ')} |`).join('\n');
}

export const num = (value: number | null | undefined, digits = 0): string =>
  value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : fixed(value, digits);
