import { z } from 'zod';
import { bundleName, dagId, isoDateTime, pgText, relativeFileloc } from '../names.ts';
import { serializedDag } from '../dag/model.ts';

export const WARNING_TYPE = {
  runtimeVaryingValue: 'runtime varying value',
} as const;

export const dagWarning = z.strictObject({
  dagId,
  warningType: pgText.min(1).max(50),
  message: pgText.max(10_000),
});

/** One file's parse, as the processor saw it: everything the server stores for the file. */
export const persistFileInput = z
  .strictObject({
    bundleName,
    /** The bundle's version the file was read at (a git commit), or null. */
    bundleVersion: pgText.max(200).nullable(),
    relativeFileloc,
    /** Chosen by the processor for this parse; a retried persist with the same id is a no-op. */
    parseId: z.uuid(),
    parseStartedAt: isoDateTime,
    parseFinishedAt: isoDateTime,
    /** sha256 hex of the file's bytes, to tell a changed file from a runtime-varying one. */
    contentHash: z.string().regex(/^[0-9a-f]{64}$/, 'contentHash is a sha256 hex digest'),
    sourceCode: pgText,
    dags: z.array(serializedDag).max(10_000),
    importError: z.strictObject({ stacktrace: pgText.min(1).max(1_000_000) }).nullable(),
    warnings: z.array(dagWarning).max(10_000),
    /** Priority parse requests this parse answers; deleted in the same transaction. */
    priorityRequestIds: z.array(z.number().int().positive()).max(1000).default([]),
    /** DAGPROC_STALE_DAG_THRESHOLD, seconds: DAGs this file stopped defining go stale past it. */
    staleDagThreshold: z.number().int().min(0).max(86_400 * 30),
  })
  .refine((v) => Date.parse(v.parseFinishedAt) >= Date.parse(v.parseStartedAt), {
    message: 'parseFinishedAt must not be before parseStartedAt',
    path: ['parseFinishedAt'],
  })
  .refine((v) => new Set(v.dags.map((d) => d.dagId)).size === v.dags.length, {
    message: 'a file result must not define the same dagId twice',
    path: ['dags'],
  })
  .refine((v) => new Set(v.warnings.map((w) => `${w.dagId}\u0000${w.warningType}`)).size === v.warnings.length, {
    message: 'a DAG has at most one warning of each type',
    path: ['warnings'],
  });
export type PersistFileInput = z.input<typeof persistFileInput>;

export const persistFileOutput = z.object({
  /** `superseded`: a newer parse of this file is already stored; `duplicate`: this parse was. */
  outcome: z.enum(['applied', 'duplicate', 'superseded']),
  dags: z.array(z.object({ dagId: z.string(), versionNumber: z.number(), newVersion: z.boolean() })),
  /** DAG ids this file defined that another live file owns (the file gets an import error). */
  rejected: z.array(z.object({ dagId: z.string(), ownerBundle: z.string(), ownerFileloc: z.string() })),
  warnings: z.array(z.object({ dagId: z.string(), warningType: z.string(), message: z.string() })),
});
export type PersistFileOutput = z.infer<typeof persistFileOutput>;

/** The most file results one `parsing.persistMany` call takes, and DAGs across them. */
export const PERSIST_BATCH_MAX_FILES = 100;
export const PERSIST_BATCH_MAX_DAGS = 10_000;

const dagCount = (file: unknown) => {
  const dags = (file as { dags?: unknown }).dags;
  return Array.isArray(dags) ? dags.length : 0;
};

/**
 * Several files' parse results in one request. Each file is checked against `persistFileInput`
 * on its own by the server, so one malformed file is refused in its own outcome and costs the
 * others nothing; only the batch's shape and limits are checked here (a 400 for the whole call).
 */
export const persistManyInput = z
  .strictObject({
    files: z
      .array(
        z.custom<PersistFileInput>(
          (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
          'each entry of files is one file\'s parse result (an object)',
        ),
      )
      .min(1, 'a batch holds at least one file result')
      .max(PERSIST_BATCH_MAX_FILES, `a batch holds at most ${PERSIST_BATCH_MAX_FILES} file results`),
  })
  .refine((v) => v.files.reduce((n, f) => n + dagCount(f), 0) <= PERSIST_BATCH_MAX_DAGS, {
    message: `a batch holds at most ${PERSIST_BATCH_MAX_DAGS} DAGs across its files; send large files alone`,
    path: ['files'],
  });
export type PersistManyInput = z.input<typeof persistManyInput>;

/** Why one file of a batch was not stored: the code and HTTP status `parsing.persist` would have answered. */
export const persistFileFailure = z.object({ code: z.string(), httpStatus: z.number().int(), message: z.string() });
export type PersistFileFailure = z.infer<typeof persistFileFailure>;

/** One outcome per file, in the order sent; each file was stored whole or not at all. */
export const persistManyOutput = z.object({
  results: z.array(
    z.discriminatedUnion('ok', [
      persistFileOutput.extend({ ok: z.literal(true) }),
      z.object({ ok: z.literal(false), error: persistFileFailure }),
    ]),
  ),
});
export type PersistManyOutput = z.infer<typeof persistManyOutput>;
export type PersistManyResult = PersistManyOutput['results'][number];

export const fileTokenInput = z.strictObject({ bundleName, relativeFileloc });
export const fileTokenOutput = z.object({ token: z.string(), expiresAt: z.string() });
