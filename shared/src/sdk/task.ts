import type { JsonValue } from '../dag/model.ts';
import { freezeJson, toJsonRecord } from '../dag/json.ts';
import { describeType, quote, type Checked } from '../dag/problems.ts';
import { keyProblem } from '../dag/validate.ts';
import { branded, isTask, TASK_BRAND } from './brand.ts';
import { isOptionsObject, optionalSeconds, optionalText, optionalWholeNumber, unknownOption } from './options.ts';

export interface TaskOptions {
  /** Letters, digits, `.`, `_`, `-`; at most 250 characters; unique within the DAG. */
  taskId: string;
  /** Tasks that must finish before this one: task ids, or the objects `task()` returned. */
  upstream?: readonly (string | Task)[] | null;
  /** Tasks that run after this one: Airflow's `a >> b`, written on `a`. */
  downstream?: readonly (string | Task)[] | null;
  /** Falls back to the DAG's `defaultArgs.retries`, then 0. */
  retries?: number | null;
  /** Falls back to the DAG's `defaultArgs.retryDelaySeconds`. */
  retryDelaySeconds?: number | null;
  /** Falls back to the DAG's `defaultArgs.owner`. */
  owner?: string | null;
  doc?: string | null;
  /** JSON values (a Date becomes its ISO string). */
  params?: Record<string, unknown> | null;
}

/** What `task()` returns: the options as given, checked, for `dag({ tasks })`. */
export interface Task {
  readonly [TASK_BRAND]: true;
  readonly taskId: string;
  /** Sorted, unique. */
  readonly upstream: readonly string[];
  /** Sorted, unique. */
  readonly downstream: readonly string[];
  /** null: not set here, so the DAG's defaultArgs decide. */
  readonly retries: number | null;
  readonly retryDelaySeconds: number | null;
  readonly owner: string | null;
  readonly doc: string | null;
  readonly params: Readonly<Record<string, JsonValue>>;
}

const TASK_OPTIONS = ['taskId', 'upstream', 'downstream', 'retries', 'retryDelaySeconds', 'owner', 'doc', 'params'];

/**
 * What is wrong with a task, said once `dag()` knows which DAG it belongs to. `subject` picks
 * how the task is named: by its id, by its position when it has no usable id, or not at all
 * when the problem is the id itself.
 */
export interface TaskProblem {
  what: string;
  detail: string;
  subject: 'task' | 'position' | 'dag';
}

// task() cannot name the DAG, so it defers its complaint to dag(), which can.
const problems = new WeakMap<Task, TaskProblem>();

export function taskProblem(t: Task): TaskProblem | undefined {
  return problems.get(t);
}

export function task(options: TaskOptions): Task {
  const parsed = parseTask(options);
  if ('problem' in parsed) {
    const placeholder = makeTask({
      taskId: parsed.taskId,
      upstream: [],
      downstream: [],
      retries: null,
      retryDelaySeconds: null,
      owner: null,
      doc: null,
      params: {},
    });
    problems.set(placeholder, parsed.problem);
    return placeholder;
  }
  return makeTask(parsed);
}

type TaskFields = Omit<Task, typeof TASK_BRAND>;

function makeTask(fields: TaskFields): Task {
  const frozen = { ...fields, upstream: Object.freeze(fields.upstream), downstream: Object.freeze(fields.downstream), params: freezeJson(fields.params) };
  return branded(frozen, TASK_BRAND) as Task;
}

function parseTask(options: unknown): TaskFields | { taskId: string; problem: TaskProblem } {
  const invalid = (what: string, detail: string, subject: TaskProblem['subject'], taskId = '') => ({
    taskId,
    problem: { what, detail, subject },
  });
  if (!isOptionsObject(options)) return invalid('invalid task() options', `expected an object, got ${describeType(options)}`, 'position');
  const rawId = options.taskId;
  if (rawId === undefined || rawId === null) {
    const typo = unknownOption(options, TASK_OPTIONS);
    const found = typo === null ? '' : `found ${typo.what}${typo.detail === '' ? '' : `; ${typo.detail}`}`;
    return invalid('missing taskId', found, 'position');
  }
  if (typeof rawId !== 'string') return invalid('invalid task id', `expected a string, got ${describeType(rawId)}`, 'position');
  const idProblem = keyProblem(rawId);
  if (idProblem !== null) return invalid(`invalid task id ${quote(rawId)}`, idProblem, 'dag');
  const taskId = rawId;

  const unknown = unknownOption(options, TASK_OPTIONS);
  if (unknown !== null) return invalid(unknown.what, unknown.detail, 'task', taskId);

  const fields: Partial<TaskFields> = { taskId };
  const checks: [keyof TaskFields, Checked<unknown>][] = [
    ['upstream', taskRefs(options.upstream, 'upstream')],
    ['downstream', taskRefs(options.downstream, 'downstream')],
    ['retries', optionalWholeNumber(options.retries, 0)],
    ['retryDelaySeconds', optionalSeconds(options.retryDelaySeconds)],
    ['owner', optionalText(options.owner)],
    ['doc', optionalText(options.doc)],
    ['params', options.params === undefined || options.params === null ? { ok: true, value: {} } : toJsonRecord(options.params, 'params')],
  ];
  for (const [name, checked] of checks) {
    if (!checked.ok) return invalid(`invalid ${name}`, checked.problem, 'task', taskId);
    (fields as Record<string, unknown>)[name] = checked.value;
  }
  return fields as TaskFields;
}

/** Task ids, given as ids or as task() objects; sorted and unique. */
function taskRefs(value: unknown, name: string): Checked<string[]> {
  if (value === undefined || value === null) return { ok: true, value: [] };
  if (!Array.isArray(value)) return { ok: false, problem: `expected an array of task ids, got ${describeType(value)}` };
  const ids = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const ref: unknown = value[i];
    const id = isTask(ref) ? ref.taskId : ref;
    if (typeof id !== 'string') return { ok: false, problem: `${name}[${i}] must be a task id or a task(), got ${describeType(ref)}` };
    const problem = keyProblem(id);
    if (problem !== null) return { ok: false, problem: `${name}[${i}] ${quote(id)} is not a task id: ${problem}` };
    ids.add(id);
  }
  return { ok: true, value: [...ids].sort() };
}
