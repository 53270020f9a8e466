/**
 * Just enough of Source Map v3 to turn a generated line:column back into the authored one, so
 * an import error's stack names lines as the author wrote them (esbuild's TypeScript output
 * does not keep line numbers).
 */

export interface OriginalPosition {
  source: string;
  /** 1-based, as stack traces count. */
  line: number;
  column: number;
}

/** Per generated line, flat [generatedColumn, sourceIndex, originalLine, originalColumn] runs. */
type DecodedLines = Int32Array[];

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

export class SourceMap {
  private decoded: DecodedLines | null = null;

  constructor(
    private readonly sources: readonly string[],
    private readonly mappings: string,
  ) {}

  /** `rename` turns each source path of the map into the name stack frames should show. */
  static fromJson(json: string, rename: (source: string) => string = (source) => source): SourceMap {
    const raw = JSON.parse(json) as { sources?: unknown; mappings?: unknown };
    const sources = Array.isArray(raw.sources) ? raw.sources.map((source) => rename(String(source))) : [];
    return new SourceMap(sources, typeof raw.mappings === 'string' ? raw.mappings : '');
  }

  /** Maps a 1-based generated position; null when no mapping covers it. */
  originalPosition(line: number, column: number): OriginalPosition | null {
    this.decoded ??= decodeMappings(this.mappings);
    const segments = this.decoded[line - 1];
    if (!segments || segments.length === 0) return null;
    // The segment that starts at or before the column: the last one whose column is <= it.
    const target = column - 1;
    let lo = 0;
    let hi = segments.length / 4 - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segments[mid * 4]! <= target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) found = 0;
    const source = this.sources[segments[found * 4 + 1]!];
    if (source === undefined) return null;
    return { source, line: segments[found * 4 + 2]! + 1, column: segments[found * 4 + 3]! + 1 };
  }
}

function decodeMappings(mappings: string): DecodedLines {
  const lines: DecodedLines = [];
  let current: number[] = [];
  let sourceIndex = 0;
  let originalLine = 0;
  let originalColumn = 0;
  let generatedColumn = 0;
  let i = 0;
  const fields: number[] = [];
  const flushSegment = () => {
    // Segments of one field name no source: nothing to map them to.
    if (fields.length >= 4) {
      generatedColumn += fields[0]!;
      sourceIndex += fields[1]!;
      originalLine += fields[2]!;
      originalColumn += fields[3]!;
      current.push(generatedColumn, sourceIndex, originalLine, originalColumn);
    } else if (fields.length >= 1) {
      generatedColumn += fields[0]!;
    }
    fields.length = 0;
  };
  while (i <= mappings.length) {
    const ch = i < mappings.length ? mappings[i] : ';';
    if (ch === ';' || ch === ',') {
      flushSegment();
      if (ch === ';') {
        lines.push(Int32Array.from(current));
        current = [];
        generatedColumn = 0;
      }
      i++;
      continue;
    }
    let value = 0;
    let shift = 0;
    for (;;) {
      const digit = BASE64_VALUE[mappings.charCodeAt(i++)] ?? -1;
      if (digit < 0) throw new Error('invalid source map: bad base64 digit in mappings');
      value += (digit & 31) << shift;
      if ((digit & 32) === 0) break;
      shift += 5;
    }
    fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
  }
  return lines;
}
