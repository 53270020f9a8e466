import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadProcessorConfig } from './config.ts';

/** the processor's token file must not lie inside a bundle its DAG files may read. */

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('token file inside a bundle', () => {
  it('refuses to start when DAGPROC_API_TOKEN_PATH is inside a bundle root (parse isolates may read everything under it)', () => {
    dir = mkdtempSync(join(tmpdir(), 'dagproc-edge-cfg-'));
    mkdirSync(join(dir, '.dagproc'));
    writeFileSync(join(dir, '.dagproc', 'processor.token'), 'aaaa.bbbb.cccc');
    writeFileSync(join(dir, 'etl.ts'), 'export default 1;\n');
    // e.g. `DAGPROC_DAGS_FOLDER=. pnpm start:processor` from the project root, with the standalone's token file.
    const load = () =>
      loadProcessorConfig({ DAGPROC_DAGS_FOLDER: '.', DAGPROC_API_TOKEN_PATH: '.dagproc/processor.token' }, [], dir);
    expect(load).toThrow(/DAGPROC_API_TOKEN_PATH/);
  });
});
