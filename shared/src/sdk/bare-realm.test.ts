import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { serializedDag, type SerializedDag } from '../dag/model.ts';
import { serializeDag } from '../dag/serialize.ts';
import { dag as hostDag } from './dag.ts';
import { RUNTIME_GLOBAL } from './runtime.ts';
import { task as hostTask } from './task.ts';

/**
 * The parse isolate evaluates a fresh copy of the SDK in a bare `vm` context per DAG file. These
 * tests hold the SDK to that: its import graph is plain ECMAScript modules of its own, and it
 * works in a context with nothing but JS builtins, with its objects read from the host realm.
 * Modules are transpiled with TypeScript to CommonJS and linked by a tiny loader here, so the
 * test needs neither esbuild nor --experimental-vm-modules.
 */

const SDK_DIR = dirname(fileURLToPath(import.meta.url));
const SHARED_SRC = resolve(SDK_DIR, '..');
const ENTRY = join(SDK_DIR, 'entry.ts');
const DAGS_FOLDER = resolve(SHARED_SRC, '../../dags');

/** Values a browser or Node provides that a bare ECMAScript realm does not. */
const HOST_GLOBALS = new Set([
  'process', 'Buffer', 'require', 'module', 'exports', '__dirname', '__filename', 'global', 'setTimeout',
  'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'queueMicrotask', 'structuredClone', 'console',
  'fetch', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'AbortController', 'performance', 'crypto', 'atob', 'btoa',
]);

interface ModuleImport {
  specifier: string;
  /** `import type` / `export type`: erased, never loaded. */
  typeOnly: boolean;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
}

function importsOf(source: ts.SourceFile): ModuleImport[] {
  const found: ModuleImport[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      // Only a whole-declaration `import type` is erased; `import { type X }` stays as a side-effect import.
      found.push({ specifier: statement.moduleSpecifier.text, typeOnly: statement.importClause?.isTypeOnly === true });
    }
    if (ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined && ts.isStringLiteral(statement.moduleSpecifier)) {
      found.push({ specifier: statement.moduleSpecifier.text, typeOnly: statement.isTypeOnly });
    }
  }
  return found;
}

/** Every file the SDK entry loads at run time. */
function runtimeGraph(): { file: string; imports: (ModuleImport & { resolved: string })[] }[] {
  const seen = new Map<string, { file: string; imports: (ModuleImport & { resolved: string })[] }>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const imports = importsOf(parse(file)).map((i) => ({ ...i, resolved: resolve(dirname(file), i.specifier) }));
    seen.set(file, { file, imports });
    for (const i of imports) if (!i.typeOnly && i.specifier.startsWith('.')) visit(i.resolved);
  };
  visit(ENTRY);
  return [...seen.values()];
}

/** Identifiers that read a host global (property names and declarations are not reads). */
function hostGlobalReads(source: ts.SourceFile): string[] {
  const reads: string[] = [];
  const walk = (node: ts.Node) => {
    if (ts.isIdentifier(node) && HOST_GLOBALS.has(node.text)) {
      const parent = node.parent;
      const isName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        ((ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) || ts.isMethodDeclaration(parent)) && parent.name === node);
      if (!isName) reads.push(`${node.text} at line ${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) reads.push('dynamic import()');
    ts.forEachChild(node, walk);
  };
  walk(source);
  return reads;
}

/** A fresh `vm` context with only JS builtins, and a CommonJS loader for TypeScript modules. */
class BareRealm {
  readonly context = vm.createContext({});
  private readonly cache = new Map<string, { exports: Record<string, unknown> }>();

  constructor(private readonly aliases: Record<string, string> = { '@dagproc/sdk': ENTRY }) {}

  /** Loads a module whose top level does not await (the SDK, helpers). */
  require(file: string): Record<string, unknown> {
    const cached = this.cache.get(file);
    if (cached !== undefined) return cached.exports;
    const module = { exports: vm.runInContext('({})', this.context) as Record<string, unknown> };
    this.cache.set(file, module);
    this.compile(file, false)(module.exports, (s: string) => this.require(this.resolve(file, s)), module);
    return module.exports;
  }

  /** Evaluates a DAG file, which may use top-level await, and returns its exports. */
  async evaluate(file: string): Promise<Record<string, unknown>> {
    const module = { exports: vm.runInContext('({})', this.context) as Record<string, unknown> };
    await this.compile(file, true)(module.exports, (s: string) => this.require(this.resolve(file, s)), module);
    return module.exports;
  }

  run<T>(code: string): T {
    return vm.runInContext(code, this.context) as T;
  }

  private resolve(from: string, specifier: string): string {
    const alias = this.aliases[specifier];
    if (alias !== undefined) return alias;
    if (!specifier.startsWith('.')) throw new Error(`${relative(SHARED_SRC, from)} imports ${specifier}, which a bare realm cannot load`);
    const file = resolve(dirname(from), specifier);
    if (!existsSync(file)) throw new Error(`${from} imports missing ${specifier}`);
    return file;
  }

  private compile(file: string, async: boolean): (...args: unknown[]) => unknown {
    const wrapper = `(${async ? 'async ' : ''}function (exports, require, module) {${transpile(file)}\n})`;
    return vm.runInContext(wrapper, this.context, { filename: file }) as (...args: unknown[]) => unknown;
  }
}

const transpiled = new Map<string, string>();

function transpile(file: string): string {
  let code = transpiled.get(file);
  if (code === undefined) {
    code = ts.transpileModule(readFileSync(file, 'utf8'), {
      // Named .ts so TypeScript emits CommonJS for .mjs/.mts files too.
      fileName: file.replace(/\.m?[jt]s$/, '.ts'),
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    transpiled.set(file, code);
  }
  return code;
}

interface SdkInRealm {
  dag: (options: unknown) => object;
  __dagprocInternal: {
    collectDags(namespace: unknown): SerializedDag[];
    findDagCallback(namespace: unknown, dagId: string, kind: string): ((ctx: unknown) => Promise<unknown>) | undefined;
  };
}

describe('the SDK in the parse isolate', () => {
  it('loads only its own plain modules at run time: no node:, no npm, no zod-backed model', () => {
    const problems: string[] = [];
    const allowed = [join(SHARED_SRC, 'sdk') + sep, join(SHARED_SRC, 'dag') + sep];
    const zodBacked = [join(SHARED_SRC, 'dag', 'model.ts'), join(SHARED_SRC, 'dag', 'canonical.ts')];
    for (const { file, imports } of runtimeGraph()) {
      for (const i of imports.filter((x) => !x.typeOnly)) {
        const where = `${relative(SHARED_SRC, file)} imports '${i.specifier}'`;
        if (!i.specifier.startsWith('.')) problems.push(`${where}: not a relative module`);
        else if (!allowed.some((dir) => i.resolved.startsWith(dir))) problems.push(`${where}: outside sdk/ and dag/`);
        else if (zodBacked.includes(i.resolved)) problems.push(`${where}: pulls in zod or node:crypto (use import type)`);
        else if (i.resolved.endsWith('.test.ts')) problems.push(`${where}: a test`);
      }
    }
    expect(problems).toEqual([]);
    expect(runtimeGraph().length).toBeGreaterThan(5);
  });

  it('reads no host globals (process, Buffer, require, timers, console, fetch ...)', () => {
    const reads = runtimeGraph().flatMap(({ file }) => hostGlobalReads(parse(file)).map((r) => `${relative(SHARED_SRC, file)}: ${r}`));
    expect(reads).toEqual([]);
  });

  it('evaluates in a bare context, and its DAGs serialize there exactly as in the host', () => {
    const realm = new BareRealm();
    expect(realm.run('typeof process + typeof Buffer + typeof require')).toBe('undefinedundefinedundefined');
    const sdk = realm.require(ENTRY) as unknown as SdkInRealm;
    realm.context.sdk = sdk;
    const options = `({
      dagId: 'cross_realm', schedule: '0 6 * * MON', startDate: new Date(Date.UTC(2026, 0, 1)),
      tags: ['b', 'a'], params: { when: new Date(Date.UTC(2026, 0, 2)), nested: { z: 1, y: [1, 2] } },
      defaultArgs: { retries: 2 }, onFailure: async () => 'ran',
      tasks: [sdk.task({ taskId: 'load', upstream: ['extract'] }), sdk.task({ taskId: 'extract' })],
    })`;
    const d = realm.run<object>(`sdk.dag(${options})`);
    // The host recognises the DAG by its registered symbol, though `Object` differs between realms.
    expect((d as Record<symbol, unknown>)[Symbol.for('dagproc.dag')]).toBe(true);
    expect(d instanceof Object).toBe(false);

    const [serialized] = sdk.__dagprocInternal.collectDags({ default: d });
    expect(serializedDag.parse(serialized)).toEqual(serialized);
    const inHost = serializeDag(
      hostDag({
        dagId: 'cross_realm', schedule: '0 6 * * MON', startDate: new Date(Date.UTC(2026, 0, 1)),
        tags: ['b', 'a'], params: { when: new Date(Date.UTC(2026, 0, 2)), nested: { z: 1, y: [1, 2] } },
        defaultArgs: { retries: 2 }, onFailure: async () => 'ran',
        tasks: [hostTask({ taskId: 'load', upstream: ['extract'] }), hostTask({ taskId: 'extract' })],
      }),
    );
    expect(JSON.stringify(serialized)).toBe(JSON.stringify(inHost));
  });

  it('throws errors the host can tell apart by name', () => {
    const realm = new BareRealm();
    realm.context.sdk = realm.require(ENTRY);
    const error = realm.run<{ name: string; message: string; dagId: string }>(
      `(() => { try { sdk.dag({ dagId: 'x', shedule: '@daily' }); } catch (e) { return e; } })()`,
    );
    expect(error instanceof Error).toBe(false);
    expect(error.name).toBe('DagValidationError');
    expect(error.dagId).toBe('x');
    expect(error.message).toBe("unknown option 'shedule' for dag 'x': did you mean 'schedule'?");
  });

  it('reads Variables through a runtime the host installs on the context', async () => {
    const realm = new BareRealm();
    realm.context.sdk = realm.require(ENTRY);
    realm.context[RUNTIME_GLOBAL] = { getVariable: async (key: string) => (key === 'target' ? 'prod' : undefined), getConnection: async () => undefined };
    await expect(realm.run<Promise<unknown>>(`sdk.Variable.get('target')`)).resolves.toBe('prod');
    await expect(realm.run<Promise<unknown>>(`sdk.Variable.get('other', { default: 'dev' })`)).resolves.toBe('dev');
    await expect(realm.run<Promise<unknown>>(`sdk.Connection.get('db')`)).rejects.toMatchObject({ name: 'ConnectionNotFoundError' });
  });
});

describe('the example bundle dags/', () => {
  /** Each file in a fresh realm with its own SDK copy, as the parse isolate runs it. */
  async function parseFile(relativeFileloc: string, variables: Record<string, string> = {}) {
    const realm = new BareRealm();
    realm.context[RUNTIME_GLOBAL] = { getVariable: async (key: string) => variables[key], getConnection: async () => undefined };
    const namespace = await realm.evaluate(join(DAGS_FOLDER, relativeFileloc));
    const sdk = realm.require(ENTRY) as unknown as SdkInRealm;
    const dags = sdk.__dagprocInternal.collectDags(namespace);
    for (const d of dags) expect(serializedDag.parse(d)).toEqual(d);
    return { dags, namespace, sdk };
  }

  it.each([
    ['example_etl.ts', ['example_etl']],
    ['warehouse.ts', ['warehouse_maintenance', 'warehouse_sync_apac', 'warehouse_sync_eu', 'warehouse_sync_us']],
    ['alerting.ts', ['billing_invoices']],
    ['reports.mjs', ['weekly_kpi_report']],
    ['common/etl.ts', []],
    ['scratch/sandbox.ts', ['scratch_sandbox']],
  ])('%s parses to %j', async (file, dagIds) => {
    const { dags } = await parseFile(file);
    expect(dags.map((d) => d.dagId)).toEqual(dagIds);
  });

  it('parses to the same bytes every time', async () => {
    for (const file of ['example_etl.ts', 'warehouse.ts', 'alerting.ts', 'reports.mjs']) {
      const first = JSON.stringify((await parseFile(file)).dags);
      expect(JSON.stringify((await parseFile(file)).dags)).toBe(first);
    }
  });

  it('example_etl reads its target Variable at parse time, with a default', async () => {
    expect((await parseFile('example_etl.ts')).dags[0]!.tags).toEqual(['dev', 'etl']);
    const [d] = (await parseFile('example_etl.ts', { etl_target: 'prod' })).dags;
    expect(d!.tags).toEqual(['etl', 'prod']);
    expect(d!.tasks.find((t) => t.taskId === 'load_orders')).toMatchObject({ retries: 5, owner: 'data', retryDelaySeconds: 300 });
  });

  it("alerting's callbacks run in the realm and finish without a webhook configured", async () => {
    const { namespace, sdk } = await parseFile('alerting.ts');
    const onFailure = sdk.__dagprocInternal.findDagCallback(namespace, 'billing_invoices', 'failure');
    expect(typeof onFailure).toBe('function');
    await expect(onFailure!({ dagId: 'billing_invoices', runId: 'r1', callbackType: 'failure', msg: 'boom', context: {} })).resolves.toBeUndefined();
  });

  it('.dagprocignore keeps scratch/ out', () => {
    const patterns = readFileSync(join(DAGS_FOLDER, '.dagprocignore'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(patterns).toEqual(['scratch/']);
  });
});
