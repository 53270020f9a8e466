import type { TRPCRouterRecord } from '@trpc/server';
import {
  bundleStateInput,
  bundleStateOutput,
  reconcileBundlesInput,
  reconcileBundlesOutput,
  syncBundleInput,
} from '@dagproc/shared';
import { bundleStates, reconcileBundles, syncBundle } from '../db/queries/bundles.ts';
import { assertBundles, processorProcedure } from '../trpc.ts';

export const bundlesRouter = {
  reconcile: processorProcedure
    .input(reconcileBundlesInput)
    .output(reconcileBundlesOutput)
    .mutation(({ ctx, input }) => {
      assertBundles(
        ctx.claims,
        input.bundles.map((b) => b.name),
      );
      return reconcileBundles(ctx.deps.database.db, input, ctx.claims.bundles ?? null);
    }),

  state: processorProcedure
    .input(bundleStateInput)
    .output(bundleStateOutput)
    .query(async ({ ctx, input }) => {
      assertBundles(ctx.claims, input.names);
      return { bundles: await bundleStates(ctx.deps.database.db, input.names) };
    }),

  sync: processorProcedure.input(syncBundleInput).mutation(async ({ ctx, input }) => {
    assertBundles(ctx.claims, [input.name]);
    await syncBundle(ctx.deps.database.db, input);
  }),
} satisfies TRPCRouterRecord;
