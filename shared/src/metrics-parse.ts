/**
 * A strict reader of the Prometheus text format 0.0.4, for tests: it throws on anything a
 * Prometheus server would refuse or misread (a sample before its TYPE, a family split in two,
 * bad escapes, non-cumulative buckets, a `+Inf` bucket that differs from `_count`), so a test
 * that scrapes `/metrics` checks the format as well as the numbers.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | null;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, Family>;
  /** The value of the one sample with this name whose labels include `labels`; undefined if none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every sample with this name whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);

export function parseExposition(text: string): Exposition {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: Family | null = null;
  const familyOf = (name: string): Family => {
    if (current && (current.name === name || sampleBelongs(current, name))) return current;
    if (current) closed.add(current.name);
    if (closed.has(name)) throw new Error(`metric family ${name} appears in two places`);
    const family: Family = families.get(name) ?? { name, type: 'untyped', help: null, samples: [] };
    families.set(name, family);
    current = family;
    return family;
  };

  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!meta) return; // a plain comment
      const [, kind, name, rest = ''] = meta;
      if (!new RegExp(`^${NAME}$`).test(name!)) throw new Error(`${where}: bad metric name ${name}`);
      const family = familyOf(name!);
      if (kind === 'HELP') {
        if (family.help !== null) throw new Error(`${where}: second HELP for ${name}`);
        family.help = unescape(rest, false, where);
      } else {
        if (family.samples.length) throw new Error(`${where}: TYPE for ${name} after its samples`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}: bad TYPE ${rest}`);
        family.type = rest as Family['type'];
      }
      return;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`${where}: not a sample: ${line}`);
    const [, name, rawLabels, rawValue] = match;
    const family = familyOf(current && sampleBelongs(current, name!) ? current.name : name!);
    family.samples.push({ name: name!, labels: parseLabels(rawLabels ?? '', where), value: parseValue(rawValue!, where) });
  });

  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);

  const matching = (name: string, labels: Record<string, string>) =>
    [...families.values()]
      .flatMap((f) => f.samples)
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    families,
    value(name, labels = {}) {
      const found = matching(name, labels);
      if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
      return found[0]?.value;
    },
    sum(name, labels = {}) {
      return matching(name, labels).reduce((total, s) => total + s.value, 0);
    },
  };
}

function sampleBelongs(family: Family, name: string): boolean {
  if (family.type !== 'histogram' && family.type !== 'summary') return false;
  return ['_bucket', '_sum', '_count'].some((suffix) => name === family.name + suffix);
}

function parseLabels(raw: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = raw.trim();
  while (rest.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,\s*)?/.exec(rest);
    if (!m) throw new Error(`${where}: bad labels {${raw}}`);
    if (m[1]! in labels) throw new Error(`${where}: label ${m[1]} twice`);
    labels[m[1]!] = unescape(m[2]!, true, where);
    rest = rest.slice(m[0].length);
    if (rest.length && !m[3]) throw new Error(`${where}: labels must be separated by commas`);
  }
  return labels;
}

function unescape(text: string, quoted: boolean, where: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quoted) return '"';
    throw new Error(`${where}: bad escape \\${c}`);
  });
}

function parseValue(raw: string, where: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`${where}: bad value ${raw}`);
  return Number(raw);
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, family.name), sample.value]);
    } else if (sample.name.endsWith('_count')) entry.count = sample.value;
    else if (sample.name.endsWith('_sum')) entry.sum = sample.value;
    else throw new Error(`${family.name}: unexpected sample ${sample.name}`);
  }
  for (const [key, entry] of series) {
    const last = entry.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${family.name} ${key}: no le="+Inf" bucket`);
    entry.buckets.forEach(([le, count], i) => {
      if (i > 0 && (le <= entry.buckets[i - 1]![0] || count < entry.buckets[i - 1]![1])) {
        throw new Error(`${family.name} ${key}: buckets are not increasing and cumulative`);
      }
    });
    if (entry.count !== last[1]) throw new Error(`${family.name} ${key}: _count differs from the +Inf bucket`);
    if (entry.sum === undefined) throw new Error(`${family.name} ${key}: no _sum`);
  }
}
