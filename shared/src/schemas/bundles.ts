import { z } from 'zod';
import { bundleName, isoDateTime, pgText } from '../names.ts';

export const bundleKind = z.enum(['local', 'git']);

export const reconcileBundlesInput = z.strictObject({
  /**
   * The processor group whose configuration this is. Reconcile deactivates only bundles this
   * group activated before, never another group's.
   */
  group: z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'a group is letters, digits, ".", "_" or "-"'),
  bundles: z
    .array(z.strictObject({ name: bundleName, kind: bundleKind }))
    .max(1000)
    .refine((list) => new Set(list.map((b) => b.name)).size === list.length, 'bundle names must be unique'),
  /**
   * False for a processor started with --bundle-name: it sees only part of its group's
   * configuration, so it activates its own bundles and deactivates nothing.
   */
  deactivateOthers: z.boolean().default(true),
});
export const reconcileBundlesOutput = z.object({
  activated: z.array(z.string()),
  deactivated: z.array(z.string()),
});

export const bundleStateInput = z.strictObject({ names: z.array(bundleName).min(1).max(1000) });
export const bundleState = z.object({
  name: z.string(),
  kind: z.string(),
  active: z.boolean(),
  version: z.string().nullable(),
  lastRefreshed: z.string().nullable(),
  /** Why the latest refresh failed; null after a good one. */
  lastError: z.string().nullable(),
});
export const bundleStateOutput = z.object({ bundles: z.array(bundleState) });

/**
 * After a refresh. A good one gives `version` and `lastRefreshed` (and clears the bundle's
 * error); a failed one gives only `error`, the reason, and the bundle keeps the version and
 * refresh time of its last good refresh (the checkout the processor goes on parsing).
 */
export const syncBundleInput = z
  .strictObject({
    name: bundleName,
    /** A git commit, or null for a bundle without versions (a local folder). */
    version: pgText.min(1).max(200).nullable().optional(),
    lastRefreshed: isoDateTime.optional(),
    error: pgText.min(1).max(4000).optional(),
  })
  .superRefine((input, ctx) => {
    if (input.error !== undefined) {
      for (const key of ['version', 'lastRefreshed'] as const) {
        if (input[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'must be left out when error is given' });
      }
      return;
    }
    if (input.version === undefined) {
      ctx.addIssue({ code: 'custom', path: ['version'], message: 'is required (null for a bundle without versions) unless error is given' });
    }
    if (input.lastRefreshed === undefined) ctx.addIssue({ code: 'custom', path: ['lastRefreshed'], message: 'is required unless error is given' });
  });
export type SyncBundleInput = z.infer<typeof syncBundleInput>;
