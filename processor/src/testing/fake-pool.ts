import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { serializedDagOf } from '@dagproc/shared/testing';
import { hashFile } from '../bundles/hash.ts';
import type { CallbackOutcome, CallbackTask, LoadedModule, ParseOutcome, ParsePool, ParseTask } from '../parse-pool.ts';

/**
 * An in-process parse pool for manager tests about the API: every file defines one DAG named
 * after it. The real pool (processor/src/isolate) has its own tests and runs in the e2e suite.
 * Like the real pool, it reports what a parse read: the file itself, the bundle files listed
 * in `imports`, and a Variable read for files in `readsVariables`.
 */
export class FakePool implements ParsePool {
  readonly parsed: string[] = [];
  readonly callbacksRun: CallbackTask[] = [];
  /** Files whose parse asks for a per-file token, as one reading a Variable would. */
  readonly readsVariables = new Set<string>();
  /** Bundle-relative modules each file's parse loads besides the file. */
  readonly imports = new Map<string, string[]>();
  /** Files whose DAG differs on every parse (a tag with the parse count, as a timestamp would). */
  readonly varying = new Set<string>();
  closed = false;

  async parse(task: ParseTask): Promise<ParseOutcome> {
    this.parsed.push(task.relativeFileloc);
    const readsVariables = this.readsVariables.has(task.relativeFileloc);
    if (readsVariables) {
      try {
        await task.fileToken();
      } catch (error) {
        return { dags: [], importError: { stacktrace: `Error: ${(error as Error).message}` }, durationMs: 1 };
      }
    }
    const files = [task.relativeFileloc, ...(this.imports.get(task.relativeFileloc) ?? [])];
    const modules = await Promise.all(files.map((f) => loadedModule(join(task.bundleRoot, f))));
    const dag = serializedDagOf(dagIdOf(task.relativeFileloc));
    if (this.varying.has(task.relativeFileloc)) dag.tags = [`parse-${this.parsed.length}`];
    return {
      dags: [dag],
      importError: null,
      durationMs: 1,
      dependencies: { modules, readVariablesOrConnections: readsVariables, externalBuiltins: [], failedImports: 0 },
    };
  }

  async runCallback(task: CallbackTask): Promise<CallbackOutcome> {
    this.callbacksRun.push(task);
    return { ok: true, durationMs: 1 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** How many times `relativeFileloc` was parsed. */
  count(relativeFileloc: string): number {
    return this.parsed.filter((f) => f === relativeFileloc).length;
  }
}

/** A module as the real pool reports it, read now. */
export async function loadedModule(path: string): Promise<LoadedModule> {
  const readAt = Date.now();
  const info = await stat(path);
  const { contentHash } = await hashFile(path);
  return { path, missing: [], dev: info.dev, ino: info.ino, mtimeMs: info.mtimeMs, size: info.size, contentHash, readAt };
}

export function dagIdOf(relativeFileloc: string): string {
  return relativeFileloc.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9_]/g, '_');
}
