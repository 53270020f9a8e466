import { callbackRequestBody, callbackRequestResponse } from '@dagproc/shared/schemas/api';
import { requestCallback } from '../../db/queries/api-requests.ts';
import { created, fail, operation } from './operation.ts';
import { errorResponse } from './responses.ts';

export const callbackRequestOperations = [
  operation({
    operationId: 'createCallbackRequest',
    method: 'post',
    path: '/callbackRequests',
    tag: 'CallbackRequest',
    summary: "Run a DAG's failure or success callback",
    description: "Queued for the processor that serves the DAG's bundle; it runs the callback from the DAG's file.",
    body: callbackRequestBody,
    responses: {
      201: { description: 'Queued.', schema: callbackRequestResponse },
      404: errorResponse('No such DAG.'),
    },
    async handle({ body, claims, deps }) {
      const request = await requestCallback(deps.database.db, body, claims.sub);
      return request ? created(request) : fail(404, `DAG '${body.dagId}' not found`);
    },
  }),
];
