import {
  accessPoliciesQuery,
  accessPolicyBody,
  accessPolicyCollection,
  accessPolicyResponse,
  bundleNameParams,
} from '@dagproc/shared/schemas/api';
import { deleteAccessPolicy, findAccessPolicy, listAccessPolicies, putAccessPolicy } from '../../db/queries/access-policy.ts';
import { created, fail, noContent, ok, operation } from './operation.ts';
import { errorResponse, pageOf } from './responses.ts';

const noPolicy = (bundleName: string) =>
  fail(404, `bundle '${bundleName}' has no access policy: its DAG files may read every Connection and Variable`);

export const accessPolicyOperations = [
  operation({
    operationId: 'getAccessPolicies',
    method: 'get',
    path: '/accessPolicies',
    tag: 'AccessPolicy',
    summary: 'List bundle access policies',
    description: 'A bundle with no policy is unrestricted: its DAG files may read every Connection and Variable.',
    query: accessPoliciesQuery,
    responses: { 200: { description: 'The policies, by bundle.', schema: accessPolicyCollection } },
    async handle({ query, deps }) {
      return ok(await listAccessPolicies(deps.database.db, pageOf(query)));
    },
  }),

  operation({
    operationId: 'getAccessPolicy',
    method: 'get',
    path: '/bundles/:bundleName/accessPolicy',
    tag: 'AccessPolicy',
    summary: "Get a bundle's access policy",
    params: bundleNameParams,
    responses: { 200: { description: 'The policy.', schema: accessPolicyResponse }, 404: errorResponse('The bundle has no policy (unrestricted).') },
    async handle({ params, deps }) {
      const policy = await findAccessPolicy(deps.database.db, params.bundleName);
      return policy ? ok(policy) : noPolicy(params.bundleName);
    },
  }),

  operation({
    operationId: 'putAccessPolicy',
    method: 'put',
    path: '/bundles/:bundleName/accessPolicy',
    tag: 'AccessPolicy',
    summary: "Set a bundle's access policy",
    description:
      'From now on the DAG files of the bundle may read through the Execution API only the Connections and Variables listed ' +
      '(exact ids, or prefixes ending in "*"); anything else is a 403 naming the id and the bundle.',
    params: bundleNameParams,
    body: accessPolicyBody,
    responses: {
      200: { description: 'Replaced.', schema: accessPolicyResponse },
      201: { description: 'Created.', schema: accessPolicyResponse },
    },
    async handle({ params, body, claims, deps }) {
      const result = await putAccessPolicy(deps.database.db, params.bundleName, body, claims.sub);
      return result.created ? created(result.policy) : ok(result.policy);
    },
  }),

  operation({
    operationId: 'deleteAccessPolicy',
    method: 'delete',
    path: '/bundles/:bundleName/accessPolicy',
    tag: 'AccessPolicy',
    summary: "Remove a bundle's access policy (the bundle becomes unrestricted)",
    params: bundleNameParams,
    responses: { 204: { description: 'Removed.' }, 404: errorResponse('The bundle has no policy.') },
    async handle({ params, claims, deps }) {
      return (await deleteAccessPolicy(deps.database.db, params.bundleName, claims.sub)) ? noContent() : noPolicy(params.bundleName);
    },
  }),
];
