import { z } from 'zod';
import { bundleName, relativeFileloc } from '../names.ts';

/** Every file the bundle holds now, so the server can tell which files are gone. */
export const bundleFilesInput = z.strictObject({
  bundleName,
  files: z.array(relativeFileloc).max(200_000),
});

export const sweepStaleDagsInput = bundleFilesInput.extend({
  /** DESIGN.md's DAGPROC_STALE_DAG_THRESHOLD, in seconds. */
  staleDagThreshold: z.number().int().min(0).max(86_400 * 30),
});
export const sweepStaleDagsOutput = z.object({ staleDagIds: z.array(z.string()) });

export const purgeImportErrorsOutput = z.object({ deleted: z.number() });

export const purgeWarningsInput = z.strictObject({ bundleNames: z.array(bundleName).min(1).max(1000) });
export const purgeWarningsOutput = z.object({ deleted: z.number() });
