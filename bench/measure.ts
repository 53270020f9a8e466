import { cpuSince, cpuSnapshot, type CpuUse } from './cpu.ts';

/** Timing and progress helpers shared by the benchmark modules. */

/** One progress line per phase, on stderr, so stdout carries only the final table. */
export type Progress = (line: string) => void;

export const stderrProgress: Progress = (line) => process.stderr.write(`[bench] ${line}\n`);

export const quietProgress: Progress = () => {};

export interface Timed<T> {
  value: T;
  ms: number;
  /** Where the CPU went meanwhile; null off Linux. */
  cpu: CpuUse | null;
}

export async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
  const before = cpuSnapshot();
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  return { value, ms, cpu: cpuSince(before) };
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count / ms) * 1000 : 0;
}

/**
 * Runs `work` over `items` with `concurrency` workers, each holding its own context (a client,
 * say) and taking the next item as soon as it is free, as that many independent callers would.
 */
export async function runConcurrently<C, I, R>(
  items: readonly I[],
  contexts: readonly C[],
  work: (context: C, item: I, index: number) => Promise<R>,
): Promise<R[]> {
  if (contexts.length === 0) throw new Error('runConcurrently needs at least one worker context');
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    contexts.map(async (context) => {
      for (let index = next++; index < items.length; index = next++) {
        results[index] = await work(context, items[index]!, index);
      }
    }),
  );
  return results;
}

/** Fails the benchmark, loudly, when what it measured did not happen as it should. */
export function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new BenchCheckFailed(what);
}

/** A failure the benchmark explains in its message: printed without a stack. */
export class BenchError extends Error {}

export class BenchCheckFailed extends BenchError {
  override readonly name = 'BenchCheckFailed';
}
