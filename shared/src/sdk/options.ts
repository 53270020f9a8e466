import { accept, describeType, didYouMean, quote, refuse, textProblem, type Checked } from '../dag/problems.ts';

/**
 * Readers for the option objects of `dag()` and `task()`. Each returns the value or a phrase
 * saying what is wrong with it; `undefined` and `null` both mean "not set", as in Airflow.
 */

export function isOptionsObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `unknown option 'x'` plus a suggestion, for the first key that is not an option, or null. */
export function unknownOption(options: Record<string, unknown>, known: readonly string[]): { what: string; detail: string } | null {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) return { what: `unknown option ${quote(key)}`, detail: didYouMean(key, known) };
  }
  return null;
}

export function optionalText(value: unknown): Checked<string | null> {
  if (value === undefined || value === null) return accept(null);
  if (typeof value !== 'string') return refuse(`expected a string, got ${describeType(value)}`);
  const problem = textProblem(value);
  return problem === null ? accept(value) : refuse(`the text ${problem}`);
}

export function optionalBoolean(value: unknown): Checked<boolean | null> {
  if (value === undefined || value === null) return accept(null);
  return typeof value === 'boolean' ? accept(value) : refuse(`expected true or false, got ${describeType(value)}`);
}

export function optionalWholeNumber(value: unknown, min: number): Checked<number | null> {
  if (value === undefined || value === null) return accept(null);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min) return accept(value);
  return refuse(`expected a whole number ≥ ${min}, got ${describeType(value)}`);
}

export function optionalSeconds(value: unknown): Checked<number | null> {
  if (value === undefined || value === null) return accept(null);
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return accept(value);
  return refuse(`expected a number of seconds ≥ 0, got ${describeType(value)}`);
}
