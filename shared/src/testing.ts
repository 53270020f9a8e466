import { randomUUID } from 'node:crypto';
import { SERIALIZATION_FORMAT, type SerializedDag } from './dag/model.ts';
import { sha256Hex } from './dag/canonical.ts';
import type { PersistFileInput } from './schemas/parsing.ts';

/** Test factories built on the wire schemas, so tests never hand-write a payload's shape. */

export function serializedDagOf(dagId: string, overrides: Partial<SerializedDag> = {}): SerializedDag {
  return {
    format: SERIALIZATION_FORMAT,
    dagId,
    description: null,
    schedule: '@daily',
    startDate: '2026-01-01',
    endDate: null,
    catchup: false,
    tags: [],
    params: {},
    defaultArgs: {},
    maxActiveRuns: null,
    doc: null,
    tasks: [
      { taskId: 'extract', upstream: [], retries: 0, retryDelaySeconds: null, owner: null, doc: null, params: {} },
      { taskId: 'load', upstream: ['extract'], retries: 0, retryDelaySeconds: null, owner: null, doc: null, params: {} },
    ],
    hasOnFailureCallback: false,
    hasOnSuccessCallback: false,
    ...overrides,
  };
}

export function persistInputOf(
  relativeFileloc: string,
  dags: SerializedDag[],
  overrides: Partial<PersistFileInput> = {},
): PersistFileInput {
  const sourceCode = overrides.sourceCode ?? `// ${relativeFileloc}\nexport default ${JSON.stringify(dags.map((d) => d.dagId))};\n`;
  const started = new Date();
  return {
    bundleName: 'dags-folder',
    bundleVersion: null,
    relativeFileloc,
    parseId: randomUUID(),
    parseStartedAt: started.toISOString(),
    parseFinishedAt: new Date(started.getTime() + 5).toISOString(),
    contentHash: sha256Hex(sourceCode),
    sourceCode,
    dags,
    importError: null,
    warnings: [],
    priorityRequestIds: [],
    staleDagThreshold: 50,
    ...overrides,
  };
}
