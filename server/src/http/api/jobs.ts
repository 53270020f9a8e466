import { jobCollection, jobsQuery } from '@dagproc/shared/schemas/api';
import { listJobs } from '../../db/queries/api-jobs.ts';
import { ok, operation } from './operation.ts';
import { pageOf } from './responses.ts';

export const jobOperations = [
  operation({
    operationId: 'getJobs',
    method: 'get',
    path: '/jobs',
    tag: 'Job',
    summary: 'List jobs',
    description: 'Processor jobs and their heartbeats, newest first.',
    query: jobsQuery,
    responses: { 200: { description: 'The jobs.', schema: jobCollection } },
    async handle({ query, deps }) {
      const filter = { jobType: query.jobType, state: query.state, hostname: query.hostname };
      return ok(await listJobs(deps.database.db, filter, pageOf(query)));
    },
  }),
];
