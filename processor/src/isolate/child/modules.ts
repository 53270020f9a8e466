import vm from 'node:vm';
import path from 'node:path';
import { isBuiltin } from 'node:module';
import type { JobScope } from './scope.ts';
import { SDK_IDENTIFIER, SDK_SPECIFIER } from '../identifiers.ts';
import type { ModulePayload } from '../protocol.ts';

/**
 * Errors the parent already wrote as the author should read them (a syntax error, an import
 * that cannot be resolved): their positions are authored ones and must not be mapped again.
 */
export const AUTHORED_STACK = Symbol('dagproc.authoredStack');

/**
 * The SDK, compiled once per process as a script that returns its exports, and run afresh in
 * each job's context. One script shared by every context shares V8's compiled functions too, so
 * a file pays for a new copy of the SDK's state, not for compiling the SDK again.
 */
export class SdkSource {
  private readonly script: vm.Script;
  private exportNames: string[] | null = null;

  /** `wrapperLines`: lines the wrapper adds before the bundle's own first line. */
  constructor(code: string, wrapperLines: number) {
    this.script = new vm.Script(code, { filename: SDK_IDENTIFIER, lineOffset: -wrapperLines });
  }

  instantiate(context: vm.Context): vm.SyntheticModule {
    const sdkExports = (this.script.runInContext(context) as () => Record<string, unknown>)();
    const names = (this.exportNames ??= Object.keys(sdkExports));
    return new vm.SyntheticModule(
      names,
      function () {
        for (const name of names) this.setExport(name, sdkExports[name]);
      },
      { identifier: SDK_IDENTIFIER, context },
    );
  }
}

/**
 * Links one job's module graph inside its context: `@dagproc/sdk` to a fresh SDK instance,
 * builtins to the process's own (the permission model, not this, refuses dangerous use), and
 * everything else to what the parent resolved inside the bundle and transformed.
 */
export class ModuleLoader {
  private readonly byKey = new Map<string, vm.SourceTextModule>();
  private readonly keyOf = new WeakMap<vm.Module, string>();
  private readonly builtins = new Map<string, vm.SyntheticModule>();
  private sdk: vm.SyntheticModule | null = null;

  constructor(
    private readonly context: vm.Context,
    private readonly scope: JobScope,
    private readonly sdkSource: SdkSource,
    /** Told of every builtin the job's code imports, by its `node:` name. */
    private readonly onBuiltin: (name: string) => void = () => {},
  ) {}

  readonly linker = (specifier: string, referencing: vm.Module): Promise<vm.Module> =>
    this.resolve(specifier, this.keyOf.get(referencing) ?? null);

  /** The job's own file (sent with the job), not yet linked. */
  root(): vm.SourceTextModule {
    return this.fromReply(this.scope.message.root);
  }

  /** The SDK instance this job's files share, created if no file imported it. */
  async sdkModule(): Promise<vm.SyntheticModule> {
    const sdk = await this.linkedSdk();
    if (sdk.status === 'linked') await sdk.evaluate();
    return sdk;
  }

  private async linkedSdk(): Promise<vm.SyntheticModule> {
    if (!this.sdk) {
      this.sdk = this.sdkSource.instantiate(this.context);
      await this.sdk.link(() => {
        throw new Error('a synthetic module imports nothing');
      });
    }
    return this.sdk;
  }

  private async resolve(specifier: string, referrer: string | null): Promise<vm.Module> {
    if (specifier === SDK_SPECIFIER) return this.linkedSdk();
    if (isBuiltin(specifier)) return this.builtin(specifier);
    if (referrer === null) throw new Error(`cannot import '${specifier}' from a module the processor did not load`);
    return this.fromParent(specifier, referrer);
  }

  private async fromParent(specifier: string, referrer: string): Promise<vm.Module> {
    const reply = await this.scope.request({ t: 'load', specifier, referrer });
    if (reply.t !== 'module') throw new Error('the processor answered a module request with something else');
    return this.fromReply(reply);
  }

  private fromReply(reply: ModulePayload): vm.SourceTextModule {
    if (!reply.ok) {
      const error = new Error(reply.stack.split('\n')[0]);
      error.stack = reply.stack;
      Object.defineProperty(error, AUTHORED_STACK, { value: true });
      throw error;
    }
    const known = this.byKey.get(reply.key);
    if (known) return known;
    if (reply.code === null) throw new Error(`the processor sent no code for ${reply.key}`);
    const { url } = reply;
    const filename = new URL(url).pathname;
    const module = new vm.SourceTextModule(reply.code, {
      identifier: reply.identifier,
      context: this.context,
      initializeImportMeta: (meta) => {
        meta.url = url;
        Object.assign(meta, { filename, dirname: path.dirname(filename) });
      },
      importModuleDynamically: (async (spec: string, importer: vm.Module) => {
        const imported = await this.resolve(spec, this.keyOf.get(importer) ?? null);
        if (imported.status === 'unlinked') await imported.link(this.linker);
        if (imported.status === 'linked') await imported.evaluate();
        if (imported.status === 'errored') throw imported.error;
        return imported;
      }) as unknown as vm.SourceTextModuleOptions['importModuleDynamically'],
    });
    this.byKey.set(reply.key, module);
    this.keyOf.set(module, reply.key);
    return module;
  }

  private builtin(specifier: string): vm.SyntheticModule {
    const name = specifier.startsWith('node:') ? specifier : `node:${specifier}`;
    this.onBuiltin(name);
    const known = this.builtins.get(name);
    if (known) return known;
    let exports: Record<string, unknown> | undefined;
    try {
      exports = process.getBuiltinModule(name) as Record<string, unknown> | undefined;
    } catch (error) {
      throw new Error(`cannot import '${specifier}': ${(error as Error).message}`);
    }
    // Builtins this process was started without (node:sqlite, where its flag turns it off).
    if (!exports) throw new Error(`cannot import '${specifier}': not available to DAG files`);
    const names = Object.keys(exports).filter((key) => key !== 'default');
    const module = new vm.SyntheticModule(
      ['default', ...names],
      function () {
        this.setExport('default', exports);
        for (const key of names) this.setExport(key, exports[key]);
      },
      { identifier: name, context: this.context },
    );
    this.builtins.set(name, module);
    return module;
  }
}
