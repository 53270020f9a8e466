import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsolatePool } from './index.ts';
import { startExecutionApi, tempBundle, testPoolOptions, type TempBundle } from './testing.ts';
import type { CallbackContext, CallbackTask } from './types.ts';

let api: Awaited<ReturnType<typeof startExecutionApi>>;
let pool: IsolatePool;
let bundle: TempBundle;

beforeAll(async () => {
  api = await startExecutionApi({});
  bundle = await tempBundle('callbacks', {
    'dags/callbacks.ts': [
      "import { dag, task, Variable } from '@dagproc/sdk';",
      'export const withCallbacks = dag({',
      "  dagId: 'with_callbacks',",
      "  tasks: [task({ taskId: 't' })],",
      '  onFailure: async (ctx) => {',
      '    const inner = ctx.context as { attempt: number };',
      '    // Reports what it was called with through the API stand-in, which records the key.',
      '    const realm = ctx.context.constructor === Object ? "own-realm" : "host-realm";',
      "    await Variable.get(`seen.${ctx.dagId}.${ctx.runId}.${ctx.callbackType}.${ctx.msg}.${inner.attempt}.${realm}`, { default: null });",
      '  },',
      '  onSuccess: (ctx) => {',
      '    throw new Error(`success callback failed for ${ctx.runId}`);',
      '  },',
      '});',
      "export const plain = dag({ dagId: 'plain' });",
      "export const slow = dag({ dagId: 'slow', onFailure: () => { for (;;) {} } });",
    ].join('\n'),
    'dags/broken.ts': "throw new Error('cannot even import');\n",
  });
  pool = new IsolatePool(testPoolOptions({ apiUrl: api.url, timeoutMs: 1000 }));
  await pool.start();
});

afterAll(async () => {
  await pool?.close();
  await bundle?.remove();
  await api?.close();
});

function callback(relativeFileloc: string, dagId: string, callbackType: 'failure' | 'success'): CallbackTask {
  const context: CallbackContext = { dagId, runId: 'run_1', callbackType, msg: 'task_failed', context: { attempt: 3 } };
  return {
    bundleName: bundle.name,
    bundleRoot: bundle.root,
    relativeFileloc,
    fileToken: async () => `token-${dagId}`,
    dagId,
    callbackType,
    context,
  };
}

describe('DAG callbacks', () => {
  it("runs the DAG's onFailure callback with the callback context, copied into the file's realm", async () => {
    const outcome = await pool.runCallback(callback('dags/callbacks.ts', 'with_callbacks', 'failure'));
    expect(outcome).toMatchObject({ ok: true });
    expect(outcome.error).toBeUndefined();
    expect(api.requests).toContainEqual({
      path: '/execution/variables/seen.with_callbacks.run_1.failure.task_failed.3.own-realm',
      authorization: 'Bearer token-with_callbacks',
    });
  });

  it('reports an error the callback throws, with its stack in the file', async () => {
    const outcome = await pool.runCallback(callback('dags/callbacks.ts', 'with_callbacks', 'success'));
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/^Error: success callback failed for run_1\n    at onSuccess \(dags\/callbacks\.ts:12:11\)/);
  });

  it('fails clearly when the file does not define the DAG', async () => {
    const outcome = await pool.runCallback(callback('dags/callbacks.ts', 'nope', 'failure'));
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/^Error: DAG 'nope' is not defined in dags\/callbacks\.ts/);
  });

  it('fails clearly when the DAG has no such callback', async () => {
    const outcome = await pool.runCallback(callback('dags/callbacks.ts', 'plain', 'success'));
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/^Error: DAG 'plain' has no onSuccess callback/);
  });

  it("fails with the file's import error when the file does not load", async () => {
    const outcome = await pool.runCallback(callback('dags/broken.ts', 'anything', 'failure'));
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/^Error: cannot even import\n    at dags\/broken\.ts:1:7/);
  });

  it('kills a callback that runs past the timeout, and the next callback still runs', async () => {
    const outcome = await pool.runCallback(callback('dags/callbacks.ts', 'slow', 'failure'));
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toBe(
      "CallbackTimeout: the onFailure callback of DAG 'slow' took longer than 1 s; its process was killed\n    at dags/callbacks.ts",
    );
    expect((await pool.runCallback(callback('dags/callbacks.ts', 'with_callbacks', 'failure'))).ok).toBe(true);
  });
});
