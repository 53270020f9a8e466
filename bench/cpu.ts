import { readFileSync } from 'node:fs';
import { allProcesses, TICKS_PER_SECOND } from './procfs.ts';

/**
 * Where the CPU went during a measurement, from Linux's /proc (elsewhere nothing is reported):
 * the whole machine, the benchmark's own processes (this one, with the server and the clients,
 * plus every process it started: parse processes, the processor, esbuild), Postgres' processes,
 * and the rest. On a shared machine that rest is other people's work, and it depresses the
 * figures, so every row says how much there was.
 */

export interface CpuSnapshot {
  wallMs: number;
  machine: { busy: number; total: number };
  benchTicks: number;
  postgresTicks: number;
}

export interface CpuUse {
  cores: number;
  /** Busy share of all cores, 0..1. */
  machineBusy: number;
  /** The rest in cores: 1 means one core busy the whole time. */
  bench: number;
  postgres: number;
  other: number;
}

/** null where /proc is not there to read. */
export function cpuSnapshot(): CpuSnapshot | null {
  const machine = machineTicks();
  if (!machine) return null;
  const procs = allProcesses();
  // Each process's own time plus its reaped children's, which land in their parent's cutime.
  const ticks = (pid: number) => (procs.get(pid)?.selfTicks ?? 0) + (procs.get(pid)?.childTicks ?? 0);
  const children = new Map<number, number[]>();
  for (const [pid, stat] of procs) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  let benchTicks = 0;
  const pending = [process.pid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    benchTicks += ticks(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  let postgresTicks = 0;
  for (const stat of procs.values()) if (stat.comm === 'postgres') postgresTicks += stat.selfTicks + stat.childTicks;
  return { wallMs: performance.now(), machine, benchTicks, postgresTicks };
}

export function cpuSince(before: CpuSnapshot | null): CpuUse | null {
  const after = cpuSnapshot();
  if (!before || !after) return null;
  const seconds = (after.wallMs - before.wallMs) / 1000;
  const total = after.machine.total - before.machine.total;
  if (seconds <= 0 || total <= 0) return null;
  const cores = total / TICKS_PER_SECOND / seconds;
  const machineBusy = (after.machine.busy - before.machine.busy) / total;
  const inCores = (ticks: number) => Math.max(0, ticks) / TICKS_PER_SECOND / seconds;
  const bench = inCores(after.benchTicks - before.benchTicks);
  const postgres = inCores(after.postgresTicks - before.postgresTicks);
  return { cores: Math.round(cores), machineBusy, bench, postgres, other: Math.max(0, machineBusy * cores - bench - postgres) };
}

/** "CPU: machine 97% busy; bench 1.52 cores, Postgres 0.40, other 0.02". */
export function describeCpu(use: CpuUse | null): string | undefined {
  if (!use) return undefined;
  return (
    `CPU: machine ${Math.round(use.machineBusy * 100)}% busy; bench ${use.bench.toFixed(2)} cores, ` +
    `Postgres ${use.postgres.toFixed(2)}, other ${use.other.toFixed(2)}`
  );
}

function machineTicks(): { busy: number; total: number } | null {
  try {
    // user nice system idle iowait irq softirq steal; guest time is already inside user and nice.
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}
