/**
 * The SDK's errors. The parse isolate sees them from another realm, where `instanceof` fails,
 * so each sets `name` for the host to match on, and carries the id it is about.
 */

/** A `dag()` or `task()` call that does not describe a valid DAG; the file becomes an import error. */
export class DagValidationError extends Error {
  override name = 'DagValidationError';
  readonly dagId: string | null;
  constructor(message: string, dagId: string | null) {
    super(message);
    this.dagId = dagId;
  }
}

/** Two different DAG objects in one file share a dag id. */
export class DuplicateDagIdError extends Error {
  override name = 'DuplicateDagIdError';
  readonly dagId: string;
  constructor(dagId: string) {
    super(`dag id '${dagId}' is defined twice in this file, by two different dag() calls`);
    this.dagId = dagId;
  }
}

export class VariableNotFoundError extends Error {
  override name = 'VariableNotFoundError';
  readonly key: string;
  constructor(key: string) {
    super(`Variable '${key}' does not exist (pass { default } to Variable.get to make it optional)`);
    this.key = key;
  }
}

export class ConnectionNotFoundError extends Error {
  override name = 'ConnectionNotFoundError';
  readonly connId: string;
  constructor(connId: string) {
    super(`Connection '${connId}' is not defined`);
    this.connId = connId;
  }
}

/** Variable/Connection used outside the dagproc processor, where there is no runtime to ask. */
export class RuntimeUnavailableError extends Error {
  override name = 'RuntimeUnavailableError';
}
