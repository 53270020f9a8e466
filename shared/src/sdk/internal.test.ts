import { describe, expect, it } from 'vitest';
import { dag } from './dag.ts';
import { DuplicateDagIdError } from './errors.ts';
import { collectDags, findDagCallback } from './internal.ts';
import { task } from './task.ts';

const ids = (namespace: Record<string, unknown>) => collectDags(namespace).map((d) => d.dagId);

describe('collectDags', () => {
  it('finds the default export, named exports and DAGs inside exported arrays, sorted by dagId', () => {
    const namespace = {
      default: dag({ dagId: 'main' }),
      other: dag({ dagId: 'b_other' }),
      generated: [dag({ dagId: 'gen_2' }), 'not a dag', dag({ dagId: 'gen_1' })],
      helper: () => 1,
      config: { dagId: 'looks_like_one' },
    };
    expect(ids(namespace)).toEqual(['b_other', 'gen_1', 'gen_2', 'main']);
  });

  it('finds DAGs in an exported default array', () => {
    expect(ids({ default: [dag({ dagId: 'a' }), dag({ dagId: 'b' })] })).toEqual(['a', 'b']);
  });

  it('counts one DAG exported under several names once', () => {
    const d = dag({ dagId: 'shared' });
    expect(ids({ default: d, alias: d, all: [d, d] })).toEqual(['shared']);
  });

  it('refuses two different DAG objects with one dagId, naming it', () => {
    const run = () => collectDags({ a: dag({ dagId: 'twin' }), b: [dag({ dagId: 'twin' })] });
    expect(run).toThrow(DuplicateDagIdError);
    expect(run).toThrow("dag id 'twin' is defined twice in this file");
  });

  it('returns [] for a file with no DAGs', () => {
    expect(collectDags({})).toEqual([]);
    expect(collectDags({ helper: () => 1, tasks: [task({ taskId: 'a' })] })).toEqual([]);
  });

  it('serializes what it finds', () => {
    const [d] = collectDags({ default: dag({ dagId: 'x', tags: ['b', 'a'], onSuccess: () => {} }) });
    expect(d).toMatchObject({ format: 1, dagId: 'x', tags: ['a', 'b'], hasOnSuccessCallback: true, hasOnFailureCallback: false });
  });
});

describe('findDagCallback', () => {
  const onFailure = async () => {};
  const namespace = { default: dag({ dagId: 'with', onFailure }), more: [dag({ dagId: 'without' })] };

  it("returns the DAG's callback of that kind", () => {
    expect(findDagCallback(namespace, 'with', 'failure')).toBe(onFailure);
  });

  it('returns undefined for a missing callback or an unknown DAG', () => {
    expect(findDagCallback(namespace, 'with', 'success')).toBeUndefined();
    expect(findDagCallback(namespace, 'without', 'failure')).toBeUndefined();
    expect(findDagCallback(namespace, 'nope', 'failure')).toBeUndefined();
  });

  it('refuses a kind other than failure or success', () => {
    expect(() => findDagCallback(namespace, 'with', 'retry' as 'failure')).toThrow("callback kind must be 'failure' or 'success'");
  });
});
