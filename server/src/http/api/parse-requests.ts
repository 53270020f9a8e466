import { parseRequestBody, parseRequestResponse } from '@dagproc/shared/schemas/api';
import { requestParse } from '../../db/queries/api-requests.ts';
import { created, fail, ok, operation } from './operation.ts';
import { errorResponse } from './responses.ts';

export const parseRequestOperations = [
  operation({
    operationId: 'createParseRequest',
    method: 'post',
    path: '/parseRequests',
    tag: 'ParseRequest',
    summary: 'Reparse a file now',
    description:
      'Queues a priority parse of a file, named by bundle and path or by a DAG it defines. A request for the ' +
      'same file that is still waiting is answered instead of queuing a second one.',
    body: parseRequestBody,
    responses: {
      200: { description: 'A request for this file was already waiting.', schema: parseRequestResponse },
      201: { description: 'Queued.', schema: parseRequestResponse },
      404: errorResponse('No such DAG, or no such bundle.'),
    },
    async handle({ body, claims, deps }) {
      const result = await requestParse(deps.database.db, body, claims.sub);
      switch (result.outcome) {
        case 'created':
          return created(result.request);
        case 'pending':
          return ok(result.request);
        case 'unknown-dag':
          return fail(404, `DAG '${result.dagId}' not found`);
        case 'unknown-bundle':
          return fail(404, `bundle '${result.bundleName}' not found`);
      }
    },
  }),
];
