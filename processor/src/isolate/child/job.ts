import { formatWithOptions, inspect } from 'node:util';
import type { Channel } from './channel.ts';
import { createJobContext, type Bridge } from './context.ts';
import { AUTHORED_STACK, ModuleLoader, type SdkSource } from './modules.ts';
import { JobScope } from './scope.ts';
import { readExecutionApi } from './api.ts';
import type { ChildMessage, JobMessage } from '../protocol.ts';

type Outcome = Extract<ChildMessage, { t: 'done' }>['outcome'];

/** What one job's code reached, reported with its result (see the `done` message). */
export interface JobUsage {
  variableOrConnectionReads: number;
  builtins: Set<string>;
}

interface SdkInternal {
  collectDags(namespace: object): unknown[];
  findDagCallback(namespace: object, dagId: string, type: 'failure' | 'success'): unknown;
}

/** Runs one file (to collect its DAGs, or to run one of its DAGs' callbacks) in a fresh context. */
export async function runJob(message: JobMessage, channel: Channel, sdkSource: SdkSource, scope: JobScope): Promise<void> {
  const resourcesBefore = activeResources();
  const usage: JobUsage = { variableOrConnectionReads: 0, builtins: new Set() };
  let outcome: Outcome;
  try {
    outcome = await Promise.race([execute(message, scope, sdkSource, usage), scope.aborted]);
  } catch (error) {
    outcome = { ok: false, stack: describeError(error), authored: isAuthored(error) };
  }
  scope.finish();
  const leftovers = leftoverWork(resourcesBefore, activeResources());
  channel.send({
    t: 'done',
    job: message.job,
    outcome,
    rss: process.memoryUsage.rss(),
    usage: { variableOrConnectionReads: usage.variableOrConnectionReads, builtins: [...usage.builtins].slice(0, 1000) },
    leftovers,
  });
}

async function execute(message: JobMessage, scope: JobScope, sdkSource: SdkSource, usage: JobUsage): Promise<Outcome> {
  const { context, parseJson } = createJobContext(bridgeFor(scope, usage), message.relativeFileloc);
  const loader = new ModuleLoader(context, scope, sdkSource, (name) => usage.builtins.add(name));
  const root = loader.root();
  await root.link(loader.linker);
  await root.evaluate();
  await settled(scope);
  const internal = (await loader.sdkModule()).namespace as { __dagprocInternal?: SdkInternal };
  const sdk = internal.__dagprocInternal;
  if (!sdk) throw new Error('the SDK bundle exports no __dagprocInternal');
  const dags = sdk.collectDags(root.namespace);
  if (message.kind === 'parse') {
    // Through JSON: plain data of the host realm, nothing that could run code when sent.
    return { ok: true, dags: JSON.parse(JSON.stringify(dags)) as unknown[] };
  }
  const { dagId, callbackType, context: callbackContext } = message.callback!;
  const hookName = callbackType === 'failure' ? 'onFailure' : 'onSuccess';
  if (!dags.some((dag) => (dag as { dagId?: unknown }).dagId === dagId)) {
    throw new Error(`DAG '${dagId}' is not defined in ${message.relativeFileloc}`);
  }
  const callback = sdk.findDagCallback(root.namespace, dagId, callbackType);
  if (typeof callback !== 'function') throw new Error(`DAG '${dagId}' has no ${hookName} callback`);
  await callback(parseJson(JSON.stringify(callbackContext)));
  await settled(scope);
  return { ok: true, dags: null };
}

/**
 * Lets the turn end so a rejection the file left unhandled is reported now, as Node would
 * crash on it, rather than after the result is sent.
 */
async function settled(scope: JobScope): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (scope.failure) throw scope.failure.error;
}

function bridgeFor(scope: JobScope, usage: JobUsage): Bridge {
  let token: Promise<string> | null = null;
  const { apiUrl } = scope.message;
  return {
    log: (level, args) => {
      let text: string;
      try {
        text = formatWithOptions({ colors: false, depth: 4 }, ...args);
      } catch (error) {
        text = `[console output could not be formatted: ${(error as Error).message}]`;
      }
      scope.log(level, text);
    },
    setTimer: (repeat, callback, delay) => scope.setTimer(repeat, callback, delay),
    setImmediate: (callback) => scope.setImmediate(callback),
    clearTimer: (id) => scope.clearTimer(id),
    read: (kind, key, resolve, reject) => {
      usage.variableOrConnectionReads++;
      token ??= scope.request({ t: 'token' }).then((reply) => {
        if (reply.t !== 'token') throw new Error('the processor answered a token request with something else');
        if (!reply.ok) throw new Error(`no token for this file: ${reply.error}`);
        return reply.token;
      });
      token
        .then((bearer) => readExecutionApi(apiUrl, bearer, kind, key))
        .then(
          (json) => {
            if (!scope.isFinished) resolve(json);
          },
          (error: Error) => {
            if (!scope.isFinished) reject(error.message);
          },
        );
    },
  };
}

/** A stack trace with the error's causes, whatever was thrown (user code may throw anything). */
export function describeError(error: unknown, depth = 0): string {
  try {
    if (typeof error === 'object' && error !== null) {
      const { stack, name, message, cause } = error as { stack?: unknown; name?: unknown; message?: unknown; cause?: unknown };
      let text = typeof stack === 'string' && stack.length > 0 ? stack : `${String(name ?? 'Error')}: ${String(message ?? '')}`;
      text = explainRefusal(error as Record<string, unknown>, text);
      if (cause !== undefined && depth < 5) text += `\nCaused by: ${describeError(cause, depth + 1)}`;
      return text;
    }
    return `Uncaught ${inspect(error, { depth: 2 })}`;
  } catch {
    return 'Uncaught exception that could not be described';
  }
}

/** Node's permission errors say only "restricted": say what was refused, and why. */
function explainRefusal(error: Record<string, unknown>, text: string): string {
  if (error.code !== 'ERR_ACCESS_DENIED' || typeof error.permission !== 'string') return text;
  const resource = typeof error.resource === 'string' ? ` ${error.resource}` : '';
  const newline = text.indexOf('\n');
  const header = newline < 0 ? text : text.slice(0, newline);
  const explained = `${header} (${error.permission}${resource}): a DAG file may read only its own bundle, and may not write files, start processes or workers`;
  return newline < 0 ? explained : explained + text.slice(newline);
}

function isAuthored(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[AUTHORED_STACK] === true;
}

/** Writes on the pipe to the processor, and handles being closed: they finish on their own. */
const TRANSIENT_RESOURCES = new Set(['CloseReq', 'WriteWrap', 'ShutdownWrap']);

function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (!TRANSIENT_RESOURCES.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

/**
 * Timers, sockets or servers the file started through builtins and left running: they could
 * run its code during the next file, so the process takes no further file.
 */
function leftoverWork(before: Map<string, number>, after: Map<string, number>): string | null {
  const extra: string[] = [];
  for (const [type, count] of after) {
    const added = count - (before.get(type) ?? 0);
    if (added > 0) extra.push(`${added} ${type}`);
  }
  return extra.length > 0 ? `the file left pending work behind (${extra.join(', ')})` : null;
}
