import {
  connIdParams,
  connectionBody,
  connectionCollection,
  connectionResponse,
  connectionsQuery,
} from '@dagproc/shared/schemas/api';
import { deleteConnection, findConnection, listConnections, putConnection } from '../../db/queries/api-connections.ts';
import { connectionValues, maskConnection } from './mask.ts';
import { created, fail, noContent, ok, operation } from './operation.ts';
import { errorResponse, pageOf } from './responses.ts';

const unknownConnection = (connId: string) => fail(404, `connection '${connId}' not found`);

export const connectionOperations = [
  operation({
    operationId: 'getConnections',
    method: 'get',
    path: '/connections',
    tag: 'Connection',
    summary: 'List Connections, secrets masked',
    query: connectionsQuery,
    responses: { 200: { description: 'The Connections, by id.', schema: connectionCollection } },
    async handle({ query, deps }) {
      const { connections, totalEntries } = await listConnections(deps.database.db, pageOf(query));
      return ok({ connections: connections.map(maskConnection), totalEntries });
    },
  }),

  operation({
    operationId: 'getConnection',
    method: 'get',
    path: '/connections/:connId',
    tag: 'Connection',
    summary: 'Get a Connection, secrets masked',
    params: connIdParams,
    responses: { 200: { description: 'The Connection.', schema: connectionResponse }, 404: errorResponse('No such Connection.') },
    async handle({ params, deps }) {
      const connection = await findConnection(deps.database.db, params.connId);
      return connection ? ok(maskConnection(connection)) : unknownConnection(params.connId);
    },
  }),

  operation({
    operationId: 'putConnection',
    method: 'put',
    path: '/connections/:connId',
    tag: 'Connection',
    summary: 'Create or replace a Connection',
    params: connIdParams,
    body: connectionBody,
    responses: {
      200: { description: 'Replaced.', schema: connectionResponse },
      201: { description: 'Created.', schema: connectionResponse },
    },
    async handle({ params, body, claims, deps }) {
      const result = await putConnection(deps.database.db, params.connId, (stored) => connectionValues(body, stored), claims.sub);
      const answer = maskConnection(result.connection);
      return result.created ? created(answer) : ok(answer);
    },
  }),

  operation({
    operationId: 'deleteConnection',
    method: 'delete',
    path: '/connections/:connId',
    tag: 'Connection',
    summary: 'Delete a Connection',
    params: connIdParams,
    responses: { 204: { description: 'Deleted.' }, 404: errorResponse('No such Connection.') },
    async handle({ params, claims, deps }) {
      return (await deleteConnection(deps.database.db, params.connId, claims.sub)) ? noContent() : unknownConnection(params.connId);
    },
  }),
];
