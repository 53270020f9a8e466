import { bundlesRouter } from './bundles.ts';
import { claimsRouter } from './claims.ts';
import { dagsRouter } from './dags.ts';
import { importErrorsRouter } from './import-errors.ts';
import { jobsRouter } from './jobs.ts';
import { parsingRouter } from './parsing.ts';
import { warningsRouter } from './warnings.ts';
import { router } from '../trpc.ts';

/** The processor's API, mounted at /dag-processing/trpc. */
export const appRouter = router({
  jobs: jobsRouter,
  parsing: parsingRouter,
  bundles: bundlesRouter,
  dags: dagsRouter,
  importErrors: importErrorsRouter,
  warnings: warningsRouter,
  claims: claimsRouter,
});

export type AppRouter = typeof appRouter;
