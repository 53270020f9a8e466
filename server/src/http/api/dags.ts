import {
  dagCollection,
  dagIdParams,
  dagPatchBody,
  dagResponse,
  dagsQuery,
  dagVersionCollection,
  dagVersionDetailResponse,
  dagVersionParams,
  dagVersionsQuery,
} from '@dagproc/shared/schemas/api';
import { getDag, getDagVersion, listDags, listDagVersions, setDagPaused } from '../../db/queries/api-dags.ts';
import { fail, ok, operation } from './operation.ts';
import { errorResponse, pageOf } from './responses.ts';

const unknownDag = (dagId: string) => fail(404, `DAG '${dagId}' not found`);

export const dagOperations = [
  operation({
    operationId: 'getDags',
    method: 'get',
    path: '/dags',
    tag: 'DAG',
    summary: 'List DAGs',
    query: dagsQuery,
    responses: { 200: { description: 'DAGs by dag id.', schema: dagCollection } },
    async handle({ query, deps }) {
      const filter = { bundleName: query.bundleName, isStale: query.isStale, tags: query.tag, dagIdPattern: query.dagIdPattern };
      return ok(await listDags(deps.database.db, filter, pageOf(query)));
    },
  }),

  operation({
    operationId: 'getDag',
    method: 'get',
    path: '/dags/:dagId',
    tag: 'DAG',
    summary: 'Get a DAG',
    params: dagIdParams,
    responses: { 200: { description: 'The DAG.', schema: dagResponse }, 404: errorResponse('No such DAG.') },
    async handle({ params, deps }) {
      const dag = await getDag(deps.database.db, params.dagId);
      return dag ? ok(dag) : unknownDag(params.dagId);
    },
  }),

  operation({
    operationId: 'patchDag',
    method: 'patch',
    path: '/dags/:dagId',
    tag: 'DAG',
    summary: 'Pause or unpause a DAG',
    params: dagIdParams,
    body: dagPatchBody,
    responses: { 200: { description: 'The DAG as it is now.', schema: dagResponse }, 404: errorResponse('No such DAG.') },
    async handle({ params, body, claims, deps }) {
      const dag = await setDagPaused(deps.database.db, { dagId: params.dagId, isPaused: body.isPaused }, claims.sub);
      return dag ? ok(dag) : unknownDag(params.dagId);
    },
  }),

  operation({
    operationId: 'getDagVersions',
    method: 'get',
    path: '/dags/:dagId/versions',
    tag: 'DagVersion',
    summary: "List a DAG's versions",
    description: 'Oldest first; a new version is stored only when the serialized DAG changes.',
    params: dagIdParams,
    query: dagVersionsQuery,
    responses: {
      200: { description: 'The versions.', schema: dagVersionCollection },
      404: errorResponse('No such DAG.'),
    },
    async handle({ params, query, deps }) {
      const versions = await listDagVersions(deps.database.db, params.dagId, pageOf(query));
      return versions ? ok(versions) : unknownDag(params.dagId);
    },
  }),

  operation({
    operationId: 'getDagVersion',
    method: 'get',
    path: '/dags/:dagId/versions/:versionNumber',
    tag: 'DagVersion',
    summary: 'Get one version of a DAG, with its serialized form and source',
    params: dagVersionParams,
    responses: {
      200: { description: 'The version.', schema: dagVersionDetailResponse },
      404: errorResponse('No such DAG, or no such version of it.'),
    },
    async handle({ params, deps }) {
      const version = await getDagVersion(deps.database.db, params.dagId, params.versionNumber);
      if (version) return ok(version);
      return fail(404, `DAG '${params.dagId}' has no version ${params.versionNumber}`);
    },
  }),
];
