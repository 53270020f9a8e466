import { statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsolatePool } from './index.ts';
import { dagReporting, startExecutionApi, taskFor, tempBundle, testPoolOptions, type TempBundle } from './testing.ts';

let api: Awaited<ReturnType<typeof startExecutionApi>>;
let pool: IsolatePool;
let bundle: TempBundle;

beforeAll(async () => {
  api = await startExecutionApi({ target: 'prod' });
  bundle = await tempBundle('deps', {
    'dags/uses-helpers.ts': dagReporting('uses_helpers', '[name, String(config.n)]', "import { name } from '../lib/helpers.ts';\nimport config from './config.json';"),
    'dags/config.json': '{ "n": 7 }',
    'lib/helpers.ts': "import { deep } from './deep/index.ts';\nexport const name = 'h-' + deep;\n",
    'lib/deep/index.ts': "export const deep = 'd';\n",
    'dags/reads-variable.ts': dagReporting('reads_variable', '[target]', "import { Variable } from '@dagproc/sdk';\nconst target = await Variable.get('target');"),
    'dags/imports-fs.ts': dagReporting('imports_fs', "[String(typeof readFileSync)]", "import { readFileSync } from 'node:fs';"),
    'dags/imports-path.ts': dagReporting('imports_path', "[join('a', 'b')]", "import { join } from 'node:path';"),
    'dags/optional.ts': dagReporting('optional', '[found]', "let found = 'no';\ntry { await import('./maybe.ts'); found = 'yes'; } catch {}"),
    'dags/js-twin.ts': dagReporting('js_twin', '[v]', "import { v } from './twin.js';"),
    'dags/twin.ts': "export const v = 'twin';\n",
    'dags/same-size.ts': dagReporting('same_size', '[value]', "import { value } from './value.ts';"),
    'dags/value.ts': "export const value = 'aaaa';\n",
  });
  pool = new IsolatePool(testPoolOptions({ apiUrl: api.url }));
  await pool.start();
});

afterAll(async () => {
  await pool?.close();
  await bundle?.remove();
  await api?.close();
});

const abs = (relative: string) => path.join(bundle.root, relative);
const parse = (relativeFileloc: string) => pool.parse(taskFor(bundle, relativeFileloc, async () => 'file-token'));

describe('what a parse reports it read', () => {
  it('every bundle-local module it loaded: the file, transitive imports, modules outside its folder, JSON', async () => {
    const outcome = await parse('dags/uses-helpers.ts');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags[0]!.tags).toEqual(['7', 'h-d']);
    const deps = outcome.dependencies!;
    expect(deps.modules.map((m) => m.path).sort()).toEqual(
      [abs('dags/config.json'), abs('dags/uses-helpers.ts'), abs('lib/deep/index.ts'), abs('lib/helpers.ts')].sort(),
    );
    const helper = deps.modules.find((m) => m.path === abs('lib/helpers.ts'))!;
    const info = statSync(abs('lib/helpers.ts'));
    expect(helper).toMatchObject({ ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, contentHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(deps).toMatchObject({ readVariablesOrConnections: false, externalBuiltins: [], failedImports: 0 });
  });

  it('a Variable read', async () => {
    const outcome = await parse('dags/reads-variable.ts');
    expect(outcome.dags[0]!.tags).toEqual(['prod']);
    expect(outcome.dependencies!.readVariablesOrConnections).toBe(true);
  });

  it('builtins that see the outside world, and not the pure ones', async () => {
    expect((await parse('dags/imports-fs.ts')).dependencies!.externalBuiltins).toEqual(['node:fs']);
    expect((await parse('dags/imports-path.ts')).dependencies!.externalBuiltins).toEqual([]);
  });

  it('an import that failed and was caught', async () => {
    const outcome = await parse('dags/optional.ts');
    expect(outcome.dags[0]!.tags).toEqual(['no']);
    expect(outcome.dependencies!.failedImports).toBe(1);
  });

  it('the paths an import looked at before the one it found (a file appearing there would win)', async () => {
    const twin = (await parse('dags/js-twin.ts')).dependencies!.modules.find((m) => m.path === abs('dags/twin.ts'))!;
    expect(twin.missing).toEqual([abs('dags/twin.js')]);
  });
});

describe('the transform cache', () => {
  it('a same-size edit within the same mtime is compiled afresh, not served from the cache', async () => {
    // A whole second, as a filesystem with a coarse clock stores it.
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000);
    utimesSync(abs('dags/value.ts'), mtime, mtime);
    expect((await parse('dags/same-size.ts')).dags[0]!.tags).toEqual(['aaaa']);
    await bundle.write('dags/value.ts', "export const value = 'bbbb';\n");
    utimesSync(abs('dags/value.ts'), mtime, mtime);
    const outcome = await parse('dags/same-size.ts');
    expect(outcome.dags[0]!.tags).toEqual(['bbbb']);
    expect(outcome.dependencies!.modules.find((m) => m.path === abs('dags/value.ts'))!.mtimeMs).toBe(mtime.getTime());
  });
});
