import { describe, expect, it } from 'vitest';
import { checkSchedule, SCHEDULE_PRESETS } from './cron.ts';

const problem = (schedule: string) => {
  const checked = checkSchedule(schedule);
  return checked.ok ? null : checked.problem;
};

describe('checkSchedule', () => {
  it.each([
    '* * * * *',
    '0 0 * * *',
    '*/15 * * * *',
    '5/15 * * * *',
    '0 9-17/2 * * 1-5',
    '0 0 1,15 * *',
    '30 2 * * SUN',
    '0 6 * jan-mar mon,wed,Fri',
    '0 0 ? * 7',
    '59 23 31 12 *',
    '0 0 29 2 *',
    '0 0 31 2 1',
  ])('accepts %j', (schedule) => {
    expect(problem(schedule)).toBeNull();
  });

  it.each(SCHEDULE_PRESETS)('accepts the preset %s', (preset) => {
    expect(checkSchedule(preset)).toEqual({ ok: true, value: preset });
  });

  it('stores cron fields joined by single spaces, so reformatting keeps the DAG version', () => {
    expect(checkSchedule('  0   6\t* *  MON ')).toEqual({ ok: true, value: '0 6 * * MON' });
  });

  it.each([
    ['61 * * * *', "minute field '61': 61 is out of range 0-59"],
    ['0 24 * * *', "hour field '24': 24 is out of range 0-23"],
    ['0 0 0 * *', "day-of-month field '0': 0 is out of range 1-31"],
    ['0 0 * 13 *', "month field '13': 13 is out of range 1-12"],
    ['0 0 * * 8', "day-of-week field '8': 8 is out of range 0-7"],
    ['0 0 * * MOX', "day-of-week field 'MOX': 'MOX' is not a number or a weekday name"],
    ['0 0 * smarch *', "month field 'smarch': 'smarch' is not a number or a month name"],
    ['*/0 * * * *', "minute field '*/0': step 0 is out of range 1-60"],
    ['*/x * * * *', "minute field '*/x': step 'x' is not a whole number"],
    ['0 17-9 * * *', "hour field '17-9': range '17-9' runs backwards (17 > 9)"],
    ['0 0 1,,2 * *', "day-of-month field '1,,2': a list has an empty item"],
    ['0 0 1-2-3 * *', "day-of-month field '1-2-3': '1-2-3' is not a value or a range a-b"],
    ['0 0 */2/3 * *', "has more than one '/'"],
    ['? * * * *', "minute field '?': '?' is not a number"],
    ['0 0 L * *', "croniter's L, W, # and H are not supported"],
    ['0 0 * * 5#2', "croniter's L, W, # and H are not supported"],
    ['0 0 * *', 'a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 4'],
    ['0 0 0 * * *', 'a seconds field is not supported'],
    ['', 'this one has 0'],
    ['@dayly', "not one of the presets: did you mean '@daily'?"],
    ['@fortnightly', 'not one of the presets (@once, @continuous, @hourly'],
    ['0 0 30 2 *', 'it never fires: February has no day 30'],
    ['0 0 31 2,4 *', 'it never fires: none of its months (February, April) has a day 31'],
  ])('refuses %j, naming the field and the fault', (schedule, expected) => {
    expect(problem(schedule)).toContain(expected);
  });
});
