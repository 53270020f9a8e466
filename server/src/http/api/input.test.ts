import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callbackRequestBody, dagsQuery, parseRequestBody } from '@dagproc/shared/schemas/api';
import { describeIssues, isListSchema, queryValues } from './input.ts';

const detail = (schema: z.ZodType, value: unknown, where = 'body') => {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) throw new Error('expected a failure');
  return describeIssues(result.error.issues, where);
};

describe('describeIssues', () => {
  it.each([
    [{ callbackType: 'failure' }, 'dagId: required'],
    [{ dagId: 'd' }, 'callbackType: required'],
    [{ dagId: 'd', callbackType: 'maybe' }, 'callbackType: Invalid option: expected one of "failure"|"success"'],
    [{ dagId: 'd', callbackType: 'failure', context: { a: [1, { b: () => 1 }] } }, 'context.a.1.b: '],
    [{ dagId: 'd', callbackType: 'failure', extra: 1, more: 2 }, 'extra: unknown field'],
    [[], 'body: expected object, received array'],
  ])('%j: %s', (value, expected) => {
    expect(detail(callbackRequestBody, value)).toContain(expected);
  });

  it('a union names the bad value of the alternative the input fits', () => {
    expect(detail(parseRequestBody, { bundleName: 'b', relativeFileloc: '../x' })).toMatch(/^relativeFileloc: a file path must stay inside/);
    expect(detail(parseRequestBody, { dagId: '$bad' })).toMatch(/^dagId: a dag id is/);
  });

  it('a union says what the alternatives are when the input fits none of them', () => {
    expect(detail(parseRequestBody, { relativeFileloc: 'a.ts' })).toBe('body: give either bundleName and relativeFileloc, or dagId');
  });

  it('names nested fields by their path', () => {
    const schema = z.object({ outer: z.object({ list: z.array(z.number()) }) });
    expect(detail(schema, { outer: { list: [1, 'two'] } })).toBe('outer.list.1: expected number, received string');
  });
});

describe('queryValues', () => {
  it('keeps the parameters the schema knows, lists for list parameters', () => {
    expect(queryValues({ tag: ['a', 'b'], limit: ['5'], unknown: ['x'] }, dagsQuery)).toEqual({ values: { tag: ['a', 'b'], limit: '5' } });
  });

  it('refuses a single-valued parameter given twice', () => {
    expect(queryValues({ limit: ['5', '6'] }, dagsQuery)).toEqual({ detail: 'limit: given more than once' });
  });

  it('tells list parameters from single ones through optional wrappers', () => {
    expect(isListSchema(dagsQuery.shape.tag)).toBe(true);
    expect(isListSchema(dagsQuery.shape.limit)).toBe(false);
    expect(isListSchema(z.array(z.string()).nullable().optional())).toBe(true);
  });
});
