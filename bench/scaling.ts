import { lineChartSvg } from './chart.ts';
import type { DatabaseTarget } from './databases.ts';
import { stderrProgress, type Progress } from './measure.ts';
import type { PeakMemory } from './procfs.ts';
import { benchSystem, type SystemResult } from './system.ts';

/**
 * How cost grows with the bundle: the cold run (spawn until the API lists every DAG) on one
 * target for each size, one-DAG files, a fresh server and database each time, with the peak
 * memory of each process. A size the system benchmark already measured cold on the same
 * target and shape is taken from it rather than run again.
 */
export interface ScalingPoint {
  files: number;
  ms: number;
  filesPerSecond: number;
  memory: PeakMemory;
  /** True when the point came from the system benchmark's own cold run. */
  reused: boolean;
}

export async function benchScaling(options: {
  target: DatabaseTarget;
  sizes: number[];
  processes: number;
  reuse?: SystemResult[];
  progress?: Progress;
}): Promise<ScalingPoint[]> {
  const progress = options.progress ?? stderrProgress;
  const points: ScalingPoint[] = [];
  for (const files of options.sizes) {
    const earlier = options.reuse?.find((r) => r.target === options.target.label && r.shape === 'one' && r.files === files);
    const result =
      earlier ??
      (await benchSystem({
        target: options.target,
        shape: 'one',
        files,
        processes: options.processes,
        // No second pass may start while the first is being timed.
        intervalSeconds: 3600,
        parseOnly: false,
        steady: false,
        changes: 0,
        timeoutMs: Math.max(600_000, files * 300),
        progress,
      }));
    points.push({ files, ms: result.cold.ms, filesPerSecond: result.cold.filesPerSecond, memory: result.memory, reused: earlier !== undefined });
    progress(`scaling: ${files} files, ${result.cold.filesPerSecond.toFixed(0)} files/s${earlier ? ' (from the system run)' : ''}`);
  }
  return points;
}

export function scalingChartSvg(points: ScalingPoint[], target: string): string {
  return lineChartSvg({
    title: `Cold run on ${target}: files/s as the bundle grows`,
    xLabel: 'DAG files in the bundle (log scale)',
    yLabel: 'files/s (spawn until the API lists every DAG)',
    series: [{ label: `${target}, one DAG per file`, color: '#2b6cb0', points: points.map((p) => ({ x: p.files, y: p.filesPerSecond })) }],
  });
}
