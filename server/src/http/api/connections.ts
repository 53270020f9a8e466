import {
  connIdParams,
  connectionBody,
  connectionCollection,
  connectionCreateBody,
  connectionPatchBody,
  connectionQuery,
  connectionResponse,
  connectionsQuery,
  type ConnectionBody,
} from '@dagproc/shared/schemas/api';
import { deleteConnection, findConnection, listConnections, putConnection, type StoredConnection } from '../../db/queries/api-connections.ts';
import { recordAudit } from '../../db/queries/execution.ts';
import { connectionValues, maskConnection } from './mask.ts';
import { created, fail, noContent, ok, operation } from './operation.ts';
import { errorResponse, pageOf } from './responses.ts';

const unknownConnection = (connId: string) => fail(404, `connection '${connId}' not found`);

/** A stored Connection as a PUT body, so a PATCH is "the stored one with these fields changed". */
const asBody = ({ connId: _id, ...rest }: StoredConnection): ConnectionBody => rest;

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
      const { connections, totalEntries } = await listConnections(deps.database.db, deps.secrets, pageOf(query));
      return ok({ connections: connections.map(maskConnection), totalEntries });
    },
  }),

  operation({
    operationId: 'getConnection',
    method: 'get',
    path: '/connections/:connId',
    tag: 'Connection',
    summary: 'Get a Connection, secrets masked unless reveal=true',
    description: 'With `reveal=true` the password and extra are answered as stored (decrypted), and the read is audited.',
    params: connIdParams,
    query: connectionQuery,
    responses: { 200: { description: 'The Connection.', schema: connectionResponse }, 404: errorResponse('No such Connection.') },
    async handle({ params, query, claims, deps }) {
      const connection = await findConnection(deps.database.db, deps.secrets, params.connId);
      if (!connection) return unknownConnection(params.connId);
      if (!query.reveal) return ok(maskConnection(connection));
      await recordAudit(deps.database.db, { event: 'connection.reveal', owner: claims.sub, extra: { connId: params.connId } });
      return ok(connection);
    },
  }),

  operation({
    operationId: 'postConnection',
    method: 'post',
    path: '/connections',
    tag: 'Connection',
    summary: 'Create a Connection',
    body: connectionCreateBody,
    responses: {
      201: { description: 'Created.', schema: connectionResponse },
      409: errorResponse('A Connection with this id exists.'),
    },
    async handle({ body: { connId, ...body }, claims, deps }) {
      const result = await putConnection(deps.database.db, deps.secrets, connId, () => connectionValues(body, undefined), claims.sub, 'create');
      return result ? created(maskConnection(result.connection)) : fail(409, `connection '${connId}' already exists`);
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
      const result = (await putConnection(deps.database.db, deps.secrets, params.connId, (stored) => connectionValues(body, stored), claims.sub))!;
      const answer = maskConnection(result.connection);
      return result.created ? created(answer) : ok(answer);
    },
  }),

  operation({
    operationId: 'patchConnection',
    method: 'patch',
    path: '/connections/:connId',
    tag: 'Connection',
    summary: 'Change some fields of a Connection',
    params: connIdParams,
    body: connectionPatchBody,
    responses: { 200: { description: 'Changed.', schema: connectionResponse }, 404: errorResponse('No such Connection.') },
    async handle({ params, body, claims, deps }) {
      const result = await putConnection(
        deps.database.db,
        deps.secrets,
        params.connId,
        (stored) => connectionValues({ ...asBody(stored!), ...body }, stored),
        claims.sub,
        'update',
      );
      return result ? ok(maskConnection(result.connection)) : unknownConnection(params.connId);
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
