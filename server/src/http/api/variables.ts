import { variableBody, variableCollection, variableKeyParams, variableResponse, variablesQuery } from '@dagproc/shared/schemas/api';
import { deleteVariable, findVariable, listVariables, putVariable } from '../../db/queries/api-variables.ts';
import { created, fail, noContent, ok, operation } from './operation.ts';
import { errorResponse, pageOf } from './responses.ts';

const unknownVariable = (key: string) => fail(404, `variable '${key}' not found`);

export const variableOperations = [
  operation({
    operationId: 'getVariables',
    method: 'get',
    path: '/variables',
    tag: 'Variable',
    summary: 'List Variables, values included',
    query: variablesQuery,
    responses: { 200: { description: 'The Variables, by key.', schema: variableCollection } },
    async handle({ query, deps }) {
      return ok(await listVariables(deps.database.db, deps.secrets, pageOf(query)));
    },
  }),

  operation({
    operationId: 'getVariable',
    method: 'get',
    path: '/variables/:key',
    tag: 'Variable',
    summary: 'Get a Variable',
    params: variableKeyParams,
    responses: { 200: { description: 'The Variable.', schema: variableResponse }, 404: errorResponse('No such Variable.') },
    async handle({ params, deps }) {
      const variable = await findVariable(deps.database.db, deps.secrets, params.key);
      return variable ? ok(variable) : unknownVariable(params.key);
    },
  }),

  operation({
    operationId: 'putVariable',
    method: 'put',
    path: '/variables/:key',
    tag: 'Variable',
    summary: 'Create or replace a Variable',
    params: variableKeyParams,
    body: variableBody,
    responses: {
      200: { description: 'Replaced.', schema: variableResponse },
      201: { description: 'Created.', schema: variableResponse },
    },
    async handle({ params, body, claims, deps }) {
      const result = await putVariable(deps.database.db, deps.secrets, params.key, body, claims.sub);
      return result.created ? created(result.variable) : ok(result.variable);
    },
  }),

  operation({
    operationId: 'deleteVariable',
    method: 'delete',
    path: '/variables/:key',
    tag: 'Variable',
    summary: 'Delete a Variable',
    params: variableKeyParams,
    responses: { 204: { description: 'Deleted.' }, 404: errorResponse('No such Variable.') },
    async handle({ params, claims, deps }) {
      return (await deleteVariable(deps.database.db, params.key, claims.sub)) ? noContent() : unknownVariable(params.key);
    },
  }),
];
