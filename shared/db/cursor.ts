import { BadRequestError } from '../errors.js';

/**
 * The project's one keyset-cursor codec. A cursor is opaque to clients: base64url of a JSON array
 * holding the sort key of the last row. Decoding checks every part against the SQL type it is
 * compared with, so a crafted cursor answers 400 `invalid_cursor` and never reaches PostgreSQL as
 * a value it cannot cast (which would be a 500).
 */
export type CursorPart = 'text' | 'uuid' | 'timestamptz' | 'bigint' | 'decimal';

type Decoded<K extends readonly CursorPart[]> = { -readonly [I in keyof K]: string };

export const encodeCursor = (key: readonly (string | number)[]): string =>
  Buffer.from(JSON.stringify(key)).toString('base64url');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIGINT = /^-?\d{1,18}$/;
// Decimal text as PostgreSQL prints real/numeric (ts_rank, rating); the exponent is bounded so a real never overflows.
const DECIMAL = /^-?\d{1,20}(\.\d{1,20})?(e[+-]?[0-3]?\d)?$/i;
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-](\d{2})(:?\d{2})?)?$/;

function validTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  if (m[9] !== undefined && Number(m[9]) > 15) return false;
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCDate() === day && d.getUTCMonth() === month - 1;
}

function validPart(value: unknown, part: CursorPart): value is string {
  if (typeof value !== 'string' || value.length > 200 || value.includes('\u0000')) return false;
  switch (part) {
    case 'text':
      return true;
    case 'uuid':
      return UUID.test(value);
    case 'bigint':
      return BIGINT.test(value);
    case 'decimal':
      return DECIMAL.test(value);
    case 'timestamptz':
      return validTimestamp(value);
  }
}

export class InvalidCursorError extends BadRequestError {
  constructor() {
    super('invalid_cursor', 'The cursor is not valid for this list', [
      { path: '/cursor', message: 'is not a cursor this list produced' },
    ]);
  }
}

/** Decodes a cursor whose parts have the given SQL types (numbers are carried as their text form). */
export function decodeCursor<const K extends readonly CursorPart[]>(cursor: string, parts: K): Decoded<K> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (!Array.isArray(value) || value.length !== parts.length) throw new InvalidCursorError();
  const out = value.map((v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v));
  if (!out.every((v, i) => validPart(v, parts[i]))) throw new InvalidCursorError();
  return out as Decoded<K>;
}
