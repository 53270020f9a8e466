import { dagWarningCollection, dagWarningsQuery } from '@dagproc/shared/schemas/api';
import { listDagWarnings } from '../../db/queries/api-dag-warnings.ts';
import { ok, operation } from './operation.ts';
import { pageOf } from './responses.ts';

export const dagWarningOperations = [
  operation({
    operationId: 'getDagWarnings',
    method: 'get',
    path: '/dagWarnings',
    tag: 'DagWarning',
    summary: 'List DAG warnings',
    query: dagWarningsQuery,
    responses: { 200: { description: 'The warnings, by dag id and type.', schema: dagWarningCollection } },
    async handle({ query, deps }) {
      const filter = { dagId: query.dagId, warningType: query.warningType };
      return ok(await listDagWarnings(deps.database.db, filter, pageOf(query)));
    },
  }),
];
