import { TRPCError, initTRPC } from '@trpc/server';
import { ZodError } from 'zod';
import { AUDIENCE, SCOPE, SUBJECT, type TokenClaims } from '@dagproc/shared';
import type { ServerDeps } from './deps.ts';
import { DomainError, isDatabaseUnavailable } from './errors.ts';

export interface Context {
  deps: ServerDeps;
  /** Verified claims, or null with the reason the token was refused. */
  claims: TokenClaims | null;
  authError: string | null;
  /** The token could not be checked now (the issuer's JWKS is unreachable): a 503, not a 401. */
  authUnavailable?: boolean;
}

/** Verifies the bearer token once per request, for the dag-processing audience. */
export async function createContext(deps: ServerDeps, req: Request): Promise<Context> {
  const header = req.headers.get('authorization');
  if (!header) return { deps, claims: null, authError: 'missing bearer token (Authorization: Bearer <token>)' };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { deps, claims: null, authError: 'the Authorization header is not "Bearer <token>"' };
  const result = await deps.verifier.verify(match[1]!, AUDIENCE.dagProcessing);
  if (result.ok) return { deps, claims: result.claims, authError: null };
  return { deps, claims: null, authError: result.reason, authUnavailable: result.unavailable === true };
}

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    if (error.code === 'BAD_REQUEST' && error.cause instanceof ZodError) {
      return {
        ...shape,
        message: describeZodError(error.cause),
        data: { ...shape.data, stack: undefined, issues: error.cause.issues },
      };
    }
    if (error.code === 'BAD_REQUEST' && error.cause instanceof SyntaxError) {
      return { ...shape, message: `the request body is not valid JSON: ${error.cause.message}`, data: { ...shape.data, stack: undefined } };
    }
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      // Never echo an unexpected error (it may hold SQL or internals) to the caller.
      return { ...shape, message: 'internal server error', data: { ...shape.data, stack: undefined } };
    }
    return { ...shape, data: { ...shape.data, stack: undefined } };
  },
});

/** "input.dags[0].dagId: a dag id is letters, ..." — the first issues, each naming its field. */
export function describeZodError(error: ZodError, prefix: (string | number)[] = ['input']): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${[...prefix, ...issue.path].map(String).join('.').replace(/\.(\d+)/g, '[$1]')}: ${issue.message}`)
    .join('; ');
}

export const router = t.router;
export const middleware = t.middleware;

/** Maps failures below the procedure to the HTTP answers DESIGN.md promises. */
const errorMapping = t.middleware(async ({ next, ctx, path }) => {
  const result = await next();
  if (result.ok) return result;
  const cause = result.error.cause ?? result.error;
  if (cause instanceof DomainError) {
    throw new TRPCError({ code: cause.code, message: cause.message, cause });
  }
  if (result.error.code === 'INTERNAL_SERVER_ERROR' && isDatabaseUnavailable(cause)) {
    ctx.deps.logger.error('database unavailable', { path, error: cause });
    throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'the metadata database is not reachable; retry later', cause });
  }
  if (result.error.code === 'INTERNAL_SERVER_ERROR') {
    ctx.deps.logger.error('procedure failed', { path, error: cause });
  }
  return result;
});

export const publicProcedure = t.procedure.use(errorMapping);

/** The processor's own token: audience dag-processing (checked in createContext), subject and scope dag-processor. */
export const processorProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.claims) {
    const code = ctx.authUnavailable ? 'SERVICE_UNAVAILABLE' : 'UNAUTHORIZED';
    throw new TRPCError({ code, message: ctx.authError ?? 'unauthorized' });
  }
  if (ctx.claims.sub !== SUBJECT.dagProcessor || ctx.claims.scope !== SCOPE.dagProcessor) {
    throw new TRPCError({ code: 'FORBIDDEN', message: `a token with subject '${ctx.claims.sub}' may not use the dag-processing API` });
  }
  return next({ ctx: { ...ctx, claims: ctx.claims } });
});

/** The first of `names` the token's `bundles` claim does not cover, if any. */
export function bundleDenied(claims: TokenClaims, names: readonly string[]): string | undefined {
  if (!claims.bundles) return undefined;
  return names.find((n) => !claims.bundles!.includes(n));
}

/** 403 naming the first bundle the token's `bundles` claim does not cover. */
export function assertBundles(claims: TokenClaims, names: readonly string[]): void {
  const denied = bundleDenied(claims, names);
  if (denied !== undefined) {
    throw new TRPCError({ code: 'FORBIDDEN', message: `this token may not access bundle '${denied}'` });
  }
}
