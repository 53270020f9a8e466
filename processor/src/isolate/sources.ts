import type { Stats } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform, type Loader, type TransformFailure } from 'esbuild';
import { isRacy, sha256 } from '../bundles/hash.ts';
import { SourceMap } from './sourcemap.ts';
import { isWithin } from './symlinks.ts';
import type { LoadedModule } from './types.ts';

/** What a DAG file may be; anything it imports may also be JSON. */
export const DAG_FILE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;
const LOADERS: Record<string, Loader> = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js', '.json': 'json' };
/** TypeScript's own convention: `./x.js` in a .ts file names `./x.ts`. */
const AUTHORED_TWIN: Record<string, string> = { '.js': '.ts', '.mjs': '.mts' };

/** A module of a bundle as the child evaluates it: always an ES module, whatever package.json says. */
export interface CompiledModule {
  realPath: string;
  /** Bundle-relative POSIX path of the real file: one module instance per key in a job. */
  key: string;
  url: string;
  code: string;
  map(): SourceMap;
  /** How the module was found and which bytes were compiled: what incremental parsing watches. */
  loaded: LoadedModule;
}

/** A module that cannot be loaded, with the stack trace the import error should show. */
export class ModuleLoadError extends Error {
  override readonly name = 'ModuleLoadError';
  constructor(readonly stacktrace: string) {
    super(stacktrace.split('\n')[0]);
  }
}

/** A compiled module, keyed by the same file identity incremental parsing watches. */
interface CacheEntry extends Pick<LoadedModule, 'dev' | 'ino' | 'mtimeMs' | 'size' | 'contentHash' | 'readAt'> {
  code: string;
  mapJson: string;
  map: SourceMap | null;
}

/**
 * Resolves imports inside a bundle and turns its files into JavaScript with esbuild, in the
 * processor: parse processes cannot spawn esbuild. Transforms are cached by real path, inode,
 * mtime and size, so unchanged files and shared helpers cost a stat; an entry whose mtime is
 * too close to when it was read is checked against the file's bytes (see isRacy).
 */
export class ModuleSources {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<CacheEntry>>();

  /**
   * Least recently used entries go past this many. Helpers imported by many files stay hot; a
   * DAG file's own transform mostly serves its next parse, which incremental parsing makes rare
   * for unchanged files, so a cache the size of a 10,000-file bundle would only hold memory.
   */
  constructor(private readonly maxEntries = 2_000) {}

  async loadRoot(bundleRoot: string, relativeFileloc: string): Promise<CompiledModule> {
    const fail = (why: string) => new ModuleLoadError(`Error: cannot load ${relativeFileloc}: ${why}\n    at ${relativeFileloc}`);
    const ext = path.extname(relativeFileloc);
    if (!(DAG_FILE_EXTENSIONS as readonly string[]).includes(ext)) {
      throw fail(`a DAG file is a ${DAG_FILE_EXTENSIONS.join(', ')} file`);
    }
    const real = await realpath(path.join(bundleRoot, relativeFileloc)).catch(() => null);
    if (real === null) throw fail('no such file');
    if (!isWithin(bundleRoot, real)) throw fail(`it resolves to ${real}, outside the bundle`);
    return this.compile(bundleRoot, real, path.join(bundleRoot, relativeFileloc), []);
  }

  async loadImport(bundleRoot: string, specifier: string, referrer: CompiledModule, referrerName: string): Promise<CompiledModule> {
    const fail = async (why: string) =>
      new ModuleLoadError(`Error: cannot import '${specifier}'${why}\n    at ${await importSite(referrer, referrerName, specifier)}`);
    const isPath = /^(\.{1,2}(\/|$)|\/|file:)/.test(specifier);
    if (!isPath) {
      if (specifier.startsWith('node:')) throw await fail(': there is no such Node builtin');
      throw await fail(': a DAG file may import relative files, node: builtins and @dagproc/sdk');
    }
    let base: string;
    try {
      base = specifier.startsWith('file:') ? fileURLToPath(specifier) : path.resolve(path.dirname(referrer.realPath), specifier);
    } catch {
      throw await fail(': not a valid file URL');
    }
    const tried = candidates(base);
    const found = await firstFile(tried);
    if (found === null) {
      if (await isFile(base)) {
        throw await fail(` from ${referrerName}: only ${Object.keys(LOADERS).join(', ')} files can be imported`);
      }
      const hint = path.extname(base) in LOADERS ? '' : ' (tried the .ts, .mts, .js and .mjs extensions and index files)';
      throw await fail(` from ${referrerName}: no such file${hint}`);
    }
    const real = await realpath(found);
    if (!isWithin(bundleRoot, real)) throw await fail(` from ${referrerName}: it resolves to ${real}, outside the bundle`);
    try {
      return await this.compile(bundleRoot, real, found, tried.slice(0, tried.indexOf(found)));
    } catch (error) {
      if (error instanceof ModuleLoadError) {
        throw new ModuleLoadError(`${error.stacktrace}\n    at ${await importSite(referrer, referrerName, specifier)}`);
      }
      throw error;
    }
  }

  private async compile(bundleRoot: string, real: string, requestedPath: string, missing: string[]): Promise<CompiledModule> {
    const key = path.relative(bundleRoot, real).split(path.sep).join('/');
    const info = await stat(real);
    let entry = this.cache.get(real);
    if (entry && (await this.stillCurrent(real, entry, info))) {
      this.cache.delete(real);
      this.cache.set(real, entry);
    } else {
      const flightKey = `${real}\u0000${info.mtimeMs}\u0000${info.size}`;
      let flight = this.inflight.get(flightKey);
      if (!flight) {
        flight = this.transformFile(real, key, info).finally(() => this.inflight.delete(flightKey));
        this.inflight.set(flightKey, flight);
      }
      entry = await flight;
      this.cache.set(real, entry);
      if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    }
    const cached = entry;
    return {
      realPath: real,
      key,
      url: pathToFileURL(real).href,
      code: cached.code,
      map: () => (cached.map ??= SourceMap.fromJson(cached.mapJson)),
      loaded: {
        path: requestedPath,
        missing,
        dev: cached.dev,
        ino: cached.ino,
        mtimeMs: cached.mtimeMs,
        size: cached.size,
        contentHash: cached.contentHash,
        readAt: cached.readAt,
      },
    };
  }

  /** Whether a cached transform still describes the file `info` is a stat of. */
  private async stillCurrent(real: string, entry: CacheEntry, info: Stats): Promise<boolean> {
    if (entry.dev !== info.dev || entry.ino !== info.ino || entry.mtimeMs !== info.mtimeMs || entry.size !== info.size) return false;
    if (!isRacy(entry.mtimeMs, entry.readAt)) return true;
    const readAt = Date.now();
    const bytes = await readFile(real).catch(() => null);
    if (bytes === null || sha256(bytes) !== entry.contentHash) return false;
    entry.readAt = readAt;
    return true;
  }

  private async transformFile(real: string, key: string, info: Stats): Promise<CacheEntry> {
    const readAt = Date.now();
    const bytes = await readFile(real);
    const source = bytes.toString('utf8');
    const identity = { dev: info.dev, ino: info.ino, mtimeMs: info.mtimeMs, size: info.size, contentHash: sha256(bytes), readAt };
    const loader = LOADERS[path.extname(real)]!;
    try {
      const result = await transform(source, {
        loader,
        sourcefile: key,
        sourcemap: 'external',
        target: 'esnext',
        // Left unset, esbuild keeps the module syntax as written; JSON needs to become ESM.
        format: loader === 'json' ? 'esm' : undefined,
        tsconfigRaw: {},
        logLevel: 'silent',
      });
      return { ...identity, code: result.code, mapJson: result.map, map: null };
    } catch (error) {
      const first = (error as TransformFailure).errors?.[0];
      if (!first) throw error;
      const where = first.location ? `${key}:${first.location.line}:${first.location.column + 1}` : key;
      throw new ModuleLoadError(`SyntaxError: ${first.text}\n    at ${where}`);
    }
  }
}

function candidates(base: string): string[] {
  const ext = path.extname(base);
  const list: string[] = [];
  if (ext in LOADERS) {
    list.push(base);
    const twin = AUTHORED_TWIN[ext];
    if (twin) list.push(base.slice(0, -ext.length) + twin);
  }
  for (const extension of ['.ts', '.mts', '.js', '.mjs']) list.push(base + extension);
  for (const extension of ['.ts', '.mts', '.js', '.mjs']) list.push(path.join(base, `index${extension}`));
  return list;
}

async function firstFile(paths: string[]): Promise<string | null> {
  for (const candidate of paths) if (await isFile(candidate)) return candidate;
  return null;
}

async function isFile(candidate: string): Promise<boolean> {
  return stat(candidate).then((info) => info.isFile(), () => false);
}

/** `file:line:column` of the import in the authored source, or the file alone if not found. */
async function importSite(referrer: CompiledModule, referrerName: string, specifier: string): Promise<string> {
  const source = await readFile(referrer.realPath, 'utf8').catch(() => '');
  for (const quote of ["'", '"', '`']) {
    const at = source.indexOf(`${quote}${specifier}${quote}`);
    if (at >= 0) {
      const before = source.slice(0, at);
      const line = before.split('\n').length;
      const column = at - before.lastIndexOf('\n');
      return `${referrerName}:${line}:${column}`;
    }
  }
  return referrerName;
}
