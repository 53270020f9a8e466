import { describe, expect, it } from 'vitest';
import { serializedDag, SERIALIZATION_FORMAT } from './model.ts';
import { serializeDag, type DagDefinition } from './serialize.ts';

const definition = (over: Partial<DagDefinition> = {}): DagDefinition => ({
  dagId: 'orders',
  description: 'Orders feed',
  schedule: '@daily',
  startDate: '2026-01-01',
  endDate: null,
  catchup: false,
  tags: ['etl', 'b', 'etl'],
  params: { z: 1, a: { y: [{ q: 1, p: 2 }], x: null } },
  defaultArgs: { retries: 2 },
  maxActiveRuns: 3,
  doc: null,
  tasks: [
    { taskId: 'load', upstream: ['transform', 'extract', 'transform'], retries: 2, retryDelaySeconds: 30, owner: 'data', doc: null, params: {} },
    { taskId: 'extract', upstream: [], retries: 0, retryDelaySeconds: null, owner: null, doc: 'Pull rows', params: { b: 1, a: 2 } },
    { taskId: 'transform', upstream: ['extract'], retries: 1, retryDelaySeconds: null, owner: null, doc: null, params: {} },
  ],
  onFailure: async () => {},
  onSuccess: null,
  ...over,
});

describe('serializeDag', () => {
  it('produces exactly the stored SerializedDag shape', () => {
    const out = serializeDag(definition());
    expect(serializedDag.parse(out)).toEqual(out);
    expect(out.format).toBe(SERIALIZATION_FORMAT);
  });

  it('sorts tasks, upstream ids, tags and object keys, and reports callbacks by presence', () => {
    const out = serializeDag(definition());
    expect(out.tasks.map((t) => t.taskId)).toEqual(['extract', 'load', 'transform']);
    expect(out.tasks[1]!.upstream).toEqual(['extract', 'transform']);
    expect(out.tags).toEqual(['b', 'etl']);
    expect(JSON.stringify(out.params)).toBe('{"a":{"x":null,"y":[{"p":2,"q":1}]},"z":1}');
    expect(JSON.stringify(out.tasks[0]!.params)).toBe('{"a":2,"b":1}');
    expect(out.hasOnFailureCallback).toBe(true);
    expect(out.hasOnSuccessCallback).toBe(false);
  });

  it('gives byte-identical JSON for the same DAG written in a different order', () => {
    const a = definition();
    const b = definition({
      tags: ['b', 'etl'],
      params: { a: { x: null, y: [{ p: 2, q: 1 }] }, z: 1 },
      tasks: [...a.tasks].reverse(),
    });
    expect(JSON.stringify(serializeDag(a))).toBe(JSON.stringify(serializeDag(a)));
    expect(JSON.stringify(serializeDag(b))).toBe(JSON.stringify(serializeDag(a)));
  });

  it('returns fresh objects, never the definition\'s own arrays', () => {
    const d = definition();
    const out = serializeDag(d);
    out.tags.push('mutated');
    out.tasks[0]!.upstream.push('mutated');
    expect(serializeDag(d).tags).toEqual(['b', 'etl']);
    expect(serializeDag(d).tasks[0]!.upstream).toEqual([]);
  });
});
