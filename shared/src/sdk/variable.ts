import type { JsonValue } from '../dag/model.ts';
import { describeType } from '../dag/problems.ts';
import { RuntimeUnavailableError, VariableNotFoundError } from './errors.ts';
import { checkLookupKey, checkLookupOptions, installedRuntime } from './installed-runtime.ts';

export interface VariableGetOptions<T = never> {
  /** Returned when the variable does not exist, or outside the processor. */
  default?: T;
  /** Parse the stored string as JSON (the default, when used, is returned as given). */
  deserializeJson?: boolean;
}

export interface VariableAccessor {
  get(key: string): Promise<string>;
  get(key: string, options: { deserializeJson?: false }): Promise<string>;
  get<T>(key: string, options: { default: T; deserializeJson?: false }): Promise<string | T>;
  get(key: string, options: { deserializeJson: true }): Promise<JsonValue>;
  get<T>(key: string, options: { default: T; deserializeJson: true }): Promise<JsonValue | T>;
}

const GET_OPTIONS = ['default', 'deserializeJson'];

async function get(key: unknown, options?: unknown): Promise<unknown> {
  const checkedKey = checkLookupKey('Variable.get', 'variable key', key);
  const opts = checkLookupOptions(`Variable.get('${checkedKey}')`, options, GET_OPTIONS);
  const hasDefault = Object.prototype.hasOwnProperty.call(opts, 'default');
  const runtime = installedRuntime();
  if (runtime === undefined) {
    if (hasDefault) return opts.default;
    throw new RuntimeUnavailableError(
      `Variable.get('${checkedKey}') needs the dagproc parser runtime: it works while the dagproc processor parses the file (pass { default } for a value outside it)`,
    );
  }
  const value: unknown = await runtime.getVariable(checkedKey);
  if (value === undefined) {
    if (hasDefault) return opts.default;
    throw new VariableNotFoundError(checkedKey);
  }
  if (typeof value !== 'string') throw new TypeError(`the dagproc runtime returned ${describeType(value)} for Variable '${checkedKey}'`);
  if (opts.deserializeJson !== true) return value;
  try {
    return JSON.parse(value) as JsonValue;
  } catch (error) {
    throw new SyntaxError(`Variable '${checkedKey}' is not valid JSON: ${(error as Error).message}`);
  }
}

/** Airflow's `Variable.get`, read through the Execution API while the file is parsed or a callback runs. */
export const Variable: VariableAccessor = Object.freeze({ get: get as VariableAccessor['get'] });
