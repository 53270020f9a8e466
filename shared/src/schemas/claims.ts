import { z } from 'zod';
import { bundleName, jobId, pgText } from '../names.ts';
import { jsonValue } from '../dag/model.ts';

const claimInput = z.strictObject({
  jobId,
  bundleNames: z.array(bundleName).min(1).max(1000),
  limit: z.number().int().positive().max(1000),
  /** How long the claim holds before the item is claimable again. */
  leaseSeconds: z.number().int().min(1).max(86_400),
});

export const claimParseRequestsInput = claimInput;
export const parseRequest = z.object({
  id: z.number(),
  bundleName: z.string(),
  relativeFileloc: z.string(),
  createdAt: z.string(),
});
export const claimParseRequestsOutput = z.object({ requests: z.array(parseRequest) });
export type ParseRequest = z.infer<typeof parseRequest>;

/** Requests done without a persist (the file no longer exists, say). */
export const completeParseRequestsInput = z.strictObject({
  jobId,
  ids: z.array(z.number().int().positive()).min(1).max(1000),
});

export const callbackType = z.enum(['failure', 'success']);
export const claimCallbacksInput = claimInput;
export const callbackRequest = z.object({
  id: z.number(),
  dagId: z.string(),
  bundleName: z.string(),
  relativeFileloc: z.string(),
  callbackType,
  runId: z.string().nullable(),
  msg: z.string().nullable(),
  context: z.record(z.string(), jsonValue),
  attempts: z.number(),
  createdAt: z.string(),
});
export type CallbackRequest = z.infer<typeof callbackRequest>;
export const claimCallbacksOutput = z.object({ callbacks: z.array(callbackRequest) });

export const ackCallbackInput = z.strictObject({
  jobId,
  id: z.number().int().positive(),
  outcome: z.enum(['success', 'failed']),
  error: pgText.max(100_000).optional(),
});
export const ackCallbackOutput = z.object({
  /** False when this job no longer held the lease (it lapsed and another job took it). */
  acknowledged: z.boolean(),
});
