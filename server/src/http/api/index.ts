import { Hono } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import type { BearerEnv } from '../bearer.ts';
import { accessPolicyOperations } from './access-policies.ts';
import { bundleOperations } from './bundles.ts';
import { callbackRequestOperations } from './callback-requests.ts';
import { connectionOperations } from './connections.ts';
import { dagWarningOperations } from './dag-warnings.ts';
import { dagOperations } from './dags.ts';
import { importErrorOperations } from './import-errors.ts';
import { jobOperations } from './jobs.ts';
import { buildOpenApiDocument, OPENAPI_PATH } from './openapi.ts';
import { mountOperations, type ApiOperation } from './operation.ts';
import { parseRequestOperations } from './parse-requests.ts';
import { variableOperations } from './variables.ts';

/** Every route of the public API, in the order the document lists them. */
export const apiOperations: readonly ApiOperation[] = [
  ...dagOperations,
  ...importErrorOperations,
  ...dagWarningOperations,
  ...bundleOperations,
  ...jobOperations,
  ...parseRequestOperations,
  ...callbackRequestOperations,
  ...variableOperations,
  ...connectionOperations,
  ...accessPolicyOperations,
];

/**
 * /api/v2: the public REST API, bearer audience dagproc:api. The OpenAPI document is open: it
 * describes the API and holds no data.
 */
export function apiApp(deps: ServerDeps): Hono<BearerEnv> {
  const app = new Hono<BearerEnv>();
  const document = buildOpenApiDocument(apiOperations);
  app.get(OPENAPI_PATH, (c) => c.json(document));
  mountOperations(app, deps, apiOperations);
  return app;
}
