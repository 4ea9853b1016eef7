/**
 * Spreadsheet formula injection (CWE-1236): a cell starting with `= + - @` (or a tab or carriage return,
 * which some spreadsheets skip before reading one) would run as a formula when the file is opened.
 * Such a cell is written with a leading `'`, which spreadsheets show as text; an import takes it off again,
 * so an export re-imports to the same data.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
export const escapeCsvCell = (value: string): string => (FORMULA_START.test(value) ? `'${value}` : value);
export const unescapeCsvCell = (value: string): string =>
  value.startsWith("'") && FORMULA_START.test(value.slice(1)) ? value.slice(1) : value;
