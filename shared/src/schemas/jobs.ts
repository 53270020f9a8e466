import { z } from 'zod';
import { jobId, pgText } from '../names.ts';

export const JOB_TYPE = { dagProcessor: 'DagProcessorJob' } as const;
export const jobType = z.enum([JOB_TYPE.dagProcessor]);
export const jobState = z.enum(['running', 'success', 'failed']);
export type JobState = z.infer<typeof jobState>;

export const registerJobInput = z.strictObject({
  jobType,
  hostname: pgText.min(1).max(255),
  unixname: pgText.min(1).max(255),
  pid: z.number().int().positive(),
  /** Chosen by the client; a retry with the same id returns the same Job. */
  registrationId: z.uuid().optional(),
});
export const registerJobOutput = z.object({ jobId });

export const heartbeatInput = z.strictObject({ jobId });
/** Any state an operator may have set (Airflow's `restarting`, say): the processor stops unless `running`. */
export const heartbeatOutput = z.object({ state: z.string(), latestHeartbeat: z.string() });

export const completeJobInput = z.strictObject({
  jobId,
  state: z.enum(['success', 'failed']),
});

export const aliveJobsInput = z.strictObject({
  jobType: jobType.default(JOB_TYPE.dagProcessor),
  hostname: z.string().min(1).max(255).optional(),
  /** A Job is alive while running with a heartbeat at most this many seconds old. */
  thresholdSeconds: z.number().int().positive().max(86_400),
});
export const jobSummary = z.object({
  id: jobId,
  jobType: z.string(),
  state: z.string(),
  hostname: z.string(),
  unixname: z.string(),
  pid: z.number(),
  startDate: z.string(),
  latestHeartbeat: z.string(),
});
export const aliveJobsOutput = z.object({ jobs: z.array(jobSummary) });
