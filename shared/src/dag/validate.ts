import { checkSchedule } from './cron.ts';
import type { SerializedDag } from './model.ts';
import { accept, didYouMean, quote, refuse, type Checked } from './problems.ts';

/**
 * DAG rules that are not about shape: ids, dates, the task graph. Plain functions with no
 * imports beyond this folder's plain modules, so the SDK (in a bare `vm` context) and the
 * server share one definition of a valid DAG.
 */

/** Airflow's KEY_REGEX and its 250-character limit, for dag ids and task ids. */
export const KEY_PATTERN = /^[A-Za-z0-9_.-]+$/;
export const KEY_MAX_LENGTH = 250;

/** Why `id` is not a valid dag or task id, or null. */
export function keyProblem(id: string): string | null {
  if (id === '') return 'it must not be empty';
  if (id.length > KEY_MAX_LENGTH) return `it is ${id.length} characters long; the limit is ${KEY_MAX_LENGTH}`;
  if (!KEY_PATTERN.test(id)) {
    const bad = [...id].find((c) => !KEY_PATTERN.test(c))!;
    return `it may contain only letters, digits, '.', '_' and '-' (found ${quote(bad)})`;
  }
  return null;
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * The instant an ISO-8601 date (`2026-01-01`) or date-time (`2026-01-01T06:00`,
 * `2026-01-01T06:00:00.000Z`, `...+02:00`) stands for, in epoch milliseconds, or why the text
 * is not one. A date or a date-time without an offset is UTC, as Airflow's default timezone.
 */
export function checkIsoDate(text: string): Checked<number> {
  const m = ISO_DATE.exec(text);
  if (m === null) {
    return refuse('expected an ISO-8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM])');
  }
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part)));
  if (month! < 1 || month! > 12) return refuse(`month ${month} is not 1-12`);
  if (day! < 1 || day! > daysInMonth(year!, month!)) return refuse(`${MONTH_NAMES[month! - 1]} ${year} has no day ${day}`);
  if (hour > 23) return refuse(`hour ${hour} is not 0-23`);
  if (minute > 59) return refuse(`minute ${minute} is not 0-59`);
  if (second > 59) return refuse(`second ${second} is not 0-59`);
  let offsetMinutes = 0;
  const offset = m[8];
  if (offset !== undefined && offset !== 'Z') {
    const oh = Number(offset.slice(1, 3));
    const om = Number(offset.slice(4, 6));
    if (oh > 23 || om > 59) return refuse(`offset ${offset} is not a valid UTC offset`);
    offsetMinutes = (offset[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear keeps the year as written.
  const instant = new Date(Date.UTC(2000, month! - 1, day!, hour, minute, second, millis));
  instant.setUTCFullYear(year!);
  return accept(instant.getTime() - offsetMinutes * 60_000);
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

export interface TaskEdges {
  readonly taskId: string;
  readonly upstream: readonly string[];
}

/**
 * A dependency cycle as a path in run order (`['a', 'b', 'a']`: a runs before b, which runs
 * before a), or null. Deterministic: tasks and edges are walked in sorted order, so the same
 * DAG always reports the same cycle. Upstream ids that name no task are ignored here.
 */
export function findCycle(tasks: readonly TaskEdges[]): string[] | null {
  const downstream = new Map<string, string[]>();
  for (const t of tasks) downstream.set(t.taskId, []);
  for (const t of tasks) {
    for (const up of t.upstream) downstream.get(up)?.push(t.taskId);
  }
  for (const list of downstream.values()) list.sort();
  const state = new Map<string, 'active' | 'done'>();
  // Iterative, so a long chain of tasks cannot overflow the stack.
  for (const root of [...downstream.keys()].sort()) {
    if (state.has(root)) continue;
    const path: string[] = [root];
    const next: number[] = [0];
    state.set(root, 'active');
    while (path.length > 0) {
      const node = path[path.length - 1]!;
      const children = downstream.get(node)!;
      const i = next[next.length - 1]!;
      if (i === children.length) {
        state.set(node, 'done');
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const child = children[i]!;
      const seen = state.get(child);
      if (seen === 'active') return [...path.slice(path.indexOf(child)), child];
      if (seen === undefined) {
        state.set(child, 'active');
        path.push(child);
        next.push(0);
      }
    }
  }
  return null;
}

/** The first problem with a task graph (duplicate id, unknown upstream, cycle), or null. */
export function taskGraphProblem(tasks: readonly TaskEdges[]): string | null {
  const ids = new Set<string>();
  for (const t of tasks) {
    if (ids.has(t.taskId)) return `duplicate task id ${quote(t.taskId)}`;
    ids.add(t.taskId);
  }
  for (const t of tasks) {
    for (const up of t.upstream) {
      if (!ids.has(up)) {
        const hint = didYouMean(up, [...ids]);
        return `unknown upstream task ${quote(up)} for task ${quote(t.taskId)}${hint === '' ? '' : `: ${hint}`}`;
      }
    }
  }
  const cycle = findCycle(tasks);
  return cycle === null ? null : `dependency cycle: ${cycle.join(' -> ')}`;
}

/**
 * What the zod schema cannot see in a serialized DAG: the graph, the schedule, the dates.
 * For the receiving side, which must not trust that the sender ran the SDK's checks.
 */
export function serializedDagProblem(d: SerializedDag): string | null {
  const graph = taskGraphProblem(d.tasks);
  if (graph !== null) return graph;
  if (d.schedule !== null) {
    const schedule = checkSchedule(d.schedule);
    if (!schedule.ok) return `invalid schedule ${quote(d.schedule)}: ${schedule.problem}`;
    if (schedule.value !== d.schedule) return `schedule ${quote(d.schedule)} is not in its stored form ${quote(schedule.value)}`;
  }
  let start: number | null = null;
  for (const [name, text] of [['startDate', d.startDate], ['endDate', d.endDate]] as const) {
    if (text === null) continue;
    const date = checkIsoDate(text);
    if (!date.ok) return `invalid ${name} ${quote(text)}: ${date.problem}`;
    if (name === 'startDate') start = date.value;
    else if (start !== null && date.value < start) return `endDate ${quote(text)} is before startDate ${quote(d.startDate!)}`;
  }
  if (!isSortedUnique(d.tags)) return 'tags are not sorted and unique';
  if (!isSortedUnique(d.tasks.map((t) => t.taskId))) return 'tasks are not sorted by taskId';
  const unsorted = d.tasks.find((t) => !isSortedUnique(t.upstream));
  if (unsorted !== undefined) return `the upstream of task ${quote(unsorted.taskId)} is not sorted and unique`;
  return null;
}

function isSortedUnique(values: readonly string[]): boolean {
  for (let i = 1; i < values.length; i++) if (!(values[i - 1]! < values[i]!)) return false;
  return true;
}
