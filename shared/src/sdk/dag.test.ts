import { describe, expect, it } from 'vitest';
import { serializedDag } from '../dag/model.ts';
import { serializeDag } from '../dag/serialize.ts';
import { isDag, isTask } from './brand.ts';
import { dag, type DagOptions } from './dag.ts';
import { DagValidationError } from './errors.ts';
import { task, type TaskOptions } from './task.ts';

/** The message dag() throws for these options (untyped: tests feed it what TypeScript would refuse). */
function failure(options: unknown): string {
  try {
    dag(options as DagOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(DagValidationError);
    expect((error as Error).name).toBe('DagValidationError');
    return (error as Error).message;
  }
  throw new Error('dag() accepted the options');
}

const t = (options: unknown) => task(options as TaskOptions);

describe('dag()', () => {
  it('returns a frozen, branded DAG whose serialization the stored schema accepts', () => {
    const onFailure = async () => {};
    const d = dag({
      dagId: 'orders_etl',
      description: 'Orders',
      schedule: '0 6 * * MON-FRI',
      startDate: new Date(Date.UTC(2026, 0, 1)),
      endDate: '2026-12-31T23:59:59+01:00',
      catchup: true,
      tags: ['etl', 'daily', 'etl'],
      params: { when: new Date(Date.UTC(2026, 0, 2)), limits: { max: 10, min: 1 } },
      maxActiveRuns: 2,
      doc: '# Orders',
      tasks: [t({ taskId: 'extract' }), t({ taskId: 'load', upstream: ['extract'] })],
      onFailure,
    });
    expect(isDag(d)).toBe(true);
    expect((d as unknown as Record<symbol, unknown>)[Symbol.for('dagproc.dag')]).toBe(true);
    expect(Object.isFrozen(d)).toBe(true);
    expect(Object.isFrozen(d.params)).toBe(true);
    expect(d.onFailure).toBe(onFailure);
    expect(d.startDate).toBe('2026-01-01T00:00:00.000Z');
    expect(d.tags).toEqual(['daily', 'etl']);
    const out = serializeDag(d);
    expect(serializedDag.parse(out)).toEqual(out);
    expect(out.params).toEqual({ limits: { max: 10, min: 1 }, when: '2026-01-02T00:00:00.000Z' });
    expect(out.hasOnFailureCallback).toBe(true);
    expect(out.hasOnSuccessCallback).toBe(false);
  });

  it('defaults every optional field: no schedule, no dates, catchup false, nothing else', () => {
    expect(serializeDag(dag({ dagId: 'bare' }))).toEqual({
      format: 1,
      dagId: 'bare',
      description: null,
      schedule: null,
      startDate: null,
      endDate: null,
      catchup: false,
      tags: [],
      params: {},
      defaultArgs: {},
      maxActiveRuns: null,
      doc: null,
      tasks: [],
      hasOnFailureCallback: false,
      hasOnSuccessCallback: false,
    });
  });

  it('a spread copy of a DAG is not a DAG', () => {
    expect(isDag({ ...dag({ dagId: 'x' }) })).toBe(false);
  });

  describe('refuses with a message naming the dag and the fault', () => {
    it.each([
      [42, 'dag() takes an options object, got the number 42'],
      [{}, 'dag() needs a dagId'],
      [{ dag_id: 'x' }, "dag() needs a dagId: found unknown option 'dag_id'; did you mean 'dagId'?"],
      [{ dagId: 7 }, 'invalid dag id: expected a string, got the number 7'],
      [{ dagId: 'my dag' }, "invalid dag id 'my dag': it may contain only letters, digits, '.', '_' and '-' (found ' ')"],
      [{ dagId: 'd'.repeat(251) }, 'the limit is 250'],
      [{ dagId: 'x', shedule: '@daily' }, "unknown option 'shedule' for dag 'x': did you mean 'schedule'?"],
      [{ dagId: 'x', owner: 'me' }, "unknown option 'owner' for dag 'x'"],
      [{ dagId: 'x', schedule: '0 25 * * *' }, "invalid schedule '0 25 * * *' for dag 'x': hour field '25': 25 is out of range 0-23"],
      [{ dagId: 'x', schedule: '@dayly' }, "invalid schedule '@dayly' for dag 'x': not one of the presets: did you mean '@daily'?"],
      [{ dagId: 'x', schedule: 86400 }, "invalid schedule for dag 'x': expected a cron expression, a preset like '@daily', or null"],
      [{ dagId: 'x', startDate: '2026-02-30' }, "invalid startDate '2026-02-30' for dag 'x': February 2026 has no day 30"],
      [{ dagId: 'x', startDate: new Date('garbage') }, "invalid startDate for dag 'x': the Date is invalid"],
      [{ dagId: 'x', endDate: 20260101 }, "invalid endDate for dag 'x': expected an ISO-8601 string or a Date"],
      [{ dagId: 'x', startDate: '2026-06-01', endDate: '2026-01-01' }, "invalid endDate '2026-01-01' for dag 'x': it is before startDate '2026-06-01'"],
      [{ dagId: 'x', catchup: 'yes' }, "invalid catchup for dag 'x': expected true or false, got the string 'yes'"],
      [{ dagId: 'x', tags: 'etl' }, "invalid tags for dag 'x': expected an array of strings"],
      [{ dagId: 'x', tags: ['ok', 3] }, "invalid tags for dag 'x': tags[1] must be a string, got the number 3"],
      [{ dagId: 'x', tags: ['t'.repeat(101)] }, 'tags[0] is 101 characters long; the limit is 100'],
      [{ dagId: 'x', params: { cb: () => 1 } }, "invalid params for dag 'x': params.cb is a function, which is not a JSON value"],
      [{ dagId: 'x', params: { nested: [{ n: NaN }] } }, "invalid params for dag 'x': params.nested[0].n is NaN"],
      [{ dagId: 'x', params: { big: 1n } }, 'params.big is a bigint'],
      [{ dagId: 'x', params: [1] }, "invalid params for dag 'x': params must be an object of JSON values, got an array"],
      [{ dagId: 'x', defaultArgs: { hook: Symbol('s') } }, "invalid defaultArgs for dag 'x': defaultArgs.hook is a symbol"],
      [{ dagId: 'x', defaultArgs: { retries: -1 } }, "invalid defaultArgs for dag 'x': defaultArgs.retries: expected a whole number ≥ 0"],
      [{ dagId: 'x', defaultArgs: { retryDelaySeconds: '5m' } }, 'defaultArgs.retryDelaySeconds: expected a number of seconds ≥ 0'],
      [{ dagId: 'x', defaultArgs: { owner: 1 } }, 'defaultArgs.owner: expected a string'],
      [{ dagId: 'x', maxActiveRuns: 0 }, "invalid maxActiveRuns for dag 'x': expected a whole number ≥ 1, got the number 0"],
      [{ dagId: 'x', description: { text: 'x' } }, "invalid description for dag 'x': expected a string, got an object"],
      [{ dagId: 'x', doc: 'a\u0000b' }, "invalid doc for dag 'x': the text contains a NUL character"],
      [{ dagId: 'x', onFailure: 'alert' }, "invalid onFailure for dag 'x': expected a function"],
      [{ dagId: 'x', tasks: {} }, "invalid tasks for dag 'x': expected an array of task() results, got an object"],
      [{ dagId: 'x', tasks: [{ taskId: 'a' }] }, "tasks[0] is not a task(), got an object (wrap the options in task({ ... }))"],
    ])('%o', (options, expected) => {
      expect(failure(options)).toContain(expected);
    });

    it('cyclic params', () => {
      const params: Record<string, unknown> = {};
      params.self = params;
      expect(failure({ dagId: 'x', params })).toBe("invalid params for dag 'x': params.self refers back to an enclosing value (a cycle)");
    });

    it('a cycle, as its path', () => {
      const tasks = [t({ taskId: 'a', upstream: ['c'] }), t({ taskId: 'b', upstream: ['a'] }), t({ taskId: 'c', upstream: ['b'] })];
      expect(failure({ dagId: 'x', tasks })).toBe("dependency cycle for dag 'x': a -> b -> c -> a");
    });

    it('a cycle made with downstream', () => {
      const tasks = [t({ taskId: 'a', downstream: ['b'] }), t({ taskId: 'b', downstream: ['a'] })];
      expect(failure({ dagId: 'x', tasks })).toBe("dependency cycle for dag 'x': a -> b -> a");
    });

    it('a task that depends on itself', () => {
      expect(failure({ dagId: 'x', tasks: [t({ taskId: 'a', upstream: ['a'] })] })).toBe("dependency cycle for dag 'x': a -> a");
    });

    it('an unknown upstream or downstream task', () => {
      const extract = t({ taskId: 'extract' });
      expect(failure({ dagId: 'x', tasks: [extract, t({ taskId: 'load', upstream: ['extrct'] })] })).toBe(
        "unknown upstream task 'extrct' for task 'load' of dag 'x': did you mean 'extract'?",
      );
      expect(failure({ dagId: 'x', tasks: [t({ taskId: 'load', upstream: [extract] })] })).toBe(
        "unknown upstream task 'extract' for task 'load' of dag 'x'",
      );
      expect(failure({ dagId: 'x', tasks: [t({ taskId: 'a', downstream: ['zzz'] })] })).toBe("unknown downstream task 'zzz' for task 'a' of dag 'x'");
    });

    it('two different tasks with one id', () => {
      expect(failure({ dagId: 'x', tasks: [t({ taskId: 'a' }), t({ taskId: 'b' }), t({ taskId: 'a' })] })).toBe(
        "duplicate task id 'a' for dag 'x': tasks[2] repeats an earlier task's id",
      );
    });

    it.each([
      ['a string', "invalid task() options for tasks[0] of dag 'x': expected an object, got the string 'a string'"],
      [{}, "missing taskId for tasks[0] of dag 'x'"],
      [{ task_id: 'a' }, "missing taskId for tasks[0] of dag 'x': found unknown option 'task_id'; did you mean 'taskId'?"],
      [{ taskId: 3 }, "invalid task id for tasks[0] of dag 'x': expected a string, got the number 3"],
      [{ taskId: 'bad id' }, "invalid task id 'bad id' for dag 'x': it may contain only letters"],
      [{ taskId: 'a', retires: 2 }, "unknown option 'retires' for task 'a' of dag 'x': did you mean 'retries'?"],
      [{ taskId: 'a', retries: 1.5 }, "invalid retries for task 'a' of dag 'x': expected a whole number ≥ 0, got the number 1.5"],
      [{ taskId: 'a', retries: -1 }, "invalid retries for task 'a' of dag 'x'"],
      [{ taskId: 'a', retryDelaySeconds: -5 }, "invalid retryDelaySeconds for task 'a' of dag 'x'"],
      [{ taskId: 'a', owner: false }, "invalid owner for task 'a' of dag 'x': expected a string, got false"],
      [{ taskId: 'a', upstream: 'b' }, "invalid upstream for task 'a' of dag 'x': expected an array of task ids"],
      [{ taskId: 'a', upstream: [1] }, "invalid upstream for task 'a' of dag 'x': upstream[0] must be a task id or a task(), got the number 1"],
      [{ taskId: 'a', downstream: ['b c'] }, "invalid downstream for task 'a' of dag 'x': downstream[0] 'b c' is not a task id"],
      [{ taskId: 'a', params: { f: Math.max } }, "invalid params for task 'a' of dag 'x': params.f is a function"],
    ])('a bad task %o, named by the dag() that holds it', (options, expected) => {
      expect(failure({ dagId: 'x', tasks: [t(options)] })).toContain(expected);
    });
  });
});

describe('dependencies and defaultArgs', () => {
  it('merges upstream and downstream declarations, given as ids or task objects', () => {
    const extract = t({ taskId: 'extract', downstream: ['audit'] });
    const transform = t({ taskId: 'transform', upstream: [extract, 'extract'] });
    const load = t({ taskId: 'load', upstream: [transform] });
    const audit = t({ taskId: 'audit', upstream: ['load'] });
    const d = dag({ dagId: 'x', tasks: [load, audit, transform, extract] });
    expect(d.tasks.map((x) => [x.taskId, x.upstream])).toEqual([
      ['audit', ['extract', 'load']],
      ['extract', []],
      ['load', ['transform']],
      ['transform', ['extract']],
    ]);
  });

  it('counts the same task object listed twice once, as Airflow does', () => {
    const a = t({ taskId: 'a' });
    expect(dag({ dagId: 'x', tasks: [a, a] }).tasks).toHaveLength(1);
  });

  it("a task's retries, retryDelaySeconds and owner fall back to defaultArgs, then to 0/null", () => {
    const d = dag({
      dagId: 'x',
      defaultArgs: { retries: 2, retryDelaySeconds: 300, owner: 'data', queue: 'default' },
      tasks: [t({ taskId: 'inherits' }), t({ taskId: 'overrides', retries: 0, retryDelaySeconds: 5, owner: 'ops' })],
    });
    const [inherits, overrides] = serializeDag(d).tasks;
    expect(inherits).toMatchObject({ retries: 2, retryDelaySeconds: 300, owner: 'data' });
    expect(overrides).toMatchObject({ retries: 0, retryDelaySeconds: 5, owner: 'ops' });
    expect(serializeDag(d).defaultArgs).toEqual({ owner: 'data', queue: 'default', retries: 2, retryDelaySeconds: 300 });

    const plain = serializeDag(dag({ dagId: 'y', tasks: [t({ taskId: 'a' })] })).tasks[0];
    expect(plain).toMatchObject({ retries: 0, retryDelaySeconds: null, owner: null });
  });

  it('task() returns a frozen, branded task even before a dag() checks it', () => {
    const a = t({ taskId: 'a', upstream: ['b', 'b', 'a0'], params: { n: 1 } });
    expect(isTask(a)).toBe(true);
    expect(Object.isFrozen(a) && Object.isFrozen(a.upstream) && Object.isFrozen(a.params)).toBe(true);
    expect(a.upstream).toEqual(['a0', 'b']);
    expect(a.retries).toBeNull();
  });
});

describe('determinism', () => {
  const build = (reverse: boolean) => {
    const order = <T>(xs: T[]) => (reverse ? [...xs].reverse() : xs);
    const params = reverse ? { b: { y: 2, x: 1 }, a: [1, 2] } : { a: [1, 2], b: { x: 1, y: 2 } };
    return dag({
      dagId: 'same',
      schedule: '0 6 * * *',
      tags: order(['b', 'a']),
      params,
      defaultArgs: reverse ? { owner: 'o', retries: 1 } : { retries: 1, owner: 'o' },
      tasks: order([t({ taskId: 'a' }), t({ taskId: 'b', upstream: order(['a', 'c']) }), t({ taskId: 'c' })]),
    });
  };

  it('the same file gives byte-identical JSON every time', () => {
    expect(JSON.stringify(serializeDag(build(false)))).toBe(JSON.stringify(serializeDag(build(false))));
  });

  it('key, tag, task and upstream order do not change the bytes', () => {
    expect(JSON.stringify(serializeDag(build(true)))).toBe(JSON.stringify(serializeDag(build(false))));
  });
});
