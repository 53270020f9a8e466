import { lineChartSvg } from './chart.ts';
import type { DatabaseTarget } from './databases.ts';
import { stderrProgress, type Progress } from './measure.ts';
import type { PeakMemory } from './procfs.ts';
import { benchSystem } from './system.ts';

/**
 * How cost grows with the bundle: the cold run (spawn until the API lists every DAG) on one
 * target for each size, one-DAG files, a fresh server and database each time, with the peak
 * memory of each process. The processor keeps its default settings here (bundle re-listed
 * every SCALING_REFRESH_SECONDS), so a large bundle's listing costs what it would in use.
 */
export interface ScalingPoint {
  files: number;
  ms: number;
  filesPerSecond: number;
  memory: PeakMemory;
}

/** DAGPROC_BUNDLE_REFRESH_INTERVAL's default. */
export const SCALING_REFRESH_SECONDS = 10;

export async function benchScaling(options: {
  target: DatabaseTarget;
  sizes: number[];
  processes: number;
  progress?: Progress;
}): Promise<ScalingPoint[]> {
  const progress = options.progress ?? stderrProgress;
  const points: ScalingPoint[] = [];
  for (const files of options.sizes) {
    const result = await benchSystem({
      target: options.target,
      shape: 'one',
      files,
      processes: options.processes,
      // No second pass may start while the first is being timed.
      intervalSeconds: 3600,
      refreshSeconds: SCALING_REFRESH_SECONDS,
      parseOnly: false,
      steady: false,
      changes: 0,
      timeoutMs: Math.max(600_000, files * 300),
      progress,
    });
    points.push({ files, ms: result.cold.ms, filesPerSecond: result.cold.filesPerSecond, memory: result.memory });
    progress(`scaling: ${files} files, ${result.cold.filesPerSecond.toFixed(0)} files/s`);
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
