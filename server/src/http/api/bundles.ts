import { bundleCollection, bundlesQuery } from '@dagproc/shared/schemas/api';
import { listBundles } from '../../db/queries/api-bundles.ts';
import { ok, operation } from './operation.ts';
import { pageOf } from './responses.ts';

export const bundleOperations = [
  operation({
    operationId: 'getBundles',
    method: 'get',
    path: '/bundles',
    tag: 'DagBundle',
    summary: 'List DAG bundles',
    query: bundlesQuery,
    responses: { 200: { description: 'The bundles, by name.', schema: bundleCollection } },
    async handle({ query, deps }) {
      return ok(await listBundles(deps.database.db, pageOf(query)));
    },
  }),
];
