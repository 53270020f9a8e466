/** Names both sides of the pipe agree on; no imports, so the child bundle stays small. */

export const SDK_SPECIFIER = '@dagproc/sdk';
/** How stack frames name the SDK bundle before the processor maps them to its sources. */
export const SDK_IDENTIFIER = 'dagproc:sdk';
/** How stack frames name the context's console, timers and runtime glue (dropped from traces). */
export const RUNTIME_IDENTIFIER = 'dagproc:runtime';

/**
 * The SDK bundle (CommonJS output) is wrapped in a function returning its exports; the wrapper
 * adds this many lines before the bundle's first, which stack positions must not count.
 */
export const SDK_WRAPPER_LINES = 2;

export function wrapSdkBundle(commonJs: string): string {
  return `(function () {\n'use strict'; var module = { exports: {} }, exports = module.exports;\n${commonJs}\nreturn module.exports;\n})`;
}
