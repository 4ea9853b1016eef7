import { ValidationError } from '../errors.js';

/** Opaque keyset cursors: the sort key of the last row, base64url JSON. */
export const encodeCursor = (key: readonly (string | number)[]) => Buffer.from(JSON.stringify(key)).toString('base64url');

export function decodeCursor<T extends unknown[]>(cursor: string, length: number): T {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === length && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value as T;
  } catch {
    // fall through
  }
  throw new ValidationError('The cursor is invalid', [{ path: '/cursor', message: 'is not a cursor this list produced' }]);
}
