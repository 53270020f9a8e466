import { transform } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { SourceMap } from './sourcemap.ts';

describe('SourceMap', () => {
  it("maps positions in esbuild's TypeScript output back to the authored ones", async () => {
    const authored = [
      'interface Options {',
      '  retries: number;',
      '}',
      '',
      'type Id = string;',
      'export function run(options: Options, id: Id): void {',
      "  if (options.retries > 2) throw new Error('too many for ' + id);",
      '}',
    ].join('\n');
    const { code, map } = await transform(authored, { loader: 'ts', sourcefile: 'dags/x.ts', sourcemap: 'external' });
    const lines = code.split('\n');
    const generatedLine = lines.findIndex((line) => line.includes('new Error')) + 1;
    const generatedColumn = lines[generatedLine - 1]!.indexOf('new Error') + 1;
    expect(generatedLine).not.toBe(7);
    const position = SourceMap.fromJson(map).originalPosition(generatedLine, generatedColumn);
    expect(position).toEqual({ source: 'dags/x.ts', line: 7, column: authored.split('\n')[6]!.indexOf('new Error') + 1 });
  });

  it('renames sources and answers null where nothing is mapped', () => {
    const map = SourceMap.fromJson(JSON.stringify({ version: 3, sources: ['../sdk/dag.ts'], mappings: ';AAAA' }), (s) => `@dagproc/sdk/${s.slice(7)}`);
    expect(map.originalPosition(1, 1)).toBeNull();
    expect(map.originalPosition(2, 5)).toEqual({ source: '@dagproc/sdk/dag.ts', line: 1, column: 1 });
    expect(map.originalPosition(9, 1)).toBeNull();
  });
});
