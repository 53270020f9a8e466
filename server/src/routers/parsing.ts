import { TRPCError, type TRPCRouterRecord } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import {
  fileTokenInput,
  fileTokenOutput,
  persistFileInput,
  persistFileOutput,
  persistManyInput,
  persistManyOutput,
  type PersistFileFailure,
  type PersistManyResult,
} from '@dagproc/shared';
import { persistFile, persistFiles, type PersistFile } from '../db/queries/persist.ts';
import { DomainError, isRetryableTransactionError } from '../errors.ts';
import { assertBundles, bundleDenied, describeZodError, processorProcedure } from '../trpc.ts';

/** Long enough for a parse at the longest sensible timeout, short enough to be useless if leaked. */
export const FILE_TOKEN_LIFETIME_SECONDS = 15 * 60;

export const parsingRouter = {
  /** Stores one file's parse results in one transaction. */
  persist: processorProcedure
    .input(persistFileInput)
    .output(persistFileOutput)
    .mutation(async ({ ctx, input }) => {
      assertBundles(ctx.claims, [input.bundleName]);
      const result = await persistFile(ctx.deps.database.db, input, { onRetry: () => ctx.deps.metrics.persistRetries.inc() });
      ctx.deps.metrics.persisted.inc({ outcome: result.outcome });
      return result;
    }),

  /**
   * Stores several files' parse results in one request, each file whole or not at all: a file
   * with bad input, a bundle the token does not cover, or a failure of its own gets its own
   * error outcome (the code `persist` would have answered) and the others are stored.
   */
  persistMany: processorProcedure
    .input(persistManyInput)
    .output(persistManyOutput)
    .mutation(async ({ ctx, input }) => {
      const results = new Array<PersistManyResult>(input.files.length);
      const valid: { index: number; file: PersistFile }[] = [];
      input.files.forEach((raw, index) => {
        const parsed = persistFileInput.safeParse(raw);
        if (!parsed.success) {
          results[index] = failed({ code: 'BAD_REQUEST', message: describeZodError(parsed.error, ['input', 'files', index]) });
          return;
        }
        const denied = bundleDenied(ctx.claims, [parsed.data.bundleName]);
        if (denied !== undefined) {
          results[index] = failed({ code: 'FORBIDDEN', message: `this token may not access bundle '${denied}'` });
          return;
        }
        valid.push({ index, file: parsed.data });
      });
      if (valid.length > 0) {
        const outcomes = await persistFiles(
          ctx.deps.database.db,
          valid.map((v) => v.file),
          { onRetry: () => ctx.deps.metrics.persistRetries.inc() },
        );
        outcomes.forEach((outcome, i) => {
          const { index, file } = valid[i]!;
          if (outcome.ok) {
            ctx.deps.metrics.persisted.inc({ outcome: outcome.result.outcome });
            results[index] = { ok: true, ...outcome.result };
            return;
          }
          const error = outcome.error;
          if (error instanceof DomainError) {
            results[index] = failed({ code: error.code, message: error.message });
          } else if (isRetryableTransactionError(error)) {
            results[index] = failed({ code: 'SERVICE_UNAVAILABLE', message: 'concurrent persists kept conflicting; retry later' });
          } else {
            ctx.deps.logger.error('persisting a file of a batch failed', {
              bundleName: file.bundleName,
              relativeFileloc: file.relativeFileloc,
              error,
            });
            results[index] = failed({ code: 'INTERNAL_SERVER_ERROR', message: 'internal server error' });
          }
        });
      }
      return { results };
    }),

  /**
   * Exchanges the processor's token for a short-lived one naming a single file, audience
   * execution only: all the parse isolate ever holds.
   */
  fileToken: processorProcedure
    .input(fileTokenInput)
    .output(fileTokenOutput)
    .mutation(async ({ ctx, input }) => {
      assertBundles(ctx.claims, [input.bundleName]);
      const { token, expiresAt } = await ctx.deps.fileTokens.mintFileToken({
        bundle: input.bundleName,
        file: input.relativeFileloc,
        lifetimeSeconds: FILE_TOKEN_LIFETIME_SECONDS,
      });
      return { token, expiresAt: expiresAt.toISOString() };
    }),
} satisfies TRPCRouterRecord;

function failed(error: { code: TRPCError['code']; message: string }): PersistManyResult {
  const failure: PersistFileFailure = {
    code: error.code,
    httpStatus: getHTTPStatusCodeFromError(new TRPCError({ code: error.code })),
    message: error.message,
  };
  return { ok: false, error: failure };
}
