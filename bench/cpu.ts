import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where the CPU went during a measurement, from Linux's /proc (elsewhere nothing is reported):
 * the whole machine, the benchmark's own processes (this one, with the server and the clients,
 * plus every process it started: parse processes, the processor, esbuild), Postgres' processes,
 * and the rest. On a shared machine that rest is other people's work, and it depresses the
 * figures, so every row says how much there was.
 */

/** USER_HZ: /proc reports CPU time in these ticks on every Linux. */
const TICKS_PER_SECOND = 100;

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

interface ProcStat {
  ppid: number;
  comm: string;
  /** utime + stime + cutime + cstime: reaped children's time lands in their parent's. */
  ticks: number;
}

/** null where /proc is not there to read. */
export function cpuSnapshot(): CpuSnapshot | null {
  const machine = machineTicks();
  if (!machine) return null;
  const procs = processes();
  const children = new Map<number, number[]>();
  for (const [pid, stat] of procs) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  let benchTicks = 0;
  const pending = [process.pid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    benchTicks += procs.get(pid)?.ticks ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  let postgresTicks = 0;
  for (const stat of procs.values()) if (stat.comm === 'postgres') postgresTicks += stat.ticks;
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

function processes(): Map<number, ProcStat> {
  const procs = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4; utime, stime, cutime, cstime are fields 14 to 17.
    procs.set(Number(entry), {
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
    });
  }
  return procs;
}
