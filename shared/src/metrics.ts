/**
 * Prometheus metrics in the text exposition format 0.0.4, small enough to own: counters,
 * gauges and histograms with labels, exposed by a registry. Both the server's `/metrics` and
 * the processor's health port serve `registry.expose()` with `PROMETHEUS_CONTENT_TYPE`.
 *
 * Label values must come from small, fixed sets (a procedure name, a status code, a bundle
 * name from configuration), never from request data: every distinct value is a time series
 * kept for the life of the process.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Prometheus' client libraries' default buckets, in seconds: a request or a query. */
export const DEFAULT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Labels<L extends string> = [L] extends [never] ? Record<string, never> : Record<L, string | number>;

interface Metric {
  readonly name: string;
  /** The metric's lines, HELP and TYPE first. */
  lines(): string[];
}

interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

abstract class Labelled<L extends string, S> implements Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected readonly series = new Map<string, { labels: [string, string][]; state: S }>();

  constructor(
    private readonly type: 'counter' | 'gauge' | 'histogram',
    options: MetricOptions<L>,
  ) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`metric name ${JSON.stringify(options.name)} is not valid`);
    for (const label of options.labelNames ?? []) {
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`label name ${JSON.stringify(label)} is not valid`);
      if (type === 'histogram' && label === 'le') throw new Error('a histogram cannot have a label named le');
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
  }

  protected abstract initial(): S;
  protected abstract sample(labels: [string, string][], state: S): string[];

  /** Drops every series (a gauge recomputed at each scrape forgets labels that went away). */
  reset(): void {
    this.series.clear();
  }

  protected state(labels: Labels<L> | undefined): S {
    const pairs = this.labelNames.map((name): [string, string] => {
      const value = (labels as Record<string, string | number> | undefined)?.[name];
      if (value === undefined) throw new Error(`${this.name}: label ${name} is missing`);
      return [name, String(value)];
    });
    const extra = Object.keys(labels ?? {}).find((k) => !(this.labelNames as readonly string[]).includes(k));
    if (extra !== undefined) throw new Error(`${this.name}: unknown label ${extra}`);
    const key = pairs.map(([, v]) => v).join('\u0000');
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels: pairs, state: this.initial() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    // A metric without labels always has its one series, so a scrape shows 0 rather than nothing.
    if (this.labelNames.length === 0 && this.series.size === 0) this.state(undefined);
    const sorted = [...this.series.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, { labels, state }] of sorted) out.push(...this.sample(labels, state));
    return out;
  }
}

export class Counter<L extends string = never> extends Labelled<L, { value: number }> {
  constructor(options: MetricOptions<L>) {
    super('counter', options);
  }
  protected initial() {
    return { value: 0 };
  }
  inc(...args: [L] extends [never] ? [amount?: number] : [labels: Labels<L>, amount?: number]): void {
    const [labels, amount] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number | undefined];
    const by = amount ?? 1;
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${by})`);
    this.state(labels).value += by;
  }
  /** The current value, for tests and for the stats line. */
  get(...args: [L] extends [never] ? [] : [labels: Labels<L>]): number {
    return this.state(args[0] as Labels<L> | undefined).value;
  }
  protected sample(labels: [string, string][], state: { value: number }) {
    return [`${this.name}${formatLabels(labels)} ${formatValue(state.value)}`];
  }
}

export class Gauge<L extends string = never> extends Labelled<L, { value: number }> {
  constructor(options: MetricOptions<L>) {
    super('gauge', options);
  }
  protected initial() {
    return { value: 0 };
  }
  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const [labels, value] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number];
    this.state(labels).value = value;
  }
  get(...args: [L] extends [never] ? [] : [labels: Labels<L>]): number {
    return this.state(args[0] as Labels<L> | undefined).value;
  }
  protected sample(labels: [string, string][], state: { value: number }) {
    return [`${this.name}${formatLabels(labels)} ${formatValue(state.value)}`];
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string = never> extends Labelled<L, HistogramState> {
  readonly buckets: readonly number[];

  constructor(options: MetricOptions<L> & { buckets?: readonly number[] }) {
    super('histogram', options);
    const buckets = [...(options.buckets ?? DEFAULT_SECONDS_BUCKETS)].filter((b) => b !== Infinity);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new Error(`${options.name}: buckets must be finite and strictly increasing`);
    }
    this.buckets = buckets;
  }
  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const [labels, value] = (this.labelNames.length === 0 ? [undefined, args[0]] : args) as [Labels<L> | undefined, number];
    const state = this.state(labels);
    // Counts are kept per bucket and made cumulative when exposed.
    const index = this.buckets.findIndex((upper) => value <= upper);
    if (index >= 0) state.counts[index]!++;
    state.sum += value;
    state.count++;
  }
  protected sample(labels: [string, string][], state: HistogramState) {
    const out: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((upper, i) => {
      cumulative += state.counts[i]!;
      out.push(`${this.name}_bucket${formatLabels([...labels, ['le', formatValue(upper)]])} ${cumulative}`);
    });
    out.push(`${this.name}_bucket${formatLabels([...labels, ['le', '+Inf']])} ${state.count}`);
    out.push(`${this.name}_sum${formatLabels(labels)} ${formatValue(state.sum)}`);
    out.push(`${this.name}_count${formatLabels(labels)} ${state.count}`);
    return out;
  }
}

/** The metrics one process exposes; `collect` hooks refresh gauges just before each scrape. */
export class Registry {
  private readonly metrics = new Map<string, Metric>();
  private readonly collectors: (() => void)[] = [];

  register<M extends Metric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.register(new Counter<L>(options));
  }
  gauge<L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    return this.register(new Gauge<L>(options));
  }
  histogram<L extends string = never>(options: MetricOptions<L> & { buckets?: readonly number[] }): Histogram<L> {
    return this.register(new Histogram<L>(options));
  }

  /** Runs before every exposition, to set gauges that read live state (queue length, pool use). */
  collect(hook: () => void): void {
    this.collectors.push(hook);
  }

  /** The whole exposition: each metric's HELP, TYPE and samples, ending with a newline. */
  expose(): string {
    for (const hook of this.collectors) hook();
    const lines = [...this.metrics.values()].flatMap((m) => m.lines());
    return lines.length ? lines.join('\n') + '\n' : '';
  }
}

/** HELP text escapes backslash and line feed (and only those). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: readonly [string, string][]): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** Go's ParseFloat reads these: +Inf, -Inf, NaN, and plain or exponent notation. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
