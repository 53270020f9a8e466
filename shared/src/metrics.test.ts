import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry, escapeHelp, escapeLabelValue, formatValue } from './metrics.ts';
import { parseExposition } from './metrics-parse.ts';

describe('the Prometheus text format', () => {
  it('writes HELP and TYPE before a metric’s samples, and a line feed at the end', () => {
    const registry = new Registry();
    registry.counter({ name: 'jobs_total', help: 'Jobs seen.' }).inc(2);
    expect(registry.expose()).toBe('# HELP jobs_total Jobs seen.\n# TYPE jobs_total counter\njobs_total 2\n');
  });

  it('escapes backslash and line feed in HELP, and quote as well in label values', () => {
    expect(escapeHelp('a \\ b\nc "d"')).toBe('a \\\\ b\\nc "d"');
    expect(escapeLabelValue('a \\ b\nc "d"')).toBe('a \\\\ b\\nc \\"d\\"');
    const registry = new Registry();
    const counter = registry.counter({ name: 'odd_total', help: 'x', labelNames: ['path'] });
    const nasty = 'C:\\dags\n"quoted"';
    counter.inc({ path: nasty });
    expect(registry.expose()).toContain('odd_total{path="C:\\\\dags\\n\\"quoted\\""} 1');
    expect(parseExposition(registry.expose()).value('odd_total', { path: nasty })).toBe(1);
  });

  it('writes special values the way Go’s ParseFloat reads them', () => {
    expect([Infinity, -Infinity, NaN, 0.25, 1e-7, 3].map(formatValue)).toEqual(['+Inf', '-Inf', 'NaN', '0.25', '1e-7', '3']);
  });

  it('shows a labelled metric with no series as HELP and TYPE only, and an unlabelled one as 0', () => {
    const registry = new Registry();
    registry.counter({ name: 'a_total', help: 'a', labelNames: ['kind'] });
    registry.gauge({ name: 'b', help: 'b' });
    expect(registry.expose()).toBe('# HELP a_total a\n# TYPE a_total counter\n# HELP b b\n# TYPE b gauge\nb 0\n');
  });

  it('keeps one series per label set, in a stable order', () => {
    const registry = new Registry();
    const counter = registry.counter({ name: 'req_total', help: 'r', labelNames: ['route', 'status'] });
    counter.inc({ route: 'jobs.heartbeat', status: 200 });
    counter.inc({ route: 'b', status: '500' }, 3);
    counter.inc({ route: 'jobs.heartbeat', status: 200 });
    const lines = registry.expose().split('\n').filter((l) => l.startsWith('req_total'));
    expect(lines).toEqual(['req_total{route="b",status="500"} 3', 'req_total{route="jobs.heartbeat",status="200"} 2']);
  });

  it('writes cumulative buckets, a +Inf bucket equal to the count, and the sum', () => {
    const registry = new Registry();
    const histogram = registry.histogram({ name: 'parse_seconds', help: 'p', labelNames: ['bundle'], buckets: [0.1, 1, 10] });
    for (const v of [0.05, 0.1, 0.5, 20]) histogram.observe({ bundle: 'dags' }, v);
    expect(registry.expose()).toBe(
      [
        '# HELP parse_seconds p',
        '# TYPE parse_seconds histogram',
        'parse_seconds_bucket{bundle="dags",le="0.1"} 2',
        'parse_seconds_bucket{bundle="dags",le="1"} 3',
        'parse_seconds_bucket{bundle="dags",le="10"} 3',
        'parse_seconds_bucket{bundle="dags",le="+Inf"} 4',
        'parse_seconds_sum{bundle="dags"} 20.65',
        'parse_seconds_count{bundle="dags"} 4',
        '',
      ].join('\n'),
    );
    parseExposition(registry.expose()); // and the strict reader accepts it
  });

  it('runs collect hooks before each exposition, so gauges read live state', () => {
    const registry = new Registry();
    const gauge = registry.gauge({ name: 'queue_length', help: 'q' });
    let length = 3;
    registry.collect(() => gauge.set(length));
    expect(parseExposition(registry.expose()).value('queue_length')).toBe(3);
    length = 7;
    expect(parseExposition(registry.expose()).value('queue_length')).toBe(7);
  });

  it('refuses names, labels and values the format cannot carry', () => {
    expect(() => new Counter({ name: '1bad', help: '' })).toThrow(/metric name/);
    expect(() => new Counter({ name: 'ok_total', help: '', labelNames: ['__reserved'] })).toThrow(/label name/);
    expect(() => new Histogram({ name: 'h', help: '', labelNames: ['le'] })).toThrow(/le/);
    expect(() => new Histogram({ name: 'h', help: '', buckets: [1, 1] })).toThrow(/increasing/);
    const counter = new Counter({ name: 'c_total', help: '', labelNames: ['kind'] });
    expect(() => counter.inc({ kind: 'x' }, -1)).toThrow(/only goes up/);
    expect(() => counter.inc({} as { kind: string })).toThrow(/label kind is missing/);
    const registry = new Registry();
    registry.gauge({ name: 'g', help: '' });
    expect(() => registry.gauge({ name: 'g', help: '' })).toThrow(/twice/);
  });
});

describe('the strict exposition reader used by tests', () => {
  it('refuses a family split in two, a TYPE after samples, and non-cumulative buckets', () => {
    expect(() => parseExposition('a 1\nb 1\na 2\n')).toThrow(/two places/);
    expect(() => parseExposition('a 1\n# TYPE a counter\n')).toThrow(/after its samples/);
    expect(() =>
      parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    ).toThrow(/cumulative/);
    expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n')).toThrow(/_count/);
    expect(() => parseExposition('a{x="\\q"} 1\n')).toThrow(/bad escape/);
    expect(() => parseExposition('a 1')).toThrow(/line feed/);
  });
});
