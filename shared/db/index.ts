import { CamelCasePlugin, Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DB } from './types.js';

export type { DB } from './types.js';
export type Db = Kysely<DB>;
export type Trx = Transaction<DB>;
/** A handle that may or may not be inside a transaction: read-only helpers take this. */
export type DbOrTrx = Kysely<DB> | Transaction<DB>;

// Parsers are process-wide in pg, so they are set once here. Money (kobo), counts and Paystack ids
// all fit in 2^53; refusing beyond that is safer than silently losing precision.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${v} is beyond 2^53`);
  return n;
});
// numeric is only used for ratios (ratings), never money.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

export interface DbOptions {
  poolSize?: number;
  applicationName?: string;
  /** Called for every query: tests use it to count round trips. */
  onQuery?: (sql: string) => void;
}

/** One pool per process; close it with `db.destroy()`. */
export function createDb(connectionString: string, opts: DbOptions = {}): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString,
    max: opts.poolSize ?? 10,
    application_name: opts.applicationName ?? 'agape',
    // Fail fast instead of hanging a request when the database is unreachable.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client erroring (database restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    // Keys inside JSON columns (product attributes, Paystack payloads, addresses) are data: keep them as stored.
    plugins: [new CamelCasePlugin({ maintainNestedObjectKeys: true })],
    log: opts.onQuery
      ? (event) => {
          if (event.level === 'query') opts.onQuery!(event.query.sql);
        }
      : undefined,
  });
}
