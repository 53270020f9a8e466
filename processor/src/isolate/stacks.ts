import type { SourceMap } from './sourcemap.ts';

export interface StackModule {
  /** Lazily decoded: most jobs never need a map. */
  map(): SourceMap | null;
  /** User files keep their own name in frames; the SDK's frames take the name of its source file. */
  nameFromMap: boolean;
}

const FRAME = /^\s+at /;

/**
 * Turns a stack trace from a parse process into one a DAG author can read: frames of their
 * files at the positions they wrote (the child saw esbuild's output), frames of the runtime and
 * of Node's internals dropped. When no frame names one of their files (a timeout, a crash, a
 * value thrown without a stack) the job's own file is named, so the trace always points there.
 */
export function authoredStack(
  stack: string,
  modules: ReadonlyMap<string, StackModule>,
  noise: readonly string[],
  relativeFileloc: string,
  alreadyAuthored = false,
): string {
  const identifiers = [...modules.keys()].sort((a, b) => b.length - a.length);
  const position = identifiers.length
    ? new RegExp(`(?<=\\(|at |at async )(${identifiers.map(escapeRegExp).join('|')}):(\\d+):(\\d+)`, 'g')
    : null;
  const lines: string[] = [];
  for (const line of stack.trimEnd().split('\n')) {
    if (!FRAME.test(line)) {
      lines.push(line);
      continue;
    }
    if (noise.some((marker) => line.includes(marker))) continue;
    if (alreadyAuthored || !position) {
      lines.push(line);
      continue;
    }
    lines.push(
      line.replace(position, (whole, identifier: string, genLine: string, genColumn: string) => {
        const module = modules.get(identifier)!;
        const original = module.map()?.originalPosition(Number(genLine), Number(genColumn));
        if (!original) return whole;
        return `${module.nameFromMap ? original.source : identifier}:${original.line}:${original.column}`;
      }),
    );
  }
  const userFiles = identifiers.filter((identifier) => !modules.get(identifier)!.nameFromMap);
  const namesUserFile = lines.some(
    (line) => FRAME.test(line) && [relativeFileloc, ...userFiles].some((file) => line.includes(file)),
  );
  if (!namesUserFile) lines.push(`    at ${relativeFileloc}`);
  return lines.join('\n');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
