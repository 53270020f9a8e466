import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@dagproc/shared/log';
import { IsolatePool } from './index.ts';
import { dagReporting, taskFor, tempBundle, testPoolOptions, type TempBundle } from './testing.ts';

const TOKEN = 'processor-token-must-not-leak';
const DENIED = /Access to this API has been restricted|ERR_ACCESS_DENIED/;

let pool: IsolatePool;
let hostile: TempBundle;
let other: TempBundle;
let linked: TempBundle;
let secretsDir: string;
let tokenPath: string;
const logLines: string[] = [];

/** A DAG file that runs `body` (with fs, process and os imported) and reports `result` as its one tag. */
const probe = (dagId: string, body: string) =>
  dagReporting(dagId, '[String(result)]', `import fs from 'node:fs';\nimport os from 'node:os';\nimport process from 'node:process';\n${body}`);

beforeAll(async () => {
  secretsDir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'dagproc-secrets-')));
  tokenPath = path.join(secretsDir, 'token');
  await writeFile(tokenPath, TOKEN);
  other = await tempBundle('other', {
    'secret.txt': 'other-bundle-secret',
    'dags/own-secret.ts': probe('own_secret', "const result = fs.readFileSync(new URL('../secret.txt', import.meta.url), 'utf8');"),
  });
  hostile = await tempBundle('hostile', {
    'dags/data.txt': 'bundle data',
    'dags/own-data.ts': probe('own_data', "const result = fs.readFileSync(new URL('./data.txt', import.meta.url), 'utf8');"),
    'dags/token-file.ts': probe('token', `const result = fs.readFileSync(${JSON.stringify(tokenPath)}, 'utf8');`),
    'dags/parent-environ.ts': probe('penv', "const result = fs.readFileSync(`/proc/${process.ppid}/environ`, 'utf8');"),
    'dags/self-environ.ts': probe('senv', "const result = fs.readFileSync('/proc/self/environ', 'utf8');"),
    'dags/other-bundle.ts': probe('other', `const result = fs.readFileSync(${JSON.stringify(path.join(other.root, 'secret.txt'))}, 'utf8');`),
    'dags/write.ts': probe('write', "fs.writeFileSync(new URL('./written.txt', import.meta.url), 'x');\nconst result = 'written';"),
    'dags/write-tmp.ts': probe('write_tmp', `fs.writeFileSync(${JSON.stringify(path.join(secretsDir, 'dropped'))}, 'x');\nconst result = 'written';`),
    'dags/spawn.ts': probe('spawn', "import { spawnSync } from 'node:child_process';\nconst result = spawnSync('/bin/sh', ['-c', 'echo pwned']).stdout;"),
    'dags/worker.ts': probe('worker', "import { Worker } from 'node:worker_threads';\nconst result = new Worker('1', { eval: true });"),
    'dags/addon.ts': probe('addon', "const result = process.dlopen({ exports: {} }, '/nonexistent/addon.node');"),
    'dags/env.ts': probe('env', 'const result = JSON.stringify(process.env);'),
    'dags/trace.ts': probe('trace', "import traceEvents from 'node:trace_events';\nconst result = traceEvents.createTracing({ categories: ['node'] }).enable();"),
    'dags/v8-flags.ts': probe('v8flags', "import v8 from 'node:v8';\nconst result = v8.setFlagsFromString('--allow-natives-syntax');"),
    // node:sqlite (Node 22+) creates database files without asking the permission model.
    'dags/sqlite.ts': probe(
      'sqlite',
      `const { DatabaseSync } = await import('node:sqlite' as string);\nconst result = new DatabaseSync(${JSON.stringify(path.join(secretsDir, 'dropped.db'))});`,
    ),
    'dags/kill-parent.ts': probe('kill', "const result = process.kill(process.ppid, 'SIGTERM');"),
    'dags/debug-parent.ts': probe('debug', 'const result = (process as any)._debugProcess(process.ppid);'),
    'dags/vm-escape.ts': probe(
      'escape',
      [
        '// A host constructor in the context leads to the host realm and its process object...',
        "const host = (URL as any).constructor('return process')();",
        '// ...which is still the parse process, under the same permission model.',
        `const result = host.getBuiltinModule('node:fs').readFileSync(${JSON.stringify(tokenPath)}, 'utf8');`,
      ].join('\n'),
    ),
  });
  linked = await tempBundle('linked', {
    'dags/data.txt': 'linked data',
    'dags/plain.ts': dagReporting('linked_plain', "['parsed']"),
    'dags/own-data.ts': probe('linked_own', "const result = fs.readFileSync(new URL('./data.txt', import.meta.url), 'utf8');"),
    'dags/through-link.ts': probe('through', `const result = fs.readFileSync(new URL('../escape${tokenPath}', import.meta.url), 'utf8');`),
  });
  // A bundle may hold a symlink that leaves it; the permission model would follow it.
  await symlink('/', path.join(linked.root, 'escape'));
  pool = new IsolatePool(testPoolOptions({ logger: createLogger('test', { level: 'debug', write: (line) => logLines.push(line) }) }));
  await pool.start();
});

afterAll(async () => {
  await pool?.close();
  for (const bundle of [hostile, other, linked]) await bundle?.remove();
  if (secretsDir) await rm(secretsDir, { recursive: true, force: true });
});

const parse = (bundle: TempBundle, file: string) => pool.parse(taskFor(bundle, file));

async function expectRefused(bundle: TempBundle, file: string, pattern: RegExp = DENIED): Promise<string> {
  const outcome = await parse(bundle, file);
  expect(outcome.dags).toEqual([]);
  expect(outcome.importError?.stacktrace).toMatch(pattern);
  expect(outcome.importError!.stacktrace).toContain(file);
  expect(JSON.stringify(outcome)).not.toContain(TOKEN);
  return outcome.importError!.stacktrace;
}

describe('what a DAG file may read', () => {
  it('reads files of its own bundle (the control for every refusal below)', async () => {
    const outcome = await parse(hostile, 'dags/own-data.ts');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags[0]!.tags).toEqual(['bundle data']);
    expect((await parse(other, 'dags/own-secret.ts')).dags[0]!.tags).toEqual(['other-bundle-secret']);
  });

  it('cannot read a token file outside the bundle', async () => {
    await expectRefused(hostile, 'dags/token-file.ts');
  });

  it("cannot read the processor's environment through /proc/<ppid>/environ", async () => {
    await expectRefused(hostile, 'dags/parent-environ.ts');
  });

  it('cannot read its own /proc/self/environ either', async () => {
    await expectRefused(hostile, 'dags/self-environ.ts');
  });

  it('cannot read a file of another bundle', async () => {
    await expectRefused(hostile, 'dags/other-bundle.ts');
  });

  it('gets an empty process.env', async () => {
    const outcome = await parse(hostile, 'dags/env.ts');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags[0]!.tags).toEqual(['{}']);
  });

  it('is still refused after escaping its vm context to the host realm', async () => {
    await expectRefused(hostile, 'dags/vm-escape.ts');
  });
});

describe('what a DAG file may not do', () => {
  it('cannot write files, in its bundle or elsewhere', async () => {
    await expectRefused(hostile, 'dags/write.ts');
    await expectRefused(hostile, 'dags/write-tmp.ts');
    expect(existsSync(path.join(hostile.root, 'dags/written.txt'))).toBe(false);
    expect(existsSync(path.join(secretsDir, 'dropped'))).toBe(false);
  });

  it('cannot create files through node:sqlite', async () => {
    await expectRefused(hostile, 'dags/sqlite.ts', /node:sqlite/);
    expect(existsSync(path.join(secretsDir, 'dropped.db'))).toBe(false);
  });

  it('cannot write trace files or change V8 flags', async () => {
    await expectRefused(hostile, 'dags/trace.ts', /trace_events\.createTracing is not available to DAG files/);
    await expectRefused(hostile, 'dags/v8-flags.ts', /v8\.setFlagsFromString is not available to DAG files/);
  });

  it('cannot spawn a child process', async () => {
    await expectRefused(hostile, 'dags/spawn.ts');
  });

  it('cannot start a worker thread', async () => {
    await expectRefused(hostile, 'dags/worker.ts');
  });

  it('cannot load a native addon', async () => {
    await expectRefused(hostile, 'dags/addon.ts', /addons is disabled|ERR_DLOPEN_DISABLED|restricted/);
  });

  it('cannot signal the processor, to kill it or to open its inspector', async () => {
    await expectRefused(hostile, 'dags/kill-parent.ts', /process\.kill is not available to DAG files/);
    await expectRefused(hostile, 'dags/debug-parent.ts', /process\._debugProcess is not available to DAG files/);
  });
});

describe('a bundle holding a symlink that leaves it', () => {
  it('still has its files parsed', async () => {
    const outcome = await parse(linked, 'dags/plain.ts');
    expect(outcome.importError).toBeNull();
    expect(outcome.dags[0]!.tags).toEqual(['parsed']);
  });

  it('is not readable by its DAG files at all, so the link leads nowhere', async () => {
    await expectRefused(linked, 'dags/through-link.ts');
    await expectRefused(linked, 'dags/own-data.ts');
    const warning = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.level === 'warn');
    expect(warning).toMatchObject({ bundleName: 'linked', reason: 'escape is a symlink to /, outside the bundle' });
  });
});
