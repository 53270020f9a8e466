import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionResponse } from '../schemas/execution.ts';
import { Connection } from './connection.ts';
import { ConnectionNotFoundError, RuntimeUnavailableError, VariableNotFoundError } from './errors.ts';
import { RUNTIME_GLOBAL, type DagprocRuntime } from './runtime.ts';
import { Variable } from './variable.ts';

const warehouse: ConnectionResponse = {
  connId: 'warehouse',
  connType: 'postgres',
  host: 'db.internal',
  port: 5432,
  login: 'etl',
  password: 's3cret',
  schema: 'analytics',
  extra: { sslmode: 'require' },
};

/** A runtime like the isolate's, over in-memory tables, recording each lookup. */
function installRuntime(variables: Record<string, string>, connections: Record<string, ConnectionResponse> = {}) {
  const lookups: string[] = [];
  const runtime: DagprocRuntime = {
    getVariable: async (key) => {
      lookups.push(`variable:${key}`);
      return variables[key];
    },
    getConnection: async (connId) => {
      lookups.push(`connection:${connId}`);
      return connections[connId];
    },
  };
  (globalThis as Record<string, unknown>)[RUNTIME_GLOBAL] = runtime;
  return lookups;
}

afterEach(() => {
  delete (globalThis as Record<string, unknown>)[RUNTIME_GLOBAL];
});

describe('Variable.get with the parser runtime installed', () => {
  it('returns the stored string', async () => {
    const lookups = installRuntime({ target: 'prod' });
    await expect(Variable.get('target')).resolves.toBe('prod');
    await expect(Variable.get('target', { default: 'dev' })).resolves.toBe('prod');
    expect(lookups).toEqual(['variable:target', 'variable:target']);
  });

  it('returns the default for a missing variable, and names the key without one', async () => {
    installRuntime({});
    await expect(Variable.get('missing', { default: 'dev' })).resolves.toBe('dev');
    await expect(Variable.get('missing', { default: null })).resolves.toBeNull();
    await expect(Variable.get('missing')).rejects.toThrow(VariableNotFoundError);
    await expect(Variable.get('missing')).rejects.toThrow("Variable 'missing' does not exist");
  });

  it('parses JSON on request, and names the key when the value is not JSON', async () => {
    installRuntime({ cfg: '{"batch": 500, "tables": ["a"]}', broken: '{nope' });
    await expect(Variable.get('cfg', { deserializeJson: true })).resolves.toEqual({ batch: 500, tables: ['a'] });
    await expect(Variable.get('cfg')).resolves.toBe('{"batch": 500, "tables": ["a"]}');
    await expect(Variable.get('broken', { deserializeJson: true })).rejects.toThrow("Variable 'broken' is not valid JSON");
    await expect(Variable.get('absent', { deserializeJson: true, default: { batch: 1 } })).resolves.toEqual({ batch: 1 });
  });

  it('refuses a malformed key or a misspelt option before asking the server', async () => {
    const lookups = installRuntime({});
    await expect(Variable.get('bad key')).rejects.toThrow("Variable.get('bad key'): not a valid variable key");
    await expect(Variable.get(42 as unknown as string)).rejects.toThrow('Variable.get(): the variable key must be a string, got the number 42');
    await expect(Variable.get('k', { defualt: 'x' } as never)).rejects.toThrow("Variable.get('k'): unknown option 'defualt': did you mean 'default'?");
    expect(lookups).toEqual([]);
  });

  it('passes a runtime failure through unchanged', async () => {
    (globalThis as Record<string, unknown>)[RUNTIME_GLOBAL] = {
      getVariable: async () => {
        throw new Error('execution API answered 403');
      },
    };
    await expect(Variable.get('k', { default: 'd' })).rejects.toThrow('execution API answered 403');
  });
});

describe('Variable.get without the runtime (plain node, unit tests)', () => {
  it('returns the default when there is one', async () => {
    await expect(Variable.get('target', { default: 'dev' })).resolves.toBe('dev');
  });

  it('says it needs the parser runtime when there is none', async () => {
    await expect(Variable.get('k')).rejects.toThrow(RuntimeUnavailableError);
    await expect(Variable.get('k')).rejects.toThrow("Variable.get('k') needs the dagproc parser runtime");
  });
});

describe('Connection.get', () => {
  it('returns the connection from the runtime', async () => {
    const lookups = installRuntime({}, { warehouse });
    await expect(Connection.get('warehouse')).resolves.toEqual(warehouse);
    expect(lookups).toEqual(['connection:warehouse']);
  });

  it('names the conn id of a missing connection', async () => {
    installRuntime({});
    await expect(Connection.get('nope')).rejects.toThrow(ConnectionNotFoundError);
    await expect(Connection.get('nope')).rejects.toThrow("Connection 'nope' is not defined");
  });

  it('refuses a malformed conn id', async () => {
    installRuntime({});
    await expect(Connection.get('a/b')).rejects.toThrow("Connection.get('a/b'): not a valid connection id");
  });

  it('says it needs the parser runtime when there is none', async () => {
    await expect(Connection.get('warehouse')).rejects.toThrow("Connection.get('warehouse') needs the dagproc parser runtime");
  });
});
