import type { JsonValue } from '../dag/model.ts';
import { checkSchedule } from '../dag/cron.ts';
import { freezeJson, isPlainObject, toJsonRecord } from '../dag/json.ts';
import { accept, describeType, didYouMean, quote, refuse, textProblem, type Checked } from '../dag/problems.ts';
import type { DagDefinition, TaskDefinition } from '../dag/serialize.ts';
import { checkIsoDate, findCycle, keyProblem } from '../dag/validate.ts';
import { branded, DAG_BRAND, isTask } from './brand.ts';
import { DagValidationError } from './errors.ts';
import { isOptionsObject, optionalBoolean, optionalText, optionalWholeNumber, unknownOption, optionalSeconds } from './options.ts';
import { taskProblem, type Task } from './task.ts';

/** What a DAG callback receives when the processor runs it for a callback request. */
export interface CallbackContext {
  dagId: string;
  runId: string | null;
  callbackType: 'failure' | 'success';
  msg: string | null;
  context: Record<string, unknown>;
}

export type DagCallback = (context: CallbackContext) => unknown;

/** Arguments every task of the DAG falls back to; other keys are kept as JSON, as Airflow keeps them. */
export interface DefaultArgs {
  retries?: number;
  retryDelaySeconds?: number;
  owner?: string;
  [key: string]: unknown;
}

export interface DagOptions {
  /** Letters, digits, `.`, `_`, `-`; at most 250 characters. */
  dagId: string;
  description?: string | null;
  /** A five-field cron expression, a preset (`@daily`, `@once`, `@continuous`, ...), or null: triggered only. */
  schedule?: string | null;
  /** An ISO-8601 date or date-time string (no offset means UTC), or a Date. */
  startDate?: string | Date | null;
  endDate?: string | Date | null;
  /** Default false, as in Airflow 3. */
  catchup?: boolean | null;
  /** At most 100 characters each. */
  tags?: readonly string[] | null;
  params?: Record<string, unknown> | null;
  defaultArgs?: DefaultArgs | null;
  maxActiveRuns?: number | null;
  doc?: string | null;
  tasks?: readonly Task[] | null;
  onFailure?: DagCallback | null;
  onSuccess?: DagCallback | null;
}

/** A task as it runs in the DAG: dependencies from both sides merged, defaultArgs applied. */
export type DagTask = TaskDefinition;

/** What `dag()` returns: the DAG, validated and frozen. Export it from the DAG file. */
export interface Dag extends DagDefinition {
  readonly [DAG_BRAND]: true;
  readonly tasks: readonly DagTask[];
  readonly onFailure: DagCallback | null;
  readonly onSuccess: DagCallback | null;
}

const DAG_OPTIONS = [
  'dagId',
  'description',
  'schedule',
  'startDate',
  'endDate',
  'catchup',
  'tags',
  'params',
  'defaultArgs',
  'maxActiveRuns',
  'doc',
  'tasks',
  'onFailure',
  'onSuccess',
];

/** Airflow's TAG_MAX_LEN. */
const TAG_MAX_LENGTH = 100;

export function dag(options: DagOptions): Dag {
  if (!isOptionsObject(options)) throw new DagValidationError(`dag() takes an options object, got ${describeType(options)}`, null);
  const dagId = readDagId(options);
  const label = `dag ${quote(dagId)}`;
  const fail = (what: string, detail: string, subject = label): never => {
    throw new DagValidationError(`${what} for ${subject}${detail === '' ? '' : `: ${detail}`}`, dagId);
  };
  const read = <T>(name: string, checked: Checked<T>): T => (checked.ok ? checked.value : fail(`invalid ${name}`, checked.problem));
  // Schedules and dates are short: the message shows the value next to the option's name.
  const readText = <T>(name: string, raw: unknown, checked: Checked<T>): T =>
    typeof raw === 'string' && !checked.ok ? fail(`invalid ${name} ${quote(raw)}`, checked.problem) : read(name, checked);

  const unknown = unknownOption(options, DAG_OPTIONS);
  if (unknown !== null) fail(unknown.what, unknown.detail);

  const description = read('description', optionalText(options.description));
  const schedule = readText('schedule', options.schedule, readSchedule(options.schedule));
  const startDate = readText('startDate', options.startDate, readDate(options.startDate));
  const endDate = readText('endDate', options.endDate, readDate(options.endDate));
  if (startDate !== null && endDate !== null && endDate.instant < startDate.instant) {
    fail(`invalid endDate ${quote(endDate.text)}`, `it is before startDate ${quote(startDate.text)}`);
  }
  const catchup = read('catchup', optionalBoolean(options.catchup)) ?? false;
  const tags = read('tags', readTags(options.tags));
  const params = read('params', readRecord(options.params, 'params'));
  const defaultArgs = read('defaultArgs', readRecord(options.defaultArgs, 'defaultArgs'));
  const fallback = read('defaultArgs', readTaskDefaults(defaultArgs));
  const maxActiveRuns = read('maxActiveRuns', optionalWholeNumber(options.maxActiveRuns, 1));
  const doc = read('doc', optionalText(options.doc));
  const onFailure = read('onFailure', readCallback(options.onFailure));
  const onSuccess = read('onSuccess', readCallback(options.onSuccess));
  const tasks = resolveTasks(options.tasks, fallback, label, fail);

  return branded(
    {
      dagId,
      description,
      schedule,
      startDate: startDate?.text ?? null,
      endDate: endDate?.text ?? null,
      catchup,
      tags: Object.freeze([...new Set(tags)].sort()),
      params: freezeJson(params),
      defaultArgs: freezeJson(defaultArgs),
      maxActiveRuns,
      doc,
      tasks: Object.freeze(tasks),
      onFailure,
      onSuccess,
    },
    DAG_BRAND,
  ) as Dag;
}

function readDagId(options: Record<string, unknown>): string {
  const raw = options.dagId;
  if (raw === undefined || raw === null) {
    const typo = unknownOption(options, DAG_OPTIONS);
    const found = typo === null ? '' : `: found ${typo.what}${typo.detail === '' ? '' : `; ${typo.detail}`}`;
    throw new DagValidationError(`dag() needs a dagId${found}`, null);
  }
  if (typeof raw !== 'string') throw new DagValidationError(`invalid dag id: expected a string, got ${describeType(raw)}`, null);
  const problem = keyProblem(raw);
  if (problem !== null) throw new DagValidationError(`invalid dag id ${quote(raw)}: ${problem}`, null);
  return raw;
}

function readSchedule(value: unknown): Checked<string | null> {
  if (value === undefined || value === null) return accept(null);
  if (typeof value !== 'string') return refuse(`expected a cron expression, a preset like '@daily', or null, got ${describeType(value)}`);
  return checkSchedule(value);
}

interface DateValue {
  /** As stored: the author's ISO text, or a Date's toISOString(). */
  text: string;
  instant: number;
}

function readDate(value: unknown): Checked<DateValue | null> {
  if (value === undefined || value === null) return accept(null);
  // By tag, not instanceof: the Date may come from the file's own realm.
  if (Object.prototype.toString.call(value) === '[object Date]') {
    const instant = Date.prototype.getTime.call(value);
    if (Number.isNaN(instant)) return refuse('the Date is invalid');
    return accept({ text: Date.prototype.toISOString.call(value), instant });
  }
  if (typeof value !== 'string') return refuse(`expected an ISO-8601 string or a Date, got ${describeType(value)}`);
  const checked = checkIsoDate(value);
  return checked.ok ? accept({ text: value, instant: checked.value }) : checked;
}

function readTags(value: unknown): Checked<string[]> {
  if (value === undefined || value === null) return accept([]);
  if (!Array.isArray(value)) return refuse(`expected an array of strings, got ${describeType(value)}`);
  const tags: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const tag: unknown = value[i];
    if (typeof tag !== 'string') return refuse(`tags[${i}] must be a string, got ${describeType(tag)}`);
    if (tag.length > TAG_MAX_LENGTH) return refuse(`tags[${i}] is ${tag.length} characters long; the limit is ${TAG_MAX_LENGTH}`);
    const problem = textProblem(tag);
    if (problem !== null) return refuse(`tags[${i}] ${problem}`);
    tags.push(tag);
  }
  return accept(tags);
}

function readRecord(value: unknown, path: string): Checked<Record<string, JsonValue>> {
  if (value === undefined || value === null) return accept({});
  return toJsonRecord(value, path);
}

interface TaskFallback {
  retries: number | null;
  retryDelaySeconds: number | null;
  owner: string | null;
}

/** The defaultArgs a task falls back to must have the types the task options have. */
function readTaskDefaults(defaultArgs: Record<string, JsonValue>): Checked<TaskFallback> {
  const retries = optionalWholeNumber(defaultArgs.retries, 0);
  if (!retries.ok) return refuse(`defaultArgs.retries: ${retries.problem}`);
  const retryDelaySeconds = optionalSeconds(defaultArgs.retryDelaySeconds);
  if (!retryDelaySeconds.ok) return refuse(`defaultArgs.retryDelaySeconds: ${retryDelaySeconds.problem}`);
  const owner = optionalText(defaultArgs.owner);
  if (!owner.ok) return refuse(`defaultArgs.owner: ${owner.problem}`);
  return accept({ retries: retries.value, retryDelaySeconds: retryDelaySeconds.value, owner: owner.value });
}

function readCallback(value: unknown): Checked<DagCallback | null> {
  if (value === undefined || value === null) return accept(null);
  return typeof value === 'function' ? accept(value as DagCallback) : refuse(`expected a function, got ${describeType(value)}`);
}

/**
 * The DAG's tasks with both sides of every dependency merged into `upstream` and defaultArgs
 * applied, after the checks Airflow makes: each task valid, ids unique (the same task object
 * listed twice counts once, as Airflow allows), every reference known, no cycle.
 */
function resolveTasks(
  value: unknown,
  fallback: TaskFallback,
  label: string,
  fail: (what: string, detail: string, subject?: string) => never,
): DagTask[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return fail('invalid tasks', `expected an array of task() results, got ${describeType(value)}`);
  const byId = new Map<string, Task>();
  for (let i = 0; i < value.length; i++) {
    const t: unknown = value[i];
    if (!isTask(t)) {
      const hint = isPlainObject(t) && 'taskId' in t ? ' (wrap the options in task({ ... }))' : '';
      return fail('invalid tasks', `tasks[${i}] is not a task(), got ${describeType(t)}${hint}`);
    }
    const problem = taskProblem(t);
    if (problem !== undefined) {
      const subject = { task: `task ${quote(t.taskId)} of ${label}`, position: `tasks[${i}] of ${label}`, dag: label }[problem.subject];
      return fail(problem.what, problem.detail, subject);
    }
    const seen = byId.get(t.taskId);
    if (seen !== undefined && seen !== t) return fail(`duplicate task id ${quote(t.taskId)}`, `tasks[${i}] repeats an earlier task's id`);
    byId.set(t.taskId, t);
  }

  const ids = [...byId.keys()];
  const upstream = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
  for (const t of byId.values()) {
    const subject = `task ${quote(t.taskId)} of ${label}`;
    for (const up of t.upstream) {
      if (!byId.has(up)) fail(`unknown upstream task ${quote(up)}`, didYouMean(up, ids), subject);
      upstream.get(t.taskId)!.add(up);
    }
    for (const down of t.downstream) {
      if (!byId.has(down)) fail(`unknown downstream task ${quote(down)}`, didYouMean(down, ids), subject);
      upstream.get(down)!.add(t.taskId);
    }
  }

  const resolved = [...byId.values()]
    .map(
      (t): DagTask =>
        Object.freeze({
          taskId: t.taskId,
          upstream: Object.freeze([...upstream.get(t.taskId)!].sort()),
          retries: t.retries ?? fallback.retries ?? 0,
          retryDelaySeconds: t.retryDelaySeconds ?? fallback.retryDelaySeconds,
          owner: t.owner ?? fallback.owner,
          doc: t.doc,
          params: t.params,
        }),
    )
    .sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
  const cycle = findCycle(resolved);
  if (cycle !== null) fail('dependency cycle', cycle.join(' -> '));
  return resolved;
}
