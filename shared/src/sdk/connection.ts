import type { ConnectionResponse } from '../schemas/execution.ts';
import { describeType } from '../dag/problems.ts';
import { ConnectionNotFoundError, RuntimeUnavailableError } from './errors.ts';
import { checkLookupKey, installedRuntime } from './installed-runtime.ts';

export type ConnectionInfo = ConnectionResponse;

async function get(connId: string): Promise<ConnectionInfo> {
  const id = checkLookupKey('Connection.get', 'connection id', connId);
  const runtime = installedRuntime();
  if (runtime === undefined) {
    throw new RuntimeUnavailableError(
      `Connection.get('${id}') needs the dagproc parser runtime: it works while the dagproc processor parses the file or runs a callback`,
    );
  }
  const connection: unknown = await runtime.getConnection(id);
  if (connection === undefined) throw new ConnectionNotFoundError(id);
  if (typeof connection !== 'object' || connection === null) {
    throw new TypeError(`the dagproc runtime returned ${describeType(connection)} for Connection '${id}'`);
  }
  return connection as ConnectionInfo;
}

/** Airflow's `Connection.get`, read through the Execution API; an unknown id is an error. */
export const Connection: { get(connId: string): Promise<ConnectionInfo> } = Object.freeze({ get });
