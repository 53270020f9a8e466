import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonValue } from '@dagproc/shared';
import { createApp } from '../../app.ts';
import { startTestServer, type TestServer } from '../../testing/server.ts';
import { apiOperations } from './index.ts';
import { API_BASE_PATH, buildOpenApiDocument, openApiPath, type OpenApiDocument } from './openapi.ts';
import { ok, operation } from './operation.ts';

let ts: TestServer;
let served: OpenApiDocument;

beforeAll(async () => {
  ts = await startTestServer();
  served = (await (await fetch(`${ts.url}/api/v2/openapi.json`)).json()) as OpenApiDocument;
});
afterAll(() => ts.close());

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('GET /api/v2/openapi.json', () => {
  it('is an OpenAPI 3.1 document, served without a token, with the bearer scheme', () => {
    expect(served.openapi).toBe('3.1.0');
    expect(served.servers).toEqual([{ url: '/api/v2' }]);
    expect(served.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(served.security).toEqual([{ bearer: [] }]);
    expect(served).toEqual(buildOpenApiDocument(apiOperations));
  });

  it('lists every route the app registers under /api/v2, and nothing else', () => {
    const registered = createApp(ts.server.deps)
      .routes.filter((r) => r.path.startsWith(`${API_BASE_PATH}/`) && r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path.slice(API_BASE_PATH.length))}`);
    const documented = Object.entries(served.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m} ${path}`),
    );
    expect(new Set(registered).size).toBeGreaterThanOrEqual(apiOperations.length);
    expect([...new Set(registered)].sort()).toEqual(documented.sort());
  });

  it('documents every path parameter, every body and every answer', () => {
    for (const op of apiOperations) {
      const documented = (served.paths[openApiPath(op.path)] as any)[op.method];
      const pathParams = [...op.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      const params = (documented.parameters ?? []) as { name: string; in: string; required: boolean }[];
      expect(params.filter((p) => p.in === 'path').map((p) => p.name), op.operationId).toEqual(pathParams);
      expect(params.filter((p) => p.in === 'path').every((p) => p.required)).toBe(true);
      expect(params.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(Object.keys(op.query?.shape ?? {}));
      expect(Boolean(documented.requestBody), op.operationId).toBe(Boolean(op.body));
      for (const status of Object.keys(op.responses)) expect(documented.responses[status], `${op.operationId} ${status}`).toBeDefined();
      expect(documented.responses['401']).toBeDefined();
    }
  });

  it('has unique operation ids', () => {
    const ids = Object.values(served.paths).flatMap((item) => Object.values(item).map((o: any) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every $ref points at something in the document', () => {
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(served);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\/components\//);
      const target = ref.slice(2).split('/').reduce<any>((node, key) => node?.[key], served);
      expect(target, ref).toBeDefined();
    }
    expect(JSON.stringify(served)).not.toContain('$defs');
    expect(JSON.stringify(served)).not.toContain('"$schema"');
  });

  it('documents query values as the types a client writes', () => {
    const dags = (served.paths['/dags'] as any).get.parameters as any[];
    expect(dags.find((p) => p.name === 'limit')).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000 } });
    expect(dags.find((p) => p.name === 'isStale').schema).toEqual({ type: 'boolean' });
    expect(dags.find((p) => p.name === 'tag')).toMatchObject({ schema: { type: 'array' }, explode: true });
    const version = (served.paths['/dags/{dagId}/versions/{versionNumber}'] as any).get.parameters as any[];
    expect(version.find((p) => p.name === 'versionNumber').schema).toMatchObject({ type: 'integer', minimum: 1 });
  });

  it('the recursive JSON value is one named schema', () => {
    expect(served.components.schemas.JsonValue).toMatchObject({ anyOf: expect.any(Array) });
    expect(JSON.stringify(served.components.schemas.CallbackRequestBody)).toContain('#/components/schemas/JsonValue');
  });
});

describe('buildOpenApiDocument', () => {
  const base = { method: 'get' as const, tag: 't', summary: 's' };

  it('refuses a route whose :params and params schema disagree', () => {
    const op = operation({ ...base, operationId: 'x', path: '/x/:id', params: z.object({ key: z.string() }), responses: { 200: { description: 'ok' } }, handle: async () => ({ status: 200 as const }) });
    expect(() => buildOpenApiDocument([op])).toThrow(/path \/x\/:id has parameters \[id\] but its schema has \[key\]/);
  });

  it('refuses an unnamed recursive schema rather than emit a broken reference', () => {
    const tree: z.ZodType = z.lazy(() => z.object({ children: z.array(tree) }));
    const op = operation({ ...base, operationId: 'y', path: '/y', responses: { 200: { description: 'ok', schema: tree } }, handle: async () => ok({ children: [] }) });
    expect(() => buildOpenApiDocument([op])).toThrow(/unnamed recursive schema/);
    // A recursive schema named in the registry is fine (the shared JSON value is one).
    const named = operation({ ...base, operationId: 'z', path: '/z', responses: { 200: { description: 'ok', schema: jsonValue } }, handle: async () => ok(null) });
    expect(() => buildOpenApiDocument([named])).not.toThrow();
  });
});
