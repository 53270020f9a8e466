import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { silentLogger, type Logger } from '@dagproc/shared/log';
import { jsonValue, serializedDag, type SerializedDag } from '@dagproc/shared/dag/model';
import { bundleName, dagId, relativeFileloc } from '@dagproc/shared/names';
import { childNodeArgs, unsafeGrantPath } from './flags.ts';
import { JobHost } from './jobHost.ts';
import { ParseProcess, type Death, type JobEnd, type JobUsage } from './parseProcess.ts';
import { buildRuntime, DEFAULT_SDK_ENTRY, type RuntimeFiles } from './runtime.ts';
import { ModuleSources, type CompiledModule } from './sources.ts';
import { checkBundleReadable } from './symlinks.ts';
import type { JobMessage, ModulePayload } from './protocol.ts';
import type {
  CallbackOutcome,
  CallbackTask,
  IsolatePoolOptions,
  ParseDependencies,
  ParseOutcome,
  ParseTask,
} from './types.ts';

export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
  constructor() {
    super('the isolate pool is closed');
  }
}

const optionsSchema = z.object({
  mode: z.enum(['pooled', 'strict']),
  size: z.number().int().min(1).max(256),
  timeoutMs: z.number().int().positive(),
  maxFilesPerProcess: z.number().int().positive(),
  memoryLimitMb: z.number().int().min(16),
  apiUrl: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
  sdkEntry: z.string().refine(path.isAbsolute, 'must be an absolute path').optional(),
  idleRetireMs: z.number().int().positive().optional(),
});

const parseTaskSchema = z.object({
  bundleName,
  bundleRoot: z
    .string()
    .refine(path.isAbsolute, 'must be an absolute path')
    .superRefine((root, ctx) => {
      const unsafe = unsafeGrantPath(root);
      if (unsafe) ctx.addIssue({ code: 'custom', message: unsafe });
    }),
  relativeFileloc,
  fileToken: z.custom<() => Promise<string>>((value) => typeof value === 'function', 'must be a function'),
});

const callbackTaskSchema = parseTaskSchema.extend({
  dagId,
  callbackType: z.enum(['failure', 'success']),
  context: z.object({
    dagId: z.string(),
    runId: z.string().nullable(),
    callbackType: z.enum(['failure', 'success']),
    msg: z.string().nullable(),
    context: z.record(z.string(), jsonValue),
  }),
});

const serializedDags = z.array(serializedDag);
/** How many queued files per process are transformed ahead of their turn. */
const PREFETCH_PER_PROCESS = 4;
const REAL_ROOT_RECHECK_MS = 5000;

interface Pending {
  id: number;
  kind: 'parse' | 'callback';
  task: ParseTask | CallbackTask;
  bundleKey: string;
  /** The job's file, loading ahead of its turn. */
  root?: Promise<CompiledModule>;
  resolve: (end: Finished) => void;
  reject: (error: Error) => void;
}

interface Finished {
  end: JobEnd;
  host: JobHost;
  durationMs: number;
}

/** A pooled parse process idle this long is ended (started again when work comes). */
export const IDLE_RETIRE_MS = 15_000;

/**
 * Runs DAG files and DAG callbacks in parse processes: at most `size` at once, the rest waiting
 * in FIFO order. A process serves one bundle (it may read only that one); in pooled mode it
 * takes file after file, each in a fresh vm context, until it is recycled; in strict mode each
 * job gets a new process. Whatever a file does, its job resolves; the processor goes on.
 */
export class IsolatePool {
  private readonly options: Required<Omit<IsolatePoolOptions, 'logger'>>;
  private readonly logger: Logger;
  private readonly sources = new ModuleSources();
  private readonly queue: Pending[] = [];
  private readonly processes = new Set<ParseProcess>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly warnedBundles = new Set<string>();
  /** Bundle roots lately seen to be real paths, and when. */
  private readonly realRoots = new Map<string, number>();
  private runtime: RuntimeFiles | null = null;
  private spawning = 0;
  private running = 0;
  private nextJobId = 1;
  private closed = false;
  private signalGuard: (() => void) | null = null;

  constructor(options: IsolatePoolOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TypeError(`IsolatePoolOptions.${issue.path.join('.')}: ${issue.message}`);
    }
    this.options = { ...parsed.data, sdkEntry: parsed.data.sdkEntry ?? DEFAULT_SDK_ENTRY, idleRetireMs: parsed.data.idleRetireMs ?? IDLE_RETIRE_MS };
    this.logger = (options.logger ?? silentLogger).child({ part: 'isolate' });
  }

  async start(): Promise<void> {
    if (this.runtime) return;
    if (this.closed) throw new PoolClosedError();
    this.runtime = await buildRuntime(this.options.sdkEntry);
    // SIGUSR1 opens a Node process's inspector. DAG files cannot send signals (their processes
    // lose process.kill), but should one find a way, this keeps the processor's inspector shut.
    this.signalGuard = () => this.logger.warn('ignored SIGUSR1: the processor keeps its inspector closed');
    process.on('SIGUSR1', this.signalGuard);
    this.logger.debug('isolate pool started', { mode: this.options.mode, size: this.options.size, runtimeDir: this.runtime.dir });
  }

  async parse(task: ParseTask): Promise<ParseOutcome> {
    const valid = await this.validate(parseTaskSchema, task, 'parse task');
    const { end, host, durationMs } = await this.enqueue('parse', valid);
    if (end.kind === 'died') return { dags: [], importError: { stacktrace: this.deathStack(end.death, 'parse', task, host) }, durationMs };
    if (!end.outcome.ok) {
      return { dags: [], importError: { stacktrace: host.stacktrace(end.outcome.stack, end.outcome.authored) }, durationMs };
    }
    const dags = serializedDags.safeParse(end.outcome.dags ?? []);
    if (!dags.success) {
      const issue = dags.error.issues[0]!;
      const stacktrace = `Error: the file's DAGs do not fit the serialized DAG model (${issue.path.join('.')}: ${issue.message})\n    at ${task.relativeFileloc}`;
      return { dags: [], importError: { stacktrace }, durationMs };
    }
    return { dags: dags.data as SerializedDag[], importError: null, durationMs, dependencies: dependenciesOf(host, end.usage) };
  }

  async runCallback(task: CallbackTask): Promise<CallbackOutcome> {
    const valid = await this.validate(callbackTaskSchema, task, 'callback task');
    const { end, host, durationMs } = await this.enqueue('callback', valid);
    if (end.kind === 'died') return { ok: false, error: this.deathStack(end.death, 'callback', task, host), durationMs };
    if (!end.outcome.ok) return { ok: false, error: host.stacktrace(end.outcome.stack, end.outcome.authored), durationMs };
    return { ok: true, durationMs };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new PoolClosedError());
    for (const proc of this.processes) proc.kill({ cause: 'retired' });
    await Promise.allSettled([...this.inflight]);
    await Promise.all([...this.processes].map((proc) => proc.gone));
    await this.runtime?.remove();
    if (this.signalGuard) process.off('SIGUSR1', this.signalGuard);
    this.signalGuard = null;
  }

  private async validate<T extends ParseTask>(schema: z.ZodType, task: T, what: string): Promise<T> {
    if (this.closed) throw new PoolClosedError();
    if (!this.runtime) throw new Error('IsolatePool.start() must finish before jobs are submitted');
    const parsed = schema.safeParse(task);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TypeError(`invalid ${what}: ${issue.path.join('.')}: ${issue.message}`);
    }
    const checkedAt = this.realRoots.get(task.bundleRoot);
    if (checkedAt === undefined || performance.now() - checkedAt > REAL_ROOT_RECHECK_MS) {
      const real = await realpath(task.bundleRoot).catch(() => null);
      if (real !== task.bundleRoot) {
        throw new TypeError(`invalid ${what}: bundleRoot ${task.bundleRoot} ${real ? `is not a real path (it is ${real})` : 'does not exist'}`);
      }
      this.realRoots.set(task.bundleRoot, performance.now());
    }
    return task;
  }

  private enqueue(kind: Pending['kind'], task: ParseTask | CallbackTask): Promise<Finished> {
    return new Promise<Finished>((resolve, reject) => {
      // The pool may have closed while the task was being validated.
      if (this.closed) return reject(new PoolClosedError());
      const bundleKey = `${task.bundleName}\u0000${task.bundleRoot}`;
      this.queue.push({ id: this.nextJobId++, kind, task, bundleKey, resolve, reject });
      this.pump();
    });
  }

  /** Hands queued jobs to processes, in order, while fewer than `size` run. */
  private pump(): void {
    while (!this.closed && this.queue.length > 0 && this.running < this.options.size) {
      const next = this.queue[0]!;
      const idle = this.options.mode === 'pooled'
        ? [...this.processes].find((proc) => proc.available && !proc.dirty && proc.bundleKey === next.bundleKey)
        : undefined;
      if (!idle && this.processes.size + this.spawning >= this.options.size) {
        // Full: an idle process of another bundle makes room (it may not read this bundle).
        const victim = [...this.processes].find((proc) => proc.available);
        victim?.kill({ cause: 'retired' });
        return;
      }
      this.queue.shift();
      this.running++;
      if (idle) idle.assigned = true;
      const run = this.execute(next, idle ?? null).finally(() => {
        this.inflight.delete(run);
        this.running--;
        this.pump();
      });
      this.inflight.add(run);
    }
    this.prefetch();
  }

  /**
   * Transforms the files next in line while the processes are busy, so a job's file is usually
   * in the cache when its turn comes (esbuild runs in its own process, beside the children).
   */
  private prefetch(): void {
    for (const pending of this.queue.slice(0, this.options.size * PREFETCH_PER_PROCESS)) {
      if (pending.root) continue;
      pending.root = this.sources.loadRoot(pending.task.bundleRoot, pending.task.relativeFileloc);
      // Its outcome, an error included, is read when the job runs.
      pending.root.catch(() => {});
    }
  }

  private async execute(pending: Pending, reused: ParseProcess | null): Promise<void> {
    const started = performance.now();
    const host = new JobHost(pending.id, pending.task, this.sources, this.runtime!.sdkMap, [this.runtime!.dir]);
    try {
      const [proc, root] = await Promise.all([
        reused ?? this.spawn(pending.task, pending.bundleKey),
        host.loadRoot(pending.root),
      ]);
      await proc.ready;
      const end = await proc.run(host, this.jobMessage(pending, root), this.options.timeoutMs);
      if (end.kind === 'died' && end.death.cause === 'retired') throw new PoolClosedError();
      const durationMs = Math.round(performance.now() - started);
      this.logger.debug('job finished', {
        kind: pending.kind,
        relativeFileloc: pending.task.relativeFileloc,
        durationMs,
        ...(end.kind === 'done' ? { ok: end.outcome.ok, rssMb: Math.round(end.rss / 1048576) } : { died: end.death.cause }),
      });
      this.afterJob(proc, end);
      pending.resolve({ end, host, durationMs });
    } catch (error) {
      pending.reject(error as Error);
    }
  }

  private async spawn(task: ParseTask, bundleKey: string): Promise<ParseProcess> {
    this.spawning++;
    try {
      const verdict = await checkBundleReadable(task.bundleRoot);
      if (!verdict.readable && !this.warnedBundles.has(`${bundleKey}\u0000${verdict.reason}`)) {
        this.warnedBundles.add(`${bundleKey}\u0000${verdict.reason}`);
        this.logger.warn('DAG files of this bundle may not read its files', { bundleName: task.bundleName, reason: verdict.reason });
      }
      if (this.closed) throw new PoolClosedError();
      const runtime = this.runtime!;
      const proc = new ParseProcess({
        command: process.execPath,
        args: [
          ...childNodeArgs({
            runtimeDir: runtime.dir,
            bundleRoot: verdict.readable ? task.bundleRoot : null,
            memoryLimitMb: this.options.memoryLimitMb,
          }),
          runtime.childPath,
          runtime.sdkPath,
        ],
        cwd: runtime.dir,
        bundleKey,
        hardRssLimitMb: this.options.memoryLimitMb * 2 + 256,
        logger: this.logger.child({ bundleName: task.bundleName }),
        onChange: () => this.onProcessChange(proc),
        idleRetireMs: this.options.mode === 'pooled' ? this.options.idleRetireMs : null,
      });
      proc.assigned = true;
      this.processes.add(proc);
      this.logger.debug('parse process started', { pid: proc.pid, bundleName: task.bundleName, mode: this.options.mode });
      return proc;
    } finally {
      this.spawning--;
    }
  }

  private afterJob(proc: ParseProcess, end: JobEnd): void {
    if (end.kind === 'died') return;
    const { maxFilesPerProcess, memoryLimitMb, mode } = this.options;
    const reason =
      mode === 'strict' ? 'strict mode'
      : proc.jobsRun >= maxFilesPerProcess ? `ran ${proc.jobsRun} files`
      : end.rss > memoryLimitMb * 1024 * 1024 ? `RSS ${Math.round(end.rss / 1048576)} MB past ${memoryLimitMb} MB`
      : end.leftovers ?? proc.dirty;
    if (reason) {
      this.logger.debug('parse process recycled', { pid: proc.pid, reason });
      proc.kill({ cause: 'retired' });
    } else {
      proc.release();
    }
  }

  private onProcessChange(proc: ParseProcess): void {
    if (proc.state === 'gone') this.processes.delete(proc);
    else if (proc.available && proc.dirty) {
      this.logger.debug('parse process recycled', { pid: proc.pid, reason: proc.dirty });
      proc.kill({ cause: 'retired' });
    }
    this.pump();
  }

  private jobMessage(pending: Pending, root: ModulePayload): JobMessage {
    const task = pending.task;
    return {
      t: 'job',
      job: pending.id,
      kind: pending.kind,
      bundleRoot: task.bundleRoot,
      relativeFileloc: task.relativeFileloc,
      apiUrl: this.options.apiUrl,
      callback: pending.kind === 'callback'
        ? { dagId: (task as CallbackTask).dagId, callbackType: (task as CallbackTask).callbackType, context: (task as CallbackTask).context }
        : null,
      root,
    };
  }

  private deathStack(death: Death, kind: 'parse' | 'callback', task: ParseTask | CallbackTask, host: JobHost): string {
    const limit = seconds(this.options.timeoutMs);
    const subject = kind === 'parse'
      ? 'file'
      : `the ${(task as CallbackTask).callbackType === 'failure' ? 'onFailure' : 'onSuccess'} callback of DAG '${(task as CallbackTask).dagId}'`;
    const running = kind === 'parse' ? 'parsing the file' : `running ${subject}`;
    let message: string;
    switch (death.cause) {
      case 'timeout':
        message = kind === 'parse'
          ? `ParseTimeout: file took longer than ${limit} to parse; its process was killed`
          : `CallbackTimeout: ${subject} took longer than ${limit}; its process was killed`;
        break;
      case 'memory':
        message = `MemoryLimitExceeded: the process ${running} reached ${Math.round(death.rssMb)} MB of memory (limit ${this.options.memoryLimitMb} MB, plus headroom); it was killed`;
        break;
      case 'protocol':
        message = `IsolateProtocolError: the process ${running} broke the processor's protocol (${death.detail}); it was killed`;
        break;
      case 'retired':
        message = 'the isolate pool closed';
        break;
      case 'exit': {
        const stderr = death.stderr.trim();
        if (death.outOfMemory) {
          message = `MemoryLimitExceeded: ${subject} ran out of memory (heap limit ${this.options.memoryLimitMb} MB); its process was killed`;
        } else {
          message = death.code !== null
            ? `ProcessExited: the process ${running} exited with code ${death.code} before it finished (process.exit called?)`
            : `ProcessCrashed: the process ${running} was killed by ${death.signal ?? 'an unknown signal'}`;
          if (stderr) message += `\nIts last output on stderr:\n${stderr.slice(-2000).replace(/^/gm, '  | ')}`;
        }
        break;
      }
    }
    return host.stacktrace(message, true);
  }
}

/**
 * Builtins whose exports compute from their arguments alone: a file importing only these
 * reads nothing outside its modules. Everything else (fs, net, http, os, process, worker
 * threads, ...) can observe state that changes while no module does.
 */
const PURE_BUILTINS = new Set([
  'node:assert', 'node:assert/strict', 'node:buffer', 'node:crypto', 'node:events', 'node:path', 'node:path/posix',
  'node:path/win32', 'node:querystring', 'node:string_decoder', 'node:url', 'node:util', 'node:util/types',
]);

/**
 * What a successful parse read. The parent's own record (modules it served, the token it
 * handed out) is what counts; the child's report only adds what the parent cannot see (the
 * builtins) and can make the file look less static, never more.
 */
function dependenciesOf(host: JobHost, usage: JobUsage): ParseDependencies {
  return {
    modules: host.loadedModules(),
    readVariablesOrConnections: host.tokenRequested || usage.variableOrConnectionReads > 0,
    externalBuiltins: usage.builtins.filter((name) => !PURE_BUILTINS.has(name)).sort(),
    failedImports: host.failedImports,
  };
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
