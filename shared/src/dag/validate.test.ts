import { describe, expect, it } from 'vitest';
import type { SerializedDag } from './model.ts';
import { checkIsoDate, findCycle, keyProblem, serializedDagProblem, taskGraphProblem } from './validate.ts';

describe('keyProblem', () => {
  it.each(['etl', 'a.b-c_d', 'X1', 'a'.repeat(250)])('accepts %j', (id) => {
    expect(keyProblem(id)).toBeNull();
  });

  it.each([
    ['', 'it must not be empty'],
    ['a'.repeat(251), 'it is 251 characters long; the limit is 250'],
    ['my dag', "it may contain only letters, digits, '.', '_' and '-' (found ' ')"],
    ['ünï', "(found 'ü')"],
    ['a/b', "(found '/')"],
  ])('refuses %j', (id, expected) => {
    expect(keyProblem(id)).toContain(expected);
  });
});

describe('checkIsoDate', () => {
  it.each([
    ['2026-01-01', Date.UTC(2026, 0, 1)],
    ['2026-01-01T06:30', Date.UTC(2026, 0, 1, 6, 30)],
    ['2026-01-01T06:30:15', Date.UTC(2026, 0, 1, 6, 30, 15)],
    ['2026-01-01T06:30:15.5Z', Date.UTC(2026, 0, 1, 6, 30, 15, 500)],
    ['2026-01-01T06:30:15.123456+02:00', Date.UTC(2026, 0, 1, 4, 30, 15, 123)],
    ['2026-01-01T00:00-05:30', Date.UTC(2026, 0, 1, 5, 30)],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    // Date.UTC would read year 50 as 1950; the year stays as written.
    ['0050-06-01', Date.parse('0050-06-01T00:00:00Z')],
  ])('reads %s as UTC unless it has an offset', (text, instant) => {
    expect(checkIsoDate(text)).toEqual({ ok: true, value: instant });
  });

  it.each([
    ['2026-13-01', 'month 13 is not 1-12'],
    ['2026-02-29', 'February 2026 has no day 29'],
    ['2026-04-31', 'April 2026 has no day 31'],
    ['2026-01-01T24:00', 'hour 24 is not 0-23'],
    ['2026-01-01T10:60', 'minute 60 is not 0-59'],
    ['2026-01-01T10:00:60', 'second 60 is not 0-59'],
    ['2026-01-01T10:00+24:00', 'offset +24:00 is not a valid UTC offset'],
    ['2026-1-1', 'expected an ISO-8601 date'],
    ['01/02/2026', 'expected an ISO-8601 date'],
    ['2026-01-01 10:00', 'expected an ISO-8601 date'],
    ['yesterday', 'expected an ISO-8601 date'],
  ])('refuses %j', (text, expected) => {
    const checked = checkIsoDate(text);
    expect(checked.ok ? null : checked.problem).toContain(expected);
  });
});

describe('findCycle', () => {
  it('finds none in a diamond', () => {
    expect(
      findCycle([
        { taskId: 'a', upstream: [] },
        { taskId: 'b', upstream: ['a'] },
        { taskId: 'c', upstream: ['a'] },
        { taskId: 'd', upstream: ['b', 'c'] },
      ]),
    ).toBeNull();
  });

  it('reports a cycle as a path in run order', () => {
    expect(
      findCycle([
        { taskId: 'start', upstream: [] },
        { taskId: 'a', upstream: ['start', 'c'] },
        { taskId: 'b', upstream: ['a'] },
        { taskId: 'c', upstream: ['b'] },
      ]),
    ).toEqual(['a', 'b', 'c', 'a']);
  });

  it('reports a task that depends on itself', () => {
    expect(findCycle([{ taskId: 'a', upstream: ['a'] }])).toEqual(['a', 'a']);
  });

  it('walks a long chain without overflowing the stack', () => {
    const tasks = Array.from({ length: 20_000 }, (_, i) => ({ taskId: `t${i}`, upstream: i === 0 ? ['t19999'] : [`t${i - 1}`] }));
    expect(findCycle(tasks)).toHaveLength(20_001);
    expect(findCycle(tasks.slice(1))).toBeNull();
  });
});

describe('taskGraphProblem', () => {
  it('names a duplicate id, an unknown upstream (with a suggestion) and a cycle', () => {
    expect(taskGraphProblem([{ taskId: 'a', upstream: [] }, { taskId: 'a', upstream: [] }])).toBe("duplicate task id 'a'");
    expect(taskGraphProblem([{ taskId: 'extract', upstream: [] }, { taskId: 'load', upstream: ['extrct'] }])).toBe(
      "unknown upstream task 'extrct' for task 'load': did you mean 'extract'?",
    );
    expect(taskGraphProblem([{ taskId: 'a', upstream: ['b'] }, { taskId: 'b', upstream: ['a'] }])).toBe('dependency cycle: a -> b -> a');
  });
});

describe('serializedDagProblem', () => {
  const base: SerializedDag = {
    format: 1,
    dagId: 'd',
    description: null,
    schedule: '0 6 * * *',
    startDate: '2026-01-01',
    endDate: '2026-12-31',
    catchup: false,
    tags: ['a', 'b'],
    params: {},
    defaultArgs: {},
    maxActiveRuns: null,
    doc: null,
    tasks: [
      { taskId: 'a', upstream: [], retries: 0, retryDelaySeconds: null, owner: null, doc: null, params: {} },
      { taskId: 'b', upstream: ['a'], retries: 0, retryDelaySeconds: null, owner: null, doc: null, params: {} },
    ],
    hasOnFailureCallback: false,
    hasOnSuccessCallback: false,
  };

  it('accepts what the SDK produces', () => {
    expect(serializedDagProblem(base)).toBeNull();
  });

  it.each([
    [{ schedule: '0 6 * *' }, "invalid schedule '0 6 * *'"],
    [{ schedule: '0  6 * * *' }, 'is not in its stored form'],
    [{ startDate: '2026-02-30' }, "invalid startDate '2026-02-30'"],
    [{ endDate: '2025-01-01' }, "endDate '2025-01-01' is before startDate '2026-01-01'"],
    [{ tags: ['b', 'a'] }, 'tags are not sorted and unique'],
    [{ tasks: [base.tasks[1]!, base.tasks[0]!] }, 'tasks are not sorted by taskId'],
    [{ tasks: [{ ...base.tasks[0]!, upstream: ['b'] }, base.tasks[1]!] }, 'dependency cycle: a -> b -> a'],
    [{ tasks: [{ ...base.tasks[0]!, upstream: ['x'] }, base.tasks[1]!] }, "unknown upstream task 'x'"],
  ])('refuses %o, which the zod schema lets through', (change, expected) => {
    expect(serializedDagProblem({ ...base, ...change })).toContain(expected);
  });
});
