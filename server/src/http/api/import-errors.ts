import { importErrorCollection, importErrorsQuery } from '@dagproc/shared/schemas/api';
import { listImportErrors } from '../../db/queries/api-import-errors.ts';
import { ok, operation } from './operation.ts';
import { pageOf } from './responses.ts';

export const importErrorOperations = [
  operation({
    operationId: 'getImportErrors',
    method: 'get',
    path: '/importErrors',
    tag: 'ImportError',
    summary: 'List import errors',
    description: 'Files that failed to load, with their stack traces; newest first.',
    query: importErrorsQuery,
    responses: { 200: { description: 'The import errors.', schema: importErrorCollection } },
    async handle({ query, deps }) {
      return ok(await listImportErrors(deps.database.db, { bundleName: query.bundleName }, pageOf(query)));
    },
  }),
];
