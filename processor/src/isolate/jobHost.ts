import type { ModulePayload, TokenPayload } from './protocol.ts';
import { ModuleLoadError, type CompiledModule, type ModuleSources } from './sources.ts';
import { authoredStack, type StackModule } from './stacks.ts';
import type { SourceMap } from './sourcemap.ts';
import { RUNTIME_IDENTIFIER, SDK_IDENTIFIER } from './identifiers.ts';
import type { LoadedModule, ParseTask } from './types.ts';

/**
 * The processor's side of one job: answers the child's module and token requests for that
 * file alone, and remembers which modules it served so their stack frames can be mapped back,
 * and what the file read (modules, a token for Variables), for incremental parsing.
 */
export class JobHost {
  private readonly modules = new Map<string, { compiled: CompiledModule; identifier: string }>();
  private readonly sent = new Set<string>();
  private token: Promise<string> | null = null;
  /** Every module served, by the path it was found at (one real file may be reached by two). */
  private readonly loadedByPath = new Map<string, LoadedModule>();
  /** Module requests that failed: the file may catch one, and resolve differently once it exists. */
  failedImports = 0;

  constructor(
    readonly id: number,
    readonly task: ParseTask,
    private readonly sources: ModuleSources,
    private readonly sdkMap: SourceMap,
    /** Substrings of frames that belong to the runtime rather than to the author. */
    private readonly noise: readonly string[],
  ) {}

  /** The job's own file, sent with the job; `preloaded` is its load started while the job waited. */
  async loadRoot(preloaded?: Promise<CompiledModule>): Promise<ModulePayload> {
    const { bundleRoot, relativeFileloc } = this.task;
    return this.serve(relativeFileloc, () => preloaded ?? this.sources.loadRoot(bundleRoot, relativeFileloc), relativeFileloc);
  }

  /** A module the file's code imports, resolved from the module that imports it. */
  async load(specifier: string, referrer: string | null): Promise<ModulePayload> {
    const from = referrer === null ? undefined : this.modules.get(referrer);
    if (!from) {
      this.failedImports++;
      return this.refuse(`cannot import '${specifier}' from unknown module ${String(referrer)}`);
    }
    return this.serve(specifier, () => this.sources.loadImport(this.task.bundleRoot, specifier, from.compiled, from.identifier), null);
  }

  private async serve(specifier: string, compile: () => Promise<CompiledModule>, rootName: string | null): Promise<ModulePayload> {
    try {
      const compiled = await compile();
      if (!this.loadedByPath.has(compiled.loaded.path)) this.loadedByPath.set(compiled.loaded.path, compiled.loaded);
      const known = this.modules.get(compiled.key);
      const identifier = known?.identifier ?? rootName ?? compiled.key;
      if (!known) this.modules.set(compiled.key, { compiled, identifier });
      const first = !this.sent.has(compiled.key);
      this.sent.add(compiled.key);
      return { ok: true, key: compiled.key, identifier, url: compiled.url, code: first ? compiled.code : null };
    } catch (error) {
      this.failedImports++;
      if (error instanceof ModuleLoadError) return { ok: false, stack: error.stacktrace };
      return this.refuse(`cannot load '${specifier}': ${(error as Error).message}`);
    }
  }

  /** The modules this job was served so far, the job's own file first. */
  loadedModules(): LoadedModule[] {
    return [...this.loadedByPath.values()];
  }

  /** Whether the file asked for its token: it reads Variables or Connections only with it. */
  get tokenRequested(): boolean {
    return this.token !== null;
  }

  /** The per-file token, fetched at most once per job and only when the file first asks. */
  async fileToken(): Promise<TokenPayload> {
    this.token ??= this.task.fileToken();
    try {
      return { ok: true, token: await this.token };
    } catch (error) {
      return { ok: false, error: (error as Error).message || 'the token could not be fetched' };
    }
  }

  stacktrace(raw: string, authored: boolean): string {
    const modules = new Map<string, StackModule>();
    for (const { compiled, identifier } of this.modules.values()) {
      modules.set(identifier, { map: () => compiled.map(), nameFromMap: false });
    }
    modules.set(SDK_IDENTIFIER, { map: () => this.sdkMap, nameFromMap: true });
    return authoredStack(raw, modules, [...this.noise, RUNTIME_IDENTIFIER, 'node:internal'], this.task.relativeFileloc, authored);
  }

  private refuse(why: string): ModulePayload {
    return { ok: false, stack: `Error: ${why}\n    at ${this.task.relativeFileloc}` };
  }
}
