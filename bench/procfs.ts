import { readdirSync, readFileSync } from 'node:fs';

/**
 * Per-process CPU time and memory from Linux's /proc (elsewhere every reading is null, and
 * the figures that need them say "n/a"). A sampler follows the processes of one benchmark run
 * by role: the server, the processor, the processor's parse processes (its descendants), the
 * esbuild transform service, and the Postgres backends serving the run's database.
 */

/** USER_HZ: /proc reports CPU time in these ticks on every Linux. */
export const TICKS_PER_SECOND = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime: this process's own CPU time. */
  selfTicks: number;
  /** cutime + cstime: CPU time of its children that exited and were waited for. */
  childTicks: number;
}

export function readStat(pid: number): ProcStat | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // gone, or not Linux
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4; utime, stime, cutime, cstime are fields 14 to 17.
  return {
    pid,
    ppid: Number(fields[1]),
    comm: stat.slice(stat.indexOf('(') + 1, close),
    selfTicks: Number(fields[11]) + Number(fields[12]),
    childTicks: Number(fields[13]) + Number(fields[14]),
  };
}

export function allProcesses(): Map<number, ProcStat> {
  const procs = new Map<number, ProcStat>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return procs;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) procs.set(stat.pid, stat);
  }
  return procs;
}

export function descendantsOf(root: number, procs: Map<number, ProcStat>): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const stat of procs.values()) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const found: ProcStat[] = [];
  const pending = [root];
  while (pending.length > 0) {
    for (const child of children.get(pending.pop()!) ?? []) {
      found.push(child);
      pending.push(child.pid);
    }
  }
  return found;
}

/** VmHWM (peak resident set) and VmRSS of a process, in KiB; null when it is gone. */
export function readMemory(pid: number): { hwmKb: number; rssKb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { hwmKb: kb('VmHWM'), rssKb: kb('VmRSS') };
  } catch {
    return null;
  }
}

export const ROLES = ['server', 'processor', 'isolates', 'esbuild', 'postgres'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABEL: Record<Role, string> = {
  server: 'server',
  processor: 'processor',
  isolates: 'parse processes',
  esbuild: 'esbuild',
  postgres: 'Postgres backends',
};

export type RoleSeconds = Record<Role, number>;

interface Sample {
  at: number;
  ticks: Record<Role, number>;
}

export interface SampledPids {
  server?: number | undefined;
  processor?: number | undefined;
  /** The backends of the run's own database (pg_stat_activity), refreshed by the caller. */
  postgres?: readonly number[] | undefined;
}

export interface PeakMemory {
  /** Peak resident set (VmHWM) in MiB; null when never seen. */
  server: number | null;
  processor: number | null;
  /** The largest any one parse process reached. */
  isolate: number | null;
  /** The most all parse processes held at once (sum of VmRSS at one sample). */
  isolatesTogether: number | null;
}

/**
 * Samples the roles' CPU ticks and peak memory every `intervalMs`. CPU between two instants is
 * read from the samples around them, so a caller can ask for a window it learns of afterwards
 * (a pass whose start the processor logs at its end). A parse process that exits is waited for
 * by the processor, so its time moves into the processor's cutime: "isolates" counts that plus
 * the live descendants, and stays right across recycling. Between samples up to `intervalMs`
 * of a process's last work before it exits can be missed.
 */
export class ProcessSampler {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private peaks = { server: 0, processor: 0, isolate: 0, isolatesTogether: 0 };

  constructor(
    private readonly pids: () => SampledPids,
    private readonly intervalMs = 200,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes a sample now (call it at the instants a measurement starts or ends). */
  sample(): number {
    const at = performance.now();
    const { server, processor, postgres = [] } = this.pids();
    const ticks: Record<Role, number> = { server: 0, processor: 0, isolates: 0, esbuild: 0, postgres: 0 };
    const procs = processor !== undefined || server !== undefined ? allProcesses() : new Map<number, ProcStat>();
    if (server !== undefined) {
      const stat = procs.get(server);
      if (stat) ticks.server = stat.selfTicks + stat.childTicks + sumOf(descendantsOf(server, procs), (s) => s.selfTicks + s.childTicks);
      this.peaks.server = Math.max(this.peaks.server, readMemory(server)?.hwmKb ?? 0);
    }
    if (processor !== undefined) {
      const stat = procs.get(processor);
      if (stat) {
        ticks.processor = stat.selfTicks;
        ticks.isolates = stat.childTicks;
        this.peaks.processor = Math.max(this.peaks.processor, readMemory(processor)?.hwmKb ?? 0);
        let together = 0;
        for (const child of descendantsOf(processor, procs)) {
          const own = child.selfTicks + child.childTicks;
          if (child.comm === 'esbuild') ticks.esbuild += own;
          else {
            ticks.isolates += own;
            const memory = readMemory(child.pid);
            if (memory) {
              this.peaks.isolate = Math.max(this.peaks.isolate, memory.hwmKb);
              together += memory.rssKb;
            }
          }
        }
        this.peaks.isolatesTogether = Math.max(this.peaks.isolatesTogether, together);
      }
    }
    for (const pid of postgres) ticks.postgres += readStat(pid)?.selfTicks ?? 0;
    this.samples.push({ at, ticks });
    return at;
  }

  /** CPU seconds each role used between two `performance.now()` instants. */
  cpuBetween(from: number, to: number): RoleSeconds {
    const before = [...this.samples].reverse().find((s) => s.at <= from) ?? this.samples[0];
    const after = this.samples.find((s) => s.at >= to) ?? this.samples.at(-1);
    const out = { server: 0, processor: 0, isolates: 0, esbuild: 0, postgres: 0 };
    if (!before || !after) return out;
    for (const role of ROLES) out[role] = Math.max(0, after.ticks[role] - before.ticks[role]) / TICKS_PER_SECOND;
    return out;
  }

  /** Peak memory seen so far, in MiB. */
  peakMemory(): PeakMemory {
    const mib = (kb: number) => (kb > 0 ? kb / 1024 : null);
    return {
      server: mib(this.peaks.server),
      processor: mib(this.peaks.processor),
      isolate: mib(this.peaks.isolate),
      isolatesTogether: mib(this.peaks.isolatesTogether),
    };
  }

  /** Forgets the processor's peaks, for a new processor on the same server. */
  resetProcessorPeaks(): void {
    this.peaks = { ...this.peaks, processor: 0, isolate: 0, isolatesTogether: 0 };
  }
}

function sumOf<T>(items: readonly T[], value: (item: T) => number): number {
  let sum = 0;
  for (const item of items) sum += value(item);
  return sum;
}
