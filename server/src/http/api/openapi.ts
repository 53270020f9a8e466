import { z } from 'zod';
import { AUDIENCE } from '@dagproc/shared';
import { apiError, apiSchemaMeta } from '@dagproc/shared/schemas/api';
import type { ApiOperation } from './operation.ts';

/**
 * The OpenAPI 3.1 document of the public API, written from the same operations the server
 * runs. zod emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is; named schemas become
 * `components.schemas` and refer to each other there.
 */

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  security: Record<string, string[]>[];
  tags: { name: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, unknown>;
    securitySchemes: Record<string, unknown>;
  };
}

export const API_BASE_PATH = '/api/v2';
export const OPENAPI_PATH = '/openapi.json';

/** `/dags/:dagId` becomes `/dags/{dagId}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const errorContent = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

export function buildOpenApiDocument(operations: readonly ApiOperation[]): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = {};
  const toSchema = (schema: z.ZodType, io: 'input' | 'output') => hoist(jsonSchemaOf(schema, io), schemas);
  toSchema(apiError, 'output'); // the shared error responses below refer to it

  const paths: OpenApiDocument['paths'] = {};
  for (const op of operations) {
    const path = openApiPath(op.path);
    checkPathParams(op);
    const parameters = [
      ...parametersOf(op.params, 'path', toSchema),
      ...parametersOf(op.query, 'query', toSchema),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(op.responses)) {
      responses[status] = spec.schema
        ? { description: spec.description, content: { 'application/json': { schema: toSchema(spec.schema, 'output') } } }
        : { description: spec.description };
    }
    if (parameters.length || op.body) responses['400'] ??= { $ref: '#/components/responses/BadRequest' };
    responses['401'] = { $ref: '#/components/responses/Unauthorized' };
    if (op.body) responses['413'] = { $ref: '#/components/responses/PayloadTooLarge' };
    responses['503'] = { $ref: '#/components/responses/ServiceUnavailable' };

    (paths[path] ??= {})[op.method] = {
      operationId: op.operationId,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(op.body, 'input') } } } }
        : {}),
      responses,
    };
  }

  paths[OPENAPI_PATH] = {
    get: {
      operationId: 'getOpenApiDocument',
      tags: ['Meta'],
      summary: 'This document',
      security: [],
      responses: { 200: { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  };

  const errorRef = (description: string) => ({ description, content: errorContent });
  return {
    openapi: '3.1.0',
    info: {
      title: 'dagproc public API',
      version: '2',
      description:
        'DAGs, their versions, import errors and warnings, bundles, processor jobs, parse and callback requests, ' +
        'Variables, Connections and bundle access policies. Modelled on Airflow\'s public API, in camelCase JSON. Every route but this ' +
        `document needs a bearer token with audience ${AUDIENCE.api}.`,
    },
    servers: [{ url: API_BASE_PATH }],
    security: [{ bearer: [] }],
    tags: [...new Set([...operations.map((o) => o.tag), 'Meta'])].map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses: {
        BadRequest: errorRef('Bad input: "<field>: <what is wrong>".'),
        Unauthorized: errorRef('No token, or a token that does not verify for this API; the detail says why.'),
        PayloadTooLarge: errorRef('The body is larger than DAGPROC_MAX_BODY_BYTES.'),
        ServiceUnavailable: errorRef('The metadata database (or the token issuer) cannot be reached now; retry.'),
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: `A JWT with audience ${AUDIENCE.api}.` },
      },
    },
  };
}

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema, { metadata: apiSchemaMeta, io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
}

/**
 * Moves a generated schema's `$defs` into `components.schemas`, pointing its refs there. A
 * name that would mean two different schemas, or an unnamed recursive schema (zod calls those
 * `__schemaN`, numbered per call), is a mistake in the schemas and stops the build.
 */
function hoist(generated: JsonSchema, components: Record<string, JsonSchema>): JsonSchema {
  const { $defs, $schema: _dialect, ...root } = rewriteRefs(generated) as JsonSchema & { $defs?: Record<string, JsonSchema> };
  for (const [name, def] of Object.entries($defs ?? {})) {
    if (name.startsWith('__schema')) {
      throw new Error(`an unnamed recursive schema reached the OpenAPI document; name it in apiSchemaMeta: ${JSON.stringify(def).slice(0, 200)}`);
    }
    const existing = components[name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(def)) {
      throw new Error(`two different schemas are both named '${name}' in the OpenAPI document`);
    }
    components[name] = def;
  }
  return root;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, key === '$ref' && typeof v === 'string' ? componentRef(v) : rewriteRefs(v)]),
  );
}

function componentRef(ref: string): string {
  // zod writes `#` for a schema that contains itself at its root: inside this document that
  // would point at the document, so such a schema needs a name.
  if (!ref.startsWith('#/$defs/')) throw new Error(`an unnamed recursive schema reached the OpenAPI document (ref '${ref}'); name it in apiSchemaMeta`);
  return `#/components/schemas/${ref.slice('#/$defs/'.length)}`;
}

function parametersOf(
  object: z.ZodObject | undefined,
  where: 'path' | 'query',
  toSchema: (schema: z.ZodType, io: 'input' | 'output') => JsonSchema,
) {
  if (!object) return [];
  return Object.entries(object.shape).map(([name, field]) => {
    const { description, ...schema } = toSchema(field as z.ZodType, 'input');
    const required = where === 'path' || !(field as z.ZodType).safeParse(undefined).success;
    return {
      name,
      in: where,
      required,
      ...(typeof description === 'string' ? { description } : {}),
      schema,
      ...(schema.type === 'array' ? { style: 'form', explode: true } : {}),
    };
  });
}

/** A route's `:params` and its params schema must name the same things. */
function checkPathParams(op: ApiOperation): void {
  const inPath = [...op.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!).sort();
  const inSchema = Object.keys(op.params?.shape ?? {}).sort();
  if (inPath.join(',') !== inSchema.join(',')) {
    throw new Error(`${op.operationId}: path ${op.path} has parameters [${inPath}] but its schema has [${inSchema}]`);
  }
}
