import { accept, didYouMean, quote, refuse, type Checked } from './problems.ts';

/**
 * A DAG's schedule: one of Airflow's presets, or a five-field cron expression in the syntax
 * Airflow's croniter accepts (numbers, `*`, ranges `a-b`, steps `/n`, lists `a,b`, month and
 * weekday names, `?` for either day field). croniter's extensions (`L`, `W`, `#`, `H`, a
 * seconds field) are refused with a clear message rather than half-supported.
 */

export const SCHEDULE_PRESETS = [
  '@once',
  '@continuous',
  '@hourly',
  '@daily',
  '@weekly',
  '@monthly',
  '@quarterly',
  '@yearly',
  '@annually',
] as const;

interface CronField {
  name: string;
  min: number;
  max: number;
  /** Three-letter names, the first meaning `min`. */
  names?: readonly string[];
  /** The day fields accept `?` as croniter does: "no particular value". */
  question?: boolean;
}

const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31, question: true },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  // 7 is Sunday as well as 0, as in cron.
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], question: true },
];

/** Longest day of each month; February counts its leap day, since a schedule may wait for it. */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * The schedule as it will be stored (a preset, or the cron fields joined by single spaces so
 * that reformatting a file does not make a new DAG version), or why it is not one.
 */
export function checkSchedule(schedule: string): Checked<string> {
  const text = schedule.trim();
  if (text.startsWith('@')) {
    if ((SCHEDULE_PRESETS as readonly string[]).includes(text)) return accept(text);
    const hint = didYouMean(text, SCHEDULE_PRESETS);
    return refuse(`not one of the presets${hint === '' ? ` (${SCHEDULE_PRESETS.join(', ')})` : `: ${hint}`}`);
  }
  const parts = text === '' ? [] : text.split(/\s+/);
  if (parts.length !== FIELDS.length) {
    return refuse(
      `a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has ${parts.length}` +
        (parts.length === 6 ? ' (a seconds field is not supported)' : ''),
    );
  }
  const values: boolean[][] = [];
  for (let i = 0; i < FIELDS.length; i++) {
    const field = FIELDS[i]!;
    const checked = fieldValues(parts[i]!, field);
    if (!checked.ok) return refuse(`${field.name} field ${quote(parts[i]!)}: ${checked.problem}`);
    values.push(checked.value);
  }
  const never = neverFires(values[2]!, values[3]!, parts[4]!);
  if (never !== null) return refuse(never);
  return accept(parts.join(' '));
}

/** Which values of the field the text selects (index = value), or why the text is not valid. */
function fieldValues(text: string, field: CronField): Checked<boolean[]> {
  const selected: boolean[] = new Array<boolean>(field.max + 1).fill(false);
  for (const item of text.split(',')) {
    if (item === '') return refuse('a list has an empty item');
    const [range, step, extra] = item.split('/');
    if (extra !== undefined) return refuse(`${quote(item)} has more than one '/'`);
    let every = 1;
    if (step !== undefined) {
      if (!/^\d+$/.test(step)) return refuse(`step ${quote(step)} is not a whole number`);
      every = Number(step);
      const span = field.max - field.min + 1;
      if (every < 1 || every > span) return refuse(`step ${every} is out of range 1-${span}`);
    }
    let low: number;
    let high: number;
    if (range === '*' || (range === '?' && field.question === true)) {
      low = field.min;
      high = field.max;
    } else {
      const bounds = range!.split('-');
      if (bounds.length > 2) return refuse(`${quote(range!)} is not a value or a range a-b`);
      const from = fieldValue(bounds[0]!, field);
      if (!from.ok) return from;
      low = from.value;
      if (bounds.length === 2) {
        const to = fieldValue(bounds[1]!, field);
        if (!to.ok) return to;
        high = to.value;
        if (high < low) return refuse(`range ${quote(range!)} runs backwards (${low} > ${high})`);
      } else {
        // "5/15" means from 5 to the end in steps of 15, as croniter reads it.
        high = step === undefined ? low : field.max;
      }
    }
    for (let v = low; v <= high; v += every) selected[v] = true;
  }
  if (field.name === 'day-of-week' && selected[7] === true) selected[0] = true;
  return accept(selected);
}

function fieldValue(text: string, field: CronField): Checked<number> {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < field.min || value > field.max) return refuse(`${value} is out of range ${field.min}-${field.max}`);
    return accept(value);
  }
  const index = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (index >= 0) return accept(field.min + index);
  if (text === '') return refuse('a value is missing');
  const expected = field.names === undefined ? 'a number' : `a number or a ${field.name === 'month' ? 'month' : 'weekday'} name (${field.names[0]}, ${field.names[1]}, ...)`;
  const unsupported = /^(?:L|LW|\d+[LW]|\d+#\d+|H.*)$/i.test(text) ? " (croniter's L, W, # and H are not supported)" : '';
  return refuse(`${quote(text)} is not ${expected}${unsupported}`);
}

/**
 * A day-of-month that none of the selected months has (`0 0 30 2 *`) never fires. Only when
 * the weekday field starts with `*` or `?`: otherwise cron fires on either field's match.
 */
function neverFires(days: boolean[], months: boolean[], weekdayText: string): string | null {
  if (!weekdayText.startsWith('*') && !weekdayText.startsWith('?')) return null;
  let firstDay = 0;
  while (days[firstDay] !== true) firstDay++;
  for (let month = 1; month <= 12; month++) {
    if (months[month] === true && MONTH_DAYS[month - 1]! >= firstDay) return null;
  }
  const chosen = MONTH_NAMES.filter((_, i) => months[i + 1] === true);
  if (chosen.length === 1) return `it never fires: ${chosen[0]} has no day ${firstDay}`;
  return `it never fires: none of its months (${chosen.join(', ')}) has a day ${firstDay}`;
}
