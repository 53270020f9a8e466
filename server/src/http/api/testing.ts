import { persistInputOf, serializedDagOf } from '@dagproc/shared/testing';
import type { PersistFileInput, SerializedDag } from '@dagproc/shared';
import { startTestServer, type TestServer } from '../../testing/server.ts';
import { rows } from '../../testing/sql.ts';

/** Test helpers for /api/v2: a real server, an API token, and fixtures made the processor's way. */

export interface ApiReply {
  status: number;
  body: any;
  headers: Headers;
}

export interface ApiTest {
  ts: TestServer;
  /** An API token for subject "admin". */
  token: string;
  /**
   * Calls /api/v2 as any HTTP client would. `body` is sent as JSON, or as is when a string;
   * `token: null` sends no Authorization header.
   */
  call(method: string, path: string, options?: { body?: unknown; token?: string | null }): Promise<ApiReply>;
  get(path: string, token?: string | null): Promise<ApiReply>;
  sql<T = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function startApiTest(): Promise<ApiTest> {
  const ts = await startTestServer();
  const { token } = await ts.auth.signer.mintApiToken({ subject: 'admin', lifetimeSeconds: 3600 });
  const call: ApiTest['call'] = async (method, path, options = {}) => {
    const bearer = options.token === undefined ? token : options.token;
    const headers: Record<string, string> = {};
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    const res = await fetch(`${ts.url}/api/v2${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    ts,
    token,
    call,
    get: (path, bearer) => call('GET', path, { token: bearer }),
    sql: (text, params = []) => rows(ts.testDb.database.db, text, params),
    close: () => ts.close(),
  };
}

/** Registers bundles for a processor group, as a processor does on start. */
export async function reconcileBundles(ts: TestServer, names: string[], group = 'g'): Promise<void> {
  const client = ts.client(await ts.processorToken());
  await client.bundles.reconcile.mutate({ group, bundles: names.map((name) => ({ name, kind: 'local' as const })) });
}

/** Persists one parse of a file, as the processor does after parsing it. */
export async function persistFile(
  ts: TestServer,
  relativeFileloc: string,
  dags: (string | SerializedDag)[],
  overrides: Partial<PersistFileInput> = {},
) {
  const client = ts.client(await ts.processorToken());
  const serialized = dags.map((d) => (typeof d === 'string' ? serializedDagOf(d) : d));
  return client.parsing.persist.mutate(persistInputOf(relativeFileloc, serialized, overrides));
}

/**
 * A well-formed request for every operation, by operationId: what the security and bad-input
 * suites send to each route. A test checks this covers every operation the API has.
 */
export const operationSamples: Record<string, { method: string; path: string; body?: unknown }> = {
  getDags: { method: 'GET', path: '/dags?limit=10' },
  getDag: { method: 'GET', path: '/dags/etl_daily' },
  patchDag: { method: 'PATCH', path: '/dags/etl_daily', body: { isPaused: true } },
  getDagVersions: { method: 'GET', path: '/dags/etl_daily/versions' },
  getDagVersion: { method: 'GET', path: '/dags/etl_daily/versions/1' },
  getImportErrors: { method: 'GET', path: '/importErrors' },
  getDagWarnings: { method: 'GET', path: '/dagWarnings' },
  getBundles: { method: 'GET', path: '/bundles' },
  getJobs: { method: 'GET', path: '/jobs' },
  createParseRequest: { method: 'POST', path: '/parseRequests', body: { bundleName: 'dags-folder', relativeFileloc: 'etl.ts' } },
  createCallbackRequest: { method: 'POST', path: '/callbackRequests', body: { dagId: 'etl_daily', callbackType: 'failure' } },
  getVariables: { method: 'GET', path: '/variables' },
  getVariable: { method: 'GET', path: '/variables/target' },
  putVariable: { method: 'PUT', path: '/variables/target', body: { value: 'prod' } },
  deleteVariable: { method: 'DELETE', path: '/variables/target' },
  getConnections: { method: 'GET', path: '/connections' },
  getConnection: { method: 'GET', path: '/connections/warehouse' },
  postConnection: { method: 'POST', path: '/connections', body: { connId: 'web', connType: 'http' } },
  patchConnection: { method: 'PATCH', path: '/connections/warehouse', body: { host: 'db2.internal' } },
  putConnection: { method: 'PUT', path: '/connections/warehouse', body: { connType: 'postgres' } },
  deleteConnection: { method: 'DELETE', path: '/connections/warehouse' },
  getAccessPolicies: { method: 'GET', path: '/accessPolicies' },
  getAccessPolicy: { method: 'GET', path: '/bundles/dags-folder/accessPolicy' },
  putAccessPolicy: { method: 'PUT', path: '/bundles/dags-folder/accessPolicy', body: { connectionIds: ['warehouse'], variableKeys: ['target'] } },
  deleteAccessPolicy: { method: 'DELETE', path: '/bundles/dags-folder/accessPolicy' },
};
