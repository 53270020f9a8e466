import { describe, expect, it } from 'vitest';
import { isPlainObject, toJsonRecord, toJsonValue } from './json.ts';

const problem = (value: unknown) => {
  const checked = toJsonValue(value, 'params');
  return checked.ok ? null : checked.problem;
};

describe('toJsonValue', () => {
  it('sorts object keys at every depth and drops undefined members, as JSON.stringify does', () => {
    const checked = toJsonValue({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } }, 'params');
    expect(checked.ok).toBe(true);
    expect(JSON.stringify(checked.ok && checked.value)).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('turns a Date into its ISO string', () => {
    expect(toJsonValue({ at: new Date(Date.UTC(2026, 0, 2, 3)) }, 'params')).toEqual({
      ok: true,
      value: { at: '2026-01-02T03:00:00.000Z' },
    });
  });

  it('keeps a "__proto__" key as data', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    const checked = toJsonValue(value, 'params');
    expect(checked.ok && JSON.stringify(checked.value)).toBe('{"__proto__":{"x":1}}');
  });

  it('lets the same object appear twice when it is not a cycle', () => {
    const shared = { n: 1 };
    expect(toJsonValue({ a: shared, b: [shared] }, 'params').ok).toBe(true);
  });

  it.each([
    [{ f: () => 1 }, 'params.f is a function, which is not a JSON value'],
    [{ s: Symbol('x') }, 'params.s is a symbol'],
    [{ big: 10n }, 'params.big is a bigint'],
    [{ list: [1, undefined] }, 'params.list[1] is undefined (or a hole)'],
    // eslint-disable-next-line no-sparse-arrays
    [{ list: [1, , 3] }, 'params.list[1] is undefined (or a hole)'],
    [{ n: NaN }, 'params.n is NaN, which JSON cannot hold'],
    [{ deep: { x: [Infinity] } }, 'params.deep.x[0] is Infinity'],
    [{ 'odd key': { 'x-y': -Infinity } }, 'params["odd key"]["x-y"] is -Infinity'],
    [{ when: new Date('nope') }, 'params.when is an invalid Date'],
    [{ m: new Map() }, 'params.m is a Map instance'],
    [{ u: new URL('https://example.com') }, 'params.u is a URL instance'],
    [{ text: 'a\u0000b' }, 'params.text contains a NUL character'],
    [{ text: '\ud800' }, 'params.text contains an unpaired UTF-16 surrogate'],
  ])('refuses %o, naming the key path', (value, expected) => {
    expect(problem(value)).toContain(expected);
  });

  it('refuses a cyclic object', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = { back: a };
    expect(problem({ a })).toBe('params.a.self.back refers back to an enclosing value (a cycle)');
  });

  it('refuses absurd nesting instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(problem(deep)).toContain('nested more than 64 levels deep');
  });
});

describe('toJsonRecord', () => {
  it('wants an object at the top', () => {
    expect(toJsonRecord([1], 'params')).toEqual({ ok: false, problem: 'params must be an object of JSON values, got an array' });
    expect(toJsonRecord('x', 'defaultArgs')).toEqual({
      ok: false,
      problem: "defaultArgs must be an object of JSON values, got the string 'x'",
    });
  });
});

describe('isPlainObject', () => {
  it('knows plain objects from class instances', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    expect(isPlainObject(new (class Point {})())).toBe(false);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(new Date())).toBe(false);
  });
});
