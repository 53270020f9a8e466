import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsolatePool } from './index.ts';
import { dagReporting, taskFor, tempBundle, testPoolOptions, type TempBundle } from './testing.ts';

// One pool for the file: the processes are reused across tests, as the processor reuses them.
let pool: IsolatePool;
let bundle: TempBundle;
let outside: TempBundle;

const pidDag = (dagId: string) => dagReporting(dagId, '[String(process.pid)]', "import process from 'node:process';");

beforeAll(async () => {
  outside = await tempBundle('outside', { 'secret.ts': 'export const secret = 1;\n' });
  bundle = await tempBundle('main', {
    'dags/valid.ts': [
      "import { dag, task } from '@dagproc/sdk';",
      "import { owner } from './helpers/owner';",
      "import path from 'path';",
      "import { region } from './lib';",
      "import { retries } from './helpers/config.js';",
      "import settings from './settings.json';",
      'interface Settings { env: string }',
      'const env: string = await Promise.resolve((settings as Settings).env);',
      'export default dag({',
      "  dagId: 'valid_ts',",
      "  schedule: '@daily',",
      "  startDate: '2026-01-01',",
      '  tags: [env, owner, path.basename(region)],',
      "  tasks: [task({ taskId: 'extract', retries }), task({ taskId: 'load', upstream: ['extract'] })],",
      '});',
    ].join('\n'),
    'dags/helpers/owner.ts': "export const owner: string = 'team-data';\n",
    'dags/helpers/config.ts': 'export const retries: number = 2;\n',
    'dags/lib/index.ts': "export const region = 'eu';\n",
    'dags/settings.json': '{ "env": "prod" }\n',
    'dags/dynamic.ts': dagReporting(
      'dynamic',
      '[owner, settings.env, String(again === first)]',
      [
        "import settings from './settings.json' with { type: 'json' };",
        "const first = await import('./helpers/owner.ts');",
        "const again = await import('./helpers/owner');",
        'const { owner } = first;',
      ].join('\n'),
    ),
    'dags/plain.mjs': dagReporting('plain_mjs', "['mjs']", 'await null;'),
    'dags/legacy/package.json': '{ "type": "commonjs" }\n',
    'dags/legacy/old.js': dagReporting('legacy_js', "[typeof module]", 'await null;'),
    'dags/multi.ts': [
      "import { dag } from '@dagproc/sdk';",
      "export default dag({ dagId: 'multi_a' });",
      "export const second = dag({ dagId: 'multi_b' });",
      "export const more = [dag({ dagId: 'multi_c' }), dag({ dagId: 'multi_d' })];",
    ].join('\n'),
    'dags/throws.ts': [
      "import { dag } from '@dagproc/sdk';",
      'type Config = { retries: number };',
      '',
      'function check(config: Config): void {',
      '  if (config.retries > 1) {',
      "    throw new Error('too many retries: ' + config.retries);",
      '  }',
      '}',
      'check({ retries: 3 });',
      "export default dag({ dagId: 'never' });",
    ].join('\n'),
    'dags/throws-in-helper.ts': [
      "import { dag } from '@dagproc/sdk';",
      "import { explode } from './helpers/explode.ts';",
      'explode();',
      "export default dag({ dagId: 'never' });",
    ].join('\n'),
    'dags/helpers/explode.ts': ['// a helper', 'export function explode(): never {', "  throw new TypeError('helper exploded');", '}'].join('\n'),
    'dags/syntax.ts': ["import { dag } from '@dagproc/sdk';", 'const x: number = 1', 'const y = (x +;', "export default dag({ dagId: 'never' });"].join('\n'),
    'dags/cycle.ts': [
      "import { dag, task } from '@dagproc/sdk';",
      'export default dag({',
      "  dagId: 'cyclic',",
      "  tasks: [task({ taskId: 'a', upstream: ['b'] }), task({ taskId: 'b', upstream: ['a'] })],",
      '});',
    ].join('\n'),
    'dags/duplicate.ts': ["import { dag } from '@dagproc/sdk';", "export const a = dag({ dagId: 'same' });", "export const b = dag({ dagId: 'same' });"].join('\n'),
    'dags/bare.ts': ["import { dag } from '@dagproc/sdk';", "import _ from 'lodash';", "export default dag({ dagId: _.camelCase('never') });"].join('\n'),
    'dags/missing-import.ts': "import { nothing } from './helpers/nothing';\nexport default nothing;\n",
    'dags/loop.ts': 'while (true) {}\n',
    'dags/hog.ts': ['const hoard: unknown[] = [];', 'for (;;) hoard.push(new Array(100_000).fill(hoard.length));'].join('\n'),
    // Buffers live outside the V8 heap, so only the RSS watchdog stops this one.
    'dags/buffer-hog.ts': ["import { Buffer } from 'node:buffer';", 'const hoard: Buffer[] = [];', 'while (hoard.length < 48) hoard.push(Buffer.alloc(16 * 1024 * 1024, 1));', 'for (;;) {}'].join('\n'),
    'dags/abort.ts': ["import process from 'node:process';", 'process.abort();'].join('\n'),
    'dags/exit.ts': ["import process from 'node:process';", 'process.exit(3);'].join('\n'),
    'dags/rejects.ts': ["import { dag } from '@dagproc/sdk';", "Promise.reject(new Error('nobody awaited me'));", "export default dag({ dagId: 'never' });"].join('\n'),
    'dags/timer-throws.ts': ["setTimeout(() => { throw new Error('thrown in a timer'); }, 10);", 'await new Promise(() => {});'].join('\n'),
    'dags/not-a-dag.txt': 'hello',
    'dags/pid.ts': pidDag('pid'),
    'dags/leak-set.ts': [
      "import process from 'node:process';",
      "import { dag } from '@dagproc/sdk';",
      '(globalThis as any).leaked = true;',
      '(Object.prototype as any).polluted = true;',
      "(Array.prototype as any).poisoned = true;",
      "export default dag({ dagId: 'leak_set', tags: [String(process.pid)] });",
    ].join('\n'),
    'dags/leak-check.ts': dagReporting(
      'leak_check',
      "[String(process.pid), 'leaked:' + typeof (globalThis as any).leaked, 'polluted:' + typeof ({} as any).polluted, 'poisoned:' + String('poisoned' in [])]",
      "import process from 'node:process';",
    ),
    'dags/stray-interval.ts': dagReporting(
      'stray',
      '[String(process.pid)]',
      "import process from 'node:process';\nimport { setInterval as hostInterval } from 'node:timers';\nhostInterval(() => { throw new Error('stray interval'); }, 5);\nsetInterval(() => { throw new Error('context interval'); }, 5);",
    ),
    'dags/late-io.ts': dagReporting(
      'late_io',
      '[String(process.pid)]',
      "import process from 'node:process';\nimport fs from 'node:fs';\nfs.readFile(new URL(import.meta.url), () => { throw new Error('late I/O callback'); });",
    ),
    ...Object.fromEntries(
      [0, 1, 2, 3, 4].map((i) => [
        `dags/sleep${i}.ts`,
        dagReporting(`sleep${i}`, "[String(start), 'end:' + String(Date.now())]", 'const start = Date.now();\nawait new Promise((r) => setTimeout(r, 150));'),
      ]),
    ),
  });
  // The relative path from dags/ to the other temp folder, to import a file outside the bundle.
  await bundle.write('dags/escape-import.ts', `import { secret } from '${await relativeTo(bundle.root + '/dags', outside.root + '/secret.ts')}';\nexport default secret;\n`);
  pool = new IsolatePool(testPoolOptions());
  await pool.start();
});

afterAll(async () => {
  await pool?.close();
  await bundle?.remove();
  await outside?.remove();
});

async function relativeTo(from: string, to: string): Promise<string> {
  const path = await import('node:path');
  return path.relative(from, to);
}

const parse = (file: string) => pool.parse(taskFor(bundle, file));

describe('parsing valid files', () => {
  it('parses a TypeScript file with top-level await, relative imports, an index file, a .js-named .ts helper and JSON', async () => {
    const outcome = await parse('dags/valid.ts');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags).toHaveLength(1);
    const [parsed] = outcome.dags;
    expect(parsed!.dagId).toBe('valid_ts');
    expect(parsed!.tags).toEqual(['eu', 'prod', 'team-data']);
    expect(parsed!.tasks.map((t) => [t.taskId, t.retries])).toEqual([['extract', 2], ['load', 0]]);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('loads dynamic imports (one module instance per file) and JSON imported with attributes', async () => {
    const outcome = await parse('dags/dynamic.ts');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags[0]!.tags).toEqual(['prod', 'team-data', 'true']);
  });

  it('parses .mjs files', async () => {
    const outcome = await parse('dags/plain.mjs');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags.map((d) => d.dagId)).toEqual(['plain_mjs']);
  });

  it('parses a .js file as an ES module even beside a package.json saying commonjs', async () => {
    const outcome = await parse('dags/legacy/old.js');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags[0]!.tags).toEqual(['undefined']);
  });

  it('collects every DAG of a multi-DAG file', async () => {
    const outcome = await parse('dags/multi.ts');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags.map((d) => d.dagId)).toEqual(['multi_a', 'multi_b', 'multi_c', 'multi_d']);
  });
});

describe('import errors', () => {
  it('reports a thrown error with the authored line and column of the file', async () => {
    const { dags, importError } = await parse('dags/throws.ts');
    expect(dags).toEqual([]);
    expect(importError!.stacktrace).toMatch(/^Error: too many retries: 3\n/);
    expect(importError!.stacktrace).toContain('at check (dags/throws.ts:6:11)');
    expect(importError!.stacktrace).toContain('at dags/throws.ts:9:1');
    expect(importError!.stacktrace).not.toMatch(/node:internal|dagproc-isolate|child\.mjs/);
  });

  it('names the helper and the importing file when a helper throws', async () => {
    const { importError } = await parse('dags/throws-in-helper.ts');
    expect(importError!.stacktrace).toMatch(/^TypeError: helper exploded\n/);
    expect(importError!.stacktrace).toContain('at explode (dags/helpers/explode.ts:3:9)');
    expect(importError!.stacktrace).toContain('at dags/throws-in-helper.ts:3:1');
  });

  it('reports a syntax error at its authored position', async () => {
    const { importError } = await parse('dags/syntax.ts');
    expect(importError!.stacktrace).toMatch(/^SyntaxError: Unexpected "\;"\n    at dags\/syntax\.ts:3:15$/);
  });

  it('turns an invalid DAG (a cycle) into an import error from the SDK', async () => {
    const { dags, importError } = await parse('dags/cycle.ts');
    expect(dags).toEqual([]);
    expect(importError!.stacktrace).toMatch(/^DagValidationError: .*cycl/i);
    expect(importError!.stacktrace).toContain('dags/cycle.ts:2:16');
  });

  it("maps the SDK's own frames to the SDK's sources", async () => {
    const { importError } = await parse('dags/cycle.ts');
    const frames = [...importError!.stacktrace.matchAll(/^    at (?:(\S+) \()?(.+?):(\d+):(\d+)\)?$/gm)].map((m) => ({
      fn: m[1],
      file: m[2]!,
      line: Number(m[3]),
    }));
    expect(frames.some((f) => f.file === 'dagproc:sdk')).toBe(false);
    const sdkDir = fileURLToPath(new URL('../../../shared/src/sdk/', import.meta.url));
    // Each SDK frame's line calls the function of the frame above it: the positions are right.
    for (let i = 1; i < frames.length; i++) {
      const { file, line } = frames[i]!;
      const callee = frames[i - 1]!.fn?.replace(/^Object\./, '');
      if (!file.startsWith('@dagproc/sdk/') || !callee) continue;
      const source = readFileSync(sdkDir + file.slice('@dagproc/sdk/'.length), 'utf8').split('\n');
      expect(source[line - 1]).toContain(`${callee}(`);
    }
    expect(frames.filter((f) => f.file.startsWith('@dagproc/sdk/')).length).toBeGreaterThan(1);
  });

  it('turns two DAGs with one dagId into an import error', async () => {
    const { importError } = await parse('dags/duplicate.ts');
    expect(importError!.stacktrace).toMatch(/^DuplicateDagIdError: dag id 'same'/);
    expect(importError!.stacktrace).toContain('dags/duplicate.ts');
  });

  it('refuses bare package imports, naming what a DAG file may import and where', async () => {
    const { importError } = await parse('dags/bare.ts');
    expect(importError!.stacktrace).toBe(
      "Error: cannot import 'lodash': a DAG file may import relative files, node: builtins and @dagproc/sdk\n    at dags/bare.ts:2:15",
    );
  });

  it('refuses an import that resolves outside the bundle, naming it', async () => {
    const { importError } = await parse('dags/escape-import.ts');
    expect(importError!.stacktrace).toContain(`it resolves to ${outside.root}/secret.ts, outside the bundle`);
    expect(importError!.stacktrace).toContain('at dags/escape-import.ts:1:');
  });

  it('names a relative import that does not exist', async () => {
    const { importError } = await parse('dags/missing-import.ts');
    expect(importError!.stacktrace).toMatch(/^Error: cannot import '\.\/helpers\/nothing' from dags\/missing-import\.ts: no such file/);
  });

  it('refuses a file that is not a DAG file type', async () => {
    const { importError } = await parse('dags/not-a-dag.txt');
    expect(importError!.stacktrace).toMatch(/^Error: cannot load dags\/not-a-dag\.txt: a DAG file is a \.ts, \.mts, \.js, \.mjs file/);
  });

  it('reports an unhandled rejection of the file as Node would crash on it', async () => {
    const { importError } = await parse('dags/rejects.ts');
    expect(importError!.stacktrace).toMatch(/^Error: nobody awaited me\n    at dags\/rejects\.ts:2:16/);
  });

  it('reports an exception thrown in a timer at once, without waiting for the timeout', async () => {
    const outcome = await parse('dags/timer-throws.ts');
    expect(outcome.importError!.stacktrace).toMatch(/^Error: thrown in a timer\n    at .*dags\/timer-throws\.ts:1:/);
    expect(outcome.durationMs).toBeLessThan(1500);
  });
});

describe('files that take their process down', () => {
  it('kills an endless loop at the timeout, and the next file still parses', async () => {
    const { dags, importError } = await parse('dags/loop.ts');
    expect(dags).toEqual([]);
    expect(importError!.stacktrace).toBe('ParseTimeout: file took longer than 2 s to parse; its process was killed\n    at dags/loop.ts');
    expect((await parse('dags/valid.ts')).importError).toBeNull();
  });

  it('turns running out of memory into an import error, and the pool recovers', async () => {
    const { importError } = await parse('dags/hog.ts');
    expect(importError!.stacktrace).toMatch(/^MemoryLimitExceeded: file ran out of memory \(heap limit 64 MB\); its process was killed\n    at dags\/hog\.ts$/);
    expect((await parse('dags/valid.ts')).importError).toBeNull();
  });

  it('kills a file whose memory outside the heap passes the limit, well before the timeout', async () => {
    const outcome = await parse('dags/buffer-hog.ts');
    expect(outcome.importError!.stacktrace).toMatch(/^MemoryLimitExceeded: the process parsing the file reached \d+ MB of memory \(limit 64 MB, plus headroom\); it was killed\n    at dags\/buffer-hog\.ts$/);
    expect(outcome.durationMs).toBeLessThan(1900);
  });

  it('turns a crashed process into an import error naming the signal', async () => {
    const { importError } = await parse('dags/abort.ts');
    expect(importError!.stacktrace).toMatch(/^ProcessCrashed: the process parsing the file was killed by SIGABRT/);
    expect(importError!.stacktrace).toMatch(/\n    at dags\/abort\.ts$/);
  });

  it('turns process.exit into an import error, and the pool recovers', async () => {
    const { importError } = await parse('dags/exit.ts');
    expect(importError!.stacktrace).toMatch(/^ProcessExited: the process parsing the file exited with code 3 before it finished/);
    expect(importError!.stacktrace).toContain('at dags/exit.ts');
    expect((await parse('dags/valid.ts')).importError).toBeNull();
  });
});

describe('pooled processes', () => {
  it('runs each file in a fresh context: globals and prototypes a file changes are gone for the next', async () => {
    const single = new IsolatePool(testPoolOptions({ size: 1 }));
    await single.start();
    try {
      const set = await single.parse(taskFor(bundle, 'dags/leak-set.ts'));
      const check = await single.parse(taskFor(bundle, 'dags/leak-check.ts'));
      expect(set.importError).toBeNull();
      expect(check.importError).toBeNull();
      const [setPid] = set.dags[0]!.tags;
      // Same process, so only the fresh context explains the clean globals.
      expect(check.dags[0]!.tags).toEqual(['leaked:undefined', 'poisoned:false', 'polluted:undefined', setPid].sort());
    } finally {
      await single.close();
    }
  });

  it('retires a process whose file left timers running, so they never fire during the next file', async () => {
    const single = new IsolatePool(testPoolOptions({ size: 1 }));
    await single.start();
    try {
      const stray = await single.parse(taskFor(bundle, 'dags/stray-interval.ts'));
      expect(stray.importError).toBeNull();
      const next = await single.parse(taskFor(bundle, 'dags/pid.ts'));
      expect(next.importError).toBeNull();
      expect(next.dags[0]!.tags).not.toEqual(stray.dags[0]!.tags);
      const again = await single.parse(taskFor(bundle, 'dags/pid.ts'));
      expect(again.dags[0]!.tags).toEqual(next.dags[0]!.tags);
    } finally {
      await single.close();
    }
  });

  it('retires a process whose file left I/O pending, so its callback cannot fail the next file', async () => {
    const single = new IsolatePool(testPoolOptions({ size: 1 }));
    await single.start();
    try {
      const late = await single.parse(taskFor(bundle, 'dags/late-io.ts'));
      expect(late.importError).toBeNull();
      const next = await single.parse(taskFor(bundle, 'dags/pid.ts'));
      expect(next.importError).toBeNull();
      expect(next.dags[0]!.tags).not.toEqual(late.dags[0]!.tags);
    } finally {
      await single.close();
    }
  });

  it('ends a process left idle, and starts another when work comes', async () => {
    const single = new IsolatePool(testPoolOptions({ size: 1, idleRetireMs: 300 }));
    await single.start();
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const first = await single.parse(taskFor(bundle, 'dags/pid.ts'));
      const again = await single.parse(taskFor(bundle, 'dags/pid.ts'));
      expect(again.dags[0]!.tags).toEqual(first.dags[0]!.tags); // busy: kept
      const pid = Number(first.dags[0]!.tags[0]);
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(alive(pid)).toBe(false);
      const later = await single.parse(taskFor(bundle, 'dags/pid.ts'));
      expect(later.importError).toBeNull();
      expect(later.dags[0]!.tags).not.toEqual(first.dags[0]!.tags);
    } finally {
      await single.close();
    }
  });

  it('runs at most `size` jobs at once and starts waiting jobs in FIFO order', async () => {
    const outcomes = await Promise.all([0, 1, 2, 3, 4].map((i) => parse(`dags/sleep${i}.ts`)));
    const spans = outcomes.map((o) => {
      expect(o.importError).toBeNull();
      const tags = o.dags[0]!.tags;
      return { start: Number(tags.find((t) => !t.startsWith('end:'))), end: Number(tags.find((t) => t.startsWith('end:'))!.slice(4)) };
    });
    for (const { start } of spans) {
      const concurrent = spans.filter((s) => s.start <= start && s.end > start).length;
      expect(concurrent).toBeLessThanOrEqual(2);
    }
    for (let i = 3; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.start);
  });
});
