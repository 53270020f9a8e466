import { mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { SourceMap } from './sourcemap.ts';
import { wrapSdkBundle } from './identifiers.ts';

export const DEFAULT_SDK_ENTRY = fileURLToPath(new URL('../../../shared/src/sdk/entry.ts', import.meta.url));
const CHILD_ENTRY = fileURLToPath(new URL('./child/main.ts', import.meta.url));

/**
 * The plain-JS files a parse process loads, built once per pool into a private temp folder:
 * the child runtime (it cannot run TypeScript itself: tsx and esbuild spawn processes, which
 * the permission model forbids) and the SDK as one script.
 */
export interface RuntimeFiles {
  /** Real path of the folder; the processes may read it, and it is removed on close. */
  dir: string;
  childPath: string;
  sdkPath: string;
  /** Maps positions in the SDK bundle to its sources, for stack traces through the SDK. */
  sdkMap: SourceMap;
  remove(): Promise<void>;
}

const PREFIX = 'dagproc-isolate-';
const OWNER_FILE = 'owner.pid';

export async function buildRuntime(sdkEntry: string): Promise<RuntimeFiles> {
  // Real path: the permission model compares the paths a process names with what it was granted.
  const tmp = await realpath(os.tmpdir());
  await removeStaleRuntimes(tmp);
  const dir = await mkdtemp(path.join(tmp, PREFIX));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await writeFile(path.join(dir, OWNER_FILE), String(process.pid));
    const childPath = path.join(dir, 'child.cjs');
    const sdkPath = path.join(dir, 'sdk.js');
    await build({
      entryPoints: [CHILD_ENTRY],
      outfile: childPath,
      bundle: true,
      platform: 'node',
      // CommonJS starts without Node's ES module loader: a few ms off every process start.
      format: 'cjs',
      target: 'node20',
      logLevel: 'silent',
    });
    const sdk = await build({
      entryPoints: [sdkEntry],
      outfile: sdkPath,
      bundle: true,
      // The SDK must stand alone in a vm context: no node builtins, packages bundled in.
      platform: 'neutral',
      mainFields: ['module', 'main'],
      // CommonJS, wrapped as a function: one compiled script whose exports each context takes.
      format: 'cjs',
      target: 'es2022',
      sourcemap: 'external',
      write: false,
      logLevel: 'silent',
    });
    const code = sdk.outputFiles.find((file) => file.path.endsWith('.js'));
    const map = sdk.outputFiles.find((file) => file.path.endsWith('.map'));
    if (!code || !map) throw new Error('esbuild produced no SDK bundle');
    await writeFile(sdkPath, wrapSdkBundle(code.text));
    const sdkRoot = path.dirname(sdkEntry);
    const sdkMap = SourceMap.fromJson(map.text, (source) =>
      `@dagproc/sdk/${path.relative(sdkRoot, path.resolve(dir, source)).split(path.sep).join('/')}`,
    );
    return { dir, childPath, sdkPath, sdkMap, remove };
  } catch (error) {
    await remove();
    throw new Error(`could not build the parse runtime: ${(error as Error).message}`, { cause: error });
  }
}

/** Runtime folders left by processors that died without closing their pool. */
async function removeStaleRuntimes(tmp: string): Promise<void> {
  const names = await readdir(tmp).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith(PREFIX))) {
    const dir = path.join(tmp, name);
    const owner = Number(await readFile(path.join(dir, OWNER_FILE), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
