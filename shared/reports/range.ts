import { BadRequestError, ValidationError } from '../errors.js';

/** Longest range a report or export answers, in days (two years and a leap day). */
const MAX_RANGE_DAYS = 731;
const DEFAULT_RANGE_DAYS = 30;
const DAY_MS = 86_400_000;

/** Local calendar dates (`YYYY-MM-DD`) in the shop's time zone, `to` inclusive. */
export interface DateRange {
  from: string;
  to: string;
}

/** Today's date in a time zone, as `YYYY-MM-DD`. */
export function todayIn(timeZone: string, now = new Date()): string {
  // en-CA prints ISO dates.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}

const fromDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
/** Days since the epoch; NaN for anything but a real calendar date (Date.parse alone takes 30 February). */
const toDay = (date: string) => {
  const day = Date.parse(`${date}T00:00:00Z`) / DAY_MS;
  return /^\d{4}-\d{2}-\d{2}$/.test(date) && Number.isInteger(day) && fromDay(day) === date ? day : NaN;
};

export const addDays = (date: string, days: number) => fromDay(toDay(date) + days);
/** Days in a range, both ends counted. */
const daysIn = (r: DateRange) => toDay(r.to) - toDay(r.from) + 1;

/** Validates a range from a query (either end may be missing: the default is the last 30 days). */
export function resolveRange(
  query: { from?: string; to?: string },
  timeZone: string,
  now = new Date(),
): DateRange {
  const problems = (['from', 'to'] as const)
    .filter((k) => query[k] !== undefined && !Number.isFinite(toDay(query[k])))
    .map((k) => ({ path: `/${k}`, message: 'must be a date YYYY-MM-DD' }));
  if (problems.length) throw new ValidationError('The date range is invalid', problems);
  const to = query.to ?? todayIn(timeZone, now);
  const from = query.from ?? addDays(to, -(DEFAULT_RANGE_DAYS - 1));
  if (from > to)
    throw new ValidationError('The date range is invalid', [
      { path: '/from', message: 'must not be after "to"' },
    ]);
  if (daysIn({ from, to }) > MAX_RANGE_DAYS) {
    throw new BadRequestError('range_too_large', `A range covers at most ${MAX_RANGE_DAYS} days`, [
      { path: '/to', message: `at most ${MAX_RANGE_DAYS} days after "from"` },
    ]);
  }
  return { from, to };
}

/** The range of the same length that ends the day before this one starts. */
export function previousPeriod(r: DateRange): DateRange {
  const to = addDays(r.from, -1);
  return { from: addDays(to, -(daysIn(r) - 1)), to };
}
