import type { HonoRequest } from 'hono';
import type { z } from 'zod';

/**
 * Reads and validates a request's path, query and body against an operation's schemas. Bad
 * input becomes one line naming the field, "<field>: <what is wrong>"; nothing here throws.
 */

interface Schemas {
  params?: z.ZodObject | undefined;
  query?: z.ZodObject | undefined;
  body?: z.ZodType | undefined;
}

export type InputResult =
  | { ok: true; value: { params: unknown; query: unknown; body: unknown } }
  | { ok: false; detail: string };

type Issue = z.core.$ZodIssue;

/** zod's own message for a failed union: the schema gave none of its own. */
const ZOD_UNION_MESSAGE = 'Invalid input';

export async function readInput(req: HonoRequest, schemas: Schemas): Promise<InputResult> {
  let params: unknown;
  if (schemas.params) {
    const parsed = schemas.params.safeParse(req.param(), { reportInput: true });
    if (!parsed.success) return { ok: false, detail: describeIssues(parsed.error.issues, 'path') };
    params = parsed.data;
  }

  let query: unknown;
  if (schemas.query) {
    const raw = queryValues(req.queries(), schemas.query);
    if ('detail' in raw) return { ok: false, detail: raw.detail };
    const parsed = schemas.query.safeParse(raw.values, { reportInput: true });
    if (!parsed.success) return { ok: false, detail: describeIssues(parsed.error.issues, 'query') };
    query = parsed.data;
  }

  let body: unknown;
  if (schemas.body) {
    const text = await req.text();
    if (text.trim() === '') return { ok: false, detail: 'body: required (a JSON document)' };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false, detail: 'body: not valid JSON' };
    }
    const parsed = schemas.body.safeParse(json, { reportInput: true });
    if (!parsed.success) return { ok: false, detail: describeIssues(parsed.error.issues, 'body') };
    body = parsed.data;
  }
  return { ok: true, value: { params, query, body } };
}

/**
 * The query values the schema knows, each as one string, or as a list for a list-valued
 * parameter (`?tag=a&tag=b`). Unknown parameters are left out: Airflow's API ignores them too.
 */
export function queryValues(
  all: Record<string, string[]>,
  schema: z.ZodObject,
): { values: Record<string, string | string[]> } | { detail: string } {
  const values: Record<string, string | string[]> = {};
  for (const [name, field] of Object.entries(schema.shape)) {
    const given = all[name];
    if (!given) continue;
    if (isListSchema(field as z.ZodType)) values[name] = given;
    else if (given.length > 1) return { detail: `${name}: given more than once` };
    else values[name] = given[0]!;
  }
  return { values };
}

export function isListSchema(schema: z.ZodType): boolean {
  let def = schema.def as { type: string; innerType?: z.ZodType };
  while ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) {
    def = def.innerType.def as typeof def;
  }
  return def.type === 'array';
}

/** The first issue, as "<field>: <what is wrong>"; `where` names a value that has no field. */
export function describeIssues(issues: readonly Issue[], where: string): string {
  const issue = issues[0];
  return issue ? describeIssue(issue, [], where) : `${where}: invalid`;
}

function describeIssue(issue: Issue, prefix: PropertyKey[], where: string): string {
  const path = [...prefix, ...issue.path];
  const field = path.length ? path.map(String).join('.') : where;
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${[...path, issue.keys[0]].map(String).join('.')}: unknown field`;
    case 'invalid_union': {
      if (isMissing(issue)) return `${field}: required`;
      const branches = issue.errors.filter((b) => b.length > 0);
      // Input that fits no alternative's shape is best told what the alternatives are; input
      // that fits one but has a bad value is best told about that value.
      const shapeOnly = branches.every((b) => b.every(isShapeIssue));
      if (shapeOnly && issue.message !== ZOD_UNION_MESSAGE) return `${field}: ${issue.message}`;
      // Otherwise: the alternative the input fits best, i.e. the fewest missing or unknown
      // fields, then the one that got deepest into the input before failing.
      const depth = (b: Issue[]) => b[0]?.path.length ?? 0;
      const shape = (b: Issue[]) => b.filter(isShapeIssue).length;
      const best = [...branches].sort((a, b) => shape(a) - shape(b) || depth(b) - depth(a) || a.length - b.length)[0];
      return best?.[0] ? describeIssue(best[0], path, where) : `${field}: ${issue.message}`;
    }
    default:
      if (isMissing(issue)) return `${field}: required`;
      return `${field}: ${issue.message.replace(/^Invalid input: /, '')}`;
  }
}

/**
 * An absent field, whatever its type: parsed with `reportInput`, an issue carries the value it
 * saw, and for an absent field that is undefined.
 */
const isMissing = (issue: Issue) =>
  (issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_union') &&
  (('input' in issue && issue.input === undefined) || / received undefined$/.test(issue.message));
const isShapeIssue = (issue: Issue) => isMissing(issue) || issue.code === 'unrecognized_keys';
