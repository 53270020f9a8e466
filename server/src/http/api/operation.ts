import type { Hono } from 'hono';
import type { ContentfulStatusCode, StatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { AUDIENCE, type TokenClaims } from '@dagproc/shared';
import type { ServerDeps } from '../../deps.ts';
import { requireBearer, type BearerEnv } from '../bearer.ts';
import { readInput } from './input.ts';

/**
 * One route of the public API, declared once: the server validates and answers with it, and
 * the OpenAPI document is written from it, so neither can say something the other does not.
 */

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  /** The JSON answer; none for a 204. */
  schema?: z.ZodType;
}

export type Responses = Record<number, ResponseSpec>;

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler may answer: one of the statuses it declared, with that status's body. */
export type Reply<R extends Responses> = {
  [K in keyof R & number]: R[K] extends { schema: infer S extends z.ZodType } ? { status: K; body: z.input<S> } : { status: K };
}[keyof R & number];

export interface OperationInput<P, Q, B> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
  claims: TokenClaims;
  deps: ServerDeps;
}

export interface OperationSpec<P, Q, B, R extends Responses> {
  /** Airflow-style, e.g. `get_dags` becomes `getDags`. */
  operationId: string;
  method: HttpMethod;
  /** Hono's form, relative to /api/v2: `/dags/:dagId`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Every status the handler answers; 400, 401 and 503 are added to the document for all. */
  responses: R;
  handle(input: OperationInput<P, Q, B>): Promise<Reply<R>>;
}

type AnyObject = z.ZodObject;

/** An operation with its types erased, for lists, the router and the document. */
export interface ApiOperation {
  operationId: string;
  method: HttpMethod;
  path: string;
  tag: string;
  summary: string;
  description?: string;
  params?: AnyObject;
  query?: AnyObject;
  body?: z.ZodType;
  responses: Responses;
  handle(input: ErasedInput): Promise<{ status: number; body?: unknown }>;
}

type ErasedInput = { params: unknown; query: unknown; body: unknown; claims: TokenClaims; deps: ServerDeps };

export function operation<
  R extends Responses,
  P extends AnyObject | undefined = undefined,
  Q extends AnyObject | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: OperationSpec<P, Q, B, R>): ApiOperation {
  return spec as unknown as ApiOperation;
}

/** Replies, with the status kept literal so it is checked against the declared responses. */
export const ok = <T>(body: T) => ({ status: 200 as const, body });
export const created = <T>(body: T) => ({ status: 201 as const, body });
export const noContent = () => ({ status: 204 as const });
export const fail = <S extends number>(status: S, detail: string) => ({ status, body: { detail } });

/** Adds the operations to an app: bearer auth for audience dagproc:api, then input, then the handler. */
export function mountOperations(app: Hono<BearerEnv>, deps: ServerDeps, operations: readonly ApiOperation[]): void {
  const auth = requireBearer(deps, AUDIENCE.api);
  for (const op of operations) {
    app.on(op.method.toUpperCase(), op.path, auth, async (c) => {
      const input = await readInput(c.req, op);
      if (!input.ok) return c.json({ detail: input.detail }, 400);
      const reply = await op.handle({ ...input.value, claims: c.get('claims'), deps });
      if (!('body' in reply)) return c.body(null, reply.status as StatusCode);
      return c.json(reply.body, reply.status as ContentfulStatusCode);
    });
  }
}
