import type { TRPCRouterRecord } from '@trpc/server';
import {
  ackCallbackInput,
  ackCallbackOutput,
  claimCallbacksInput,
  claimCallbacksOutput,
  claimParseRequestsInput,
  claimParseRequestsOutput,
  completeParseRequestsInput,
} from '@dagproc/shared';
import {
  ackCallback,
  callbackBundle,
  claimCallbacks,
  claimParseRequests,
  completeParseRequests,
  parseRequestBundles,
} from '../db/queries/claims.ts';
import { assertBundles, processorProcedure } from '../trpc.ts';

/** Priority parse requests and callback requests, handed out as leases (DESIGN.md, "Claims are leases"). */
export const claimsRouter = {
  parseRequests: processorProcedure
    .input(claimParseRequestsInput)
    .output(claimParseRequestsOutput)
    .mutation(async ({ ctx, input }) => {
      assertBundles(ctx.claims, input.bundleNames);
      return { requests: await claimParseRequests(ctx.deps.database.db, input) };
    }),

  completeParseRequests: processorProcedure.input(completeParseRequestsInput).mutation(async ({ ctx, input }) => {
    assertBundles(ctx.claims, await parseRequestBundles(ctx.deps.database.db, input.ids));
    return completeParseRequests(ctx.deps.database.db, input);
  }),

  callbacks: processorProcedure
    .input(claimCallbacksInput)
    .output(claimCallbacksOutput)
    .mutation(async ({ ctx, input }) => {
      assertBundles(ctx.claims, input.bundleNames);
      return { callbacks: await claimCallbacks(ctx.deps.database.db, input) };
    }),

  ackCallback: processorProcedure
    .input(ackCallbackInput)
    .output(ackCallbackOutput)
    .mutation(async ({ ctx, input }) => {
      const bundle = await callbackBundle(ctx.deps.database.db, input.id);
      if (bundle === null) return { acknowledged: false };
      assertBundles(ctx.claims, [bundle]);
      return ackCallback(ctx.deps.database.db, input, ctx.claims.sub);
    }),
} satisfies TRPCRouterRecord;
