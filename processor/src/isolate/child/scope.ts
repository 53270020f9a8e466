import type { Channel } from './channel.ts';
import type { ChildMessage, DistributiveOmit, JobMessage, ModuleReply, TokenReply } from '../protocol.ts';

type Reply = ModuleReply | TokenReply;
type RequestMessage = Extract<ChildMessage, { t: 'load' } | { t: 'token' }>;

/** What one file's console may send the processor; past it the rest is dropped. */
const MAX_LOG_BYTES_PER_JOB = 1024 * 1024;

/**
 * Everything one job owns in the child: its requests to the parent, the timers its code set
 * through the context's globals, and its first fatal error. Finishing the job clears the timers,
 * so a file's stray setTimeout never runs during the next file.
 */
export class JobScope {
  private nextRequest = 0;
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextTimer = 1;
  private readonly timers = new Map<number, { immediate: boolean; handle: NodeJS.Timeout | NodeJS.Immediate }>();
  private logBytes = 0;
  private finished = false;
  /** The first uncaught exception or unhandled rejection while the job ran, as Node would crash on it. */
  failure: { error: unknown } | null = null;
  /** Rejects with that failure, so a job waiting on work that will never finish ends at once. */
  readonly aborted: Promise<never>;
  private abort: (error: unknown) => void = () => {};

  constructor(
    readonly message: JobMessage,
    private readonly channel: Channel,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.abort = reject;
    });
    this.aborted.catch(() => {});
  }

  get id(): number {
    return this.message.job;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  request(message: DistributiveOmit<RequestMessage, 'job' | 'req'>): Promise<Reply> {
    if (this.finished) return Promise.reject(new Error('the file has finished running'));
    const req = this.nextRequest++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      this.channel.send({ ...message, job: this.id, req } as ChildMessage);
    });
  }

  settle(reply: Reply): void {
    const waiter = this.pending.get(reply.req);
    if (!waiter) return;
    this.pending.delete(reply.req);
    waiter.resolve(reply);
  }

  setTimer(repeat: boolean, callback: () => void, delay: unknown): number {
    this.assertRunning();
    const id = this.nextTimer++;
    const ms = Number(delay) || 0;
    const handle = repeat
      ? setInterval(callback, ms)
      : setTimeout(() => {
          this.timers.delete(id);
          callback();
        }, ms);
    this.timers.set(id, { immediate: false, handle });
    return id;
  }

  setImmediate(callback: () => void): number {
    this.assertRunning();
    const id = this.nextTimer++;
    const handle = setImmediate(() => {
      this.timers.delete(id);
      callback();
    });
    this.timers.set(id, { immediate: true, handle });
    return id;
  }

  clearTimer(id: unknown): void {
    if (typeof id !== 'number') return;
    const timer = this.timers.get(id);
    if (!timer) return;
    this.timers.delete(id);
    if (timer.immediate) clearImmediate(timer.handle as NodeJS.Immediate);
    else clearTimeout(timer.handle as NodeJS.Timeout);
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', text: string): void {
    if (this.finished || this.logBytes >= MAX_LOG_BYTES_PER_JOB) return;
    this.logBytes += text.length;
    if (this.logBytes >= MAX_LOG_BYTES_PER_JOB) text = `${text.slice(0, 1024)}\n[further console output of this file dropped]`;
    this.channel.send({ t: 'log', job: this.id, level, text: text.slice(0, 64 * 1024) });
  }

  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.abort(error);
  }

  finish(): void {
    this.finished = true;
    for (const id of [...this.timers.keys()]) this.clearTimer(id);
    for (const waiter of this.pending.values()) waiter.reject(new Error('the file has finished running'));
    this.pending.clear();
  }

  private assertRunning(): void {
    if (this.finished) throw new Error('the file has finished running: no new timers');
  }
}
