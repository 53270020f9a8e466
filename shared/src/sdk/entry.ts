/**
 * The module the parse isolate bundles and evaluates once per DAG file's `vm` context: the
 * public SDK, which the file's `@dagproc/sdk` import links to, plus the hooks the isolate
 * itself calls on that same copy.
 */
import { isDag } from './brand.ts';
import { collectDags, findDagCallback } from './internal.ts';
import { serializeDag } from '../dag/serialize.ts';

export * from './index.ts';

export const __dagprocInternal = Object.freeze({ collectDags, findDagCallback, isDag, serializeDag });
