import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from '@dagproc/shared/log';
import { FrameDecoder, FrameError, encodeFrame } from './frames.ts';
import { childMessage, type ChildMessage, type JobMessage, type ParentMessage } from './protocol.ts';
import type { JobHost } from './jobHost.ts';

/** Results, logs and requests from a child: generous for a file of thousands of DAGs, bounded all the same. */
const MAX_CHILD_FRAME_BYTES = 64 * 1024 * 1024;
const STARTUP_TIMEOUT_MS = 15_000;
const STDERR_TAIL_CHARS = 8 * 1024;
const RSS_POLL_MS = 250;

export type DoneOutcome = Extract<ChildMessage, { t: 'done' }>['outcome'];
export type JobUsage = Extract<ChildMessage, { t: 'done' }>['usage'];

/** Why a process went away while it ran a job. */
export type Death =
  | { cause: 'timeout' }
  | { cause: 'memory'; rssMb: number }
  | { cause: 'protocol'; detail: string }
  /** The pool ended it: recycling an idle process, or closing. */
  | { cause: 'retired' }
  | { cause: 'exit'; code: number | null; signal: NodeJS.Signals | null; stderr: string; outOfMemory: boolean };

export type JobEnd =
  | { kind: 'done'; outcome: DoneOutcome; rss: number; usage: JobUsage; leftovers: string | null }
  | { kind: 'died'; death: Death };

export class ProcessStartError extends Error {
  override readonly name = 'ProcessStartError';
}

export interface ParseProcessOptions {
  command: string;
  args: string[];
  cwd: string;
  bundleKey: string;
  /** Mid-job RSS past which the process is killed: memory the V8 heap limit does not count (Buffers). */
  hardRssLimitMb: number;
  logger: Logger;
  /** Called whenever the process becomes idle, dirty or gone, so the pool can hand out work. */
  onChange: () => void;
  /** Ended after this long (ms) idle; null keeps it. */
  idleRetireMs: number | null;
}

interface RunningJob {
  host: JobHost;
  finish: (end: JobEnd) => void;
}

/** One parse process: spawned empty-handed, fed one job at a time over its fd-3 pipe. */
export class ParseProcess {
  readonly bundleKey: string;
  /** `held`: its job is done, and the pool has yet to decide whether it takes another. */
  state: 'starting' | 'idle' | 'busy' | 'held' | 'gone' = 'starting';
  jobsRun = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  /** True from the moment the pool picks this process for a job until it releases it. */
  assigned = false;
  /** Set when the process should take no further job (something a finished file left fired). */
  dirty: string | null = null;
  readonly ready: Promise<void>;
  readonly gone: Promise<void>;

  private readonly child: ChildProcess;
  private readonly pipe: Duplex;
  private readonly decoder = new FrameDecoder(MAX_CHILD_FRAME_BYTES);
  private readonly logger: Logger;
  private job: RunningJob | null = null;
  private readonly spawnedAt = performance.now();
  private killedFor: Death | null = null;
  private stderrTail = '';
  private settleReady: (error?: Error) => void = () => {};
  private markGone: () => void = () => {};

  constructor(private readonly options: ParseProcessOptions) {
    this.bundleKey = options.bundleKey;
    this.logger = options.logger;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => (error ? reject(error) : resolve());
    });
    this.ready.catch(() => {});
    this.gone = new Promise<void>((resolve) => {
      this.markGone = resolve;
    });

    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      // Nothing of the processor's environment: no token path, no NODE_OPTIONS, no secrets.
      env: {},
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    this.pipe = this.child.stdio[3] as Duplex;
    this.pipe.on('data', (chunk: Buffer) => this.onData(chunk));
    this.pipe.on('error', () => {});
    this.forwardOutput(this.child.stdout!, 'stdout');
    this.forwardOutput(this.child.stderr!, 'stderr');
    this.child.on('error', (error) => this.onGone(null, null, error));
    // 'close', not 'exit': stderr is complete by then, and it tells an out-of-memory death.
    this.child.on('close', (code, signal) => this.onGone(code, signal));

    const startup = setTimeout(() => this.kill({ cause: 'protocol', detail: `not ready within ${STARTUP_TIMEOUT_MS} ms` }), STARTUP_TIMEOUT_MS);
    void this.ready.then(
      () => clearTimeout(startup),
      () => clearTimeout(startup),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(host: JobHost, message: JobMessage, timeoutMs: number): Promise<JobEnd> {
    if (this.state !== 'idle') return Promise.reject(new ProcessStartError('the parse process ended before its job began'));
    this.stopIdleClock();
    this.state = 'busy';
    this.stderrTail = '';
    return new Promise<JobEnd>((resolve) => {
      const timer = setTimeout(() => this.kill({ cause: 'timeout' }), timeoutMs);
      const watchdog = setInterval(() => void this.checkRss(), RSS_POLL_MS);
      this.job = {
        host,
        finish: (end) => {
          clearTimeout(timer);
          clearInterval(watchdog);
          this.job = null;
          resolve(end);
        },
      };
      this.send(message);
    });
  }

  /** Makes a process whose job is done available for the next one. */
  release(): void {
    if (this.state !== 'held') return;
    this.state = 'idle';
    this.assigned = false;
    this.startIdleClock();
    this.options.onChange();
  }

  /**
   * A process with nothing to do is ended after a while: once incremental parsing skips the
   * unchanged files, parse processes sit idle for minutes, holding their memory (150 MB or so
   * each) and spending CPU on garbage collection of the contexts they ran.
   */
  private startIdleClock(): void {
    const ms = this.options.idleRetireMs;
    if (ms === null) return;
    this.stopIdleClock();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (!this.available) return;
      this.logger.debug('parse process retired after being idle', { pid: this.child.pid, idleMs: ms });
      this.kill({ cause: 'retired' });
    }, ms);
    this.idleTimer.unref();
  }

  private stopIdleClock(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** Free for a job: started, not running one, not promised to one. */
  get available(): boolean {
    return this.state === 'idle' && !this.assigned;
  }

  /** Kills at once; the job it runs, if any, ends as `cause` says. */
  kill(cause: Death): void {
    if (this.state === 'gone') return;
    this.killedFor ??= cause;
    this.child.kill('SIGKILL');
  }

  private send(message: ParentMessage): void {
    if (this.state !== 'gone') this.pipe.write(encodeFrame(message));
  }

  private onData(chunk: Buffer): void {
    let messages: unknown[];
    try {
      messages = this.decoder.push(chunk);
    } catch (error) {
      this.kill({ cause: 'protocol', detail: error instanceof FrameError ? error.message : String(error) });
      return;
    }
    for (const raw of messages) {
      const parsed = childMessage.safeParse(raw);
      if (!parsed.success) {
        this.kill({ cause: 'protocol', detail: `sent a malformed message: ${parsed.error.issues[0]?.message ?? 'invalid'}` });
        return;
      }
      this.onMessage(parsed.data);
    }
  }

  private onMessage(message: ChildMessage): void {
    const job = this.job;
    switch (message.t) {
      case 'ready':
        if (this.state === 'starting') {
          this.state = 'idle';
          this.startIdleClock();
          this.logger.debug('parse process ready', { pid: this.child.pid, startupMs: Math.round(performance.now() - this.spawnedAt) });
          this.settleReady();
        }
        return;
      case 'dirty':
        this.dirty ??= message.reason;
        this.options.onChange();
        return;
    }
    // Anything else belongs to the running job; a message naming another job is ignored.
    if (!job || job.host.id !== message.job) return;
    switch (message.t) {
      case 'load': {
        const { req } = message;
        void job.host.load(message.specifier, message.referrer).then((payload) => {
          if (this.job === job) this.send({ t: 'module', job: message.job, req, ...payload });
        });
        return;
      }
      case 'token': {
        const { req } = message;
        void job.host.fileToken().then((payload) => {
          if (this.job === job) this.send({ t: 'token', job: message.job, req, ...payload });
        });
        return;
      }
      case 'log':
        this.logger.debug('dag file output', { relativeFileloc: job.host.task.relativeFileloc, stream: message.level, text: message.text });
        return;
      case 'done':
        this.jobsRun++;
        this.state = 'held';
        job.finish({ kind: 'done', outcome: message.outcome, rss: message.rss, usage: message.usage, leftovers: message.leftovers });
        return;
    }
  }

  private onGone(code: number | null, signal: NodeJS.Signals | null, error?: Error): void {
    if (this.state === 'gone') return;
    this.stopIdleClock();
    const wasStarting = this.state === 'starting';
    this.state = 'gone';
    const death: Death = this.killedFor ?? {
      cause: 'exit',
      code,
      signal,
      stderr: error ? `${this.stderrTail}\n${error.message}` : this.stderrTail,
      outOfMemory: /heap out of memory|Reached heap limit|Allocation failed/.test(this.stderrTail),
    };
    if (wasStarting) {
      const why = death.cause === 'exit' ? (error?.message ?? `exit code ${code}, signal ${signal}`) : death.cause;
      this.settleReady(new ProcessStartError(`a parse process failed to start (${why}): ${this.stderrTail.trim().slice(-500)}`));
    }
    this.job?.finish({ kind: 'died', death });
    this.pipe.destroy();
    this.markGone();
    this.options.onChange();
  }

  private async checkRss(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.state !== 'busy') return;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
    const kb = status ? /VmRSS:\s+(\d+) kB/.exec(status)?.[1] : undefined;
    if (kb === undefined) return;
    const rssMb = Number(kb) / 1024;
    if (rssMb > this.options.hardRssLimitMb) this.kill({ cause: 'memory', rssMb });
  }

  private forwardOutput(stream: Readable, name: 'stdout' | 'stderr'): void {
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      if (name === 'stderr') this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_CHARS);
      this.logger.debug(`parse process ${name}`, { pid: this.child.pid, text: text.slice(0, 4096) });
    });
  }
}
