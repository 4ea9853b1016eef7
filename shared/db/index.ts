import { CamelCasePlugin, CompiledQuery, Kysely, PostgresDialect, type Transaction } from 'kysely';
import { createHash } from 'node:crypto';
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

/**
 * Statements the hot reads run as named (server-side prepared) statements, by their exact SQL text. PostgreSQL
 * plans an unnamed statement on every execution: for the product detail (four subqueries building JSON) planning
 * costs more than running it, so an uncached detail ran at a third of the rate it does prepared. A connection
 * parses a named statement once and keeps its plan. Only texts whose values are all parameters are registered
 * (one per form of a query, never per request), and at most MAX_PREPARED, so every backend holds a small
 * bounded set of plans. Behind PgBouncer in transaction mode this needs `max_prepared_statements` > 0 (PgBouncer ≥ 1.21), which tracks them per server connection.
 */
const preparedNames = new Map<string, string>();
const MAX_PREPARED = 200;

/**
 * The query to run as a named prepared statement (see preparedNames). The name is a hash of the text, so a
 * name can never stand for two texts. Past the bound it runs as before, unnamed.
 */
export function prepared(text: string, parameters: readonly unknown[]): CompiledQuery {
  statementName(text);
  return CompiledQuery.raw(text, [...parameters]);
}

/** The registered name of a statement's text, registering it while there is room. */
function statementName(text: string): string | undefined {
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < MAX_PREPARED) {
    name = `agape_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return name;
}

/** The pool behind each handle createDb made, with its query hook (see `queryPrepared`). */
const pools = new WeakMap<Kysely<DB>, { pool: pg.Pool; onQuery?: (sql: string) => void }>();

/**
 * Runs a registered statement (see `prepared`) and returns its rows. Name the columns with one lowercase word each:
 * the rows come as the driver gives them (no camelCase mapping), except inside a transaction. On a handle from
 * createDb it goes straight to the pool: Kysely's executor, connection wrapper and result plugins cost ~25-35 µs
 * of CPU a query (issue 16), more than a short read's whole driver work. Inside a transaction it runs through
 * the transaction as any query does.
 */
export async function queryPrepared<R>(db: DbOrTrx, text: string, parameters: readonly unknown[]): Promise<R[]> {
  const direct = pools.get(db);
  if (direct === undefined) return (await db.executeQuery<R>(prepared(text, parameters))).rows;
  statementName(text);
  // Text and values: PreparingClient names the statement.
  const result = await direct.pool.query<R & pg.QueryResultRow>(text, parameters as unknown[]);
  direct.onQuery?.(text);
  return result.rows;
}

type QueryCallback = (err: Error | null, result?: pg.QueryResult) => void;

/**
 * pg's client, naming the registered statements (Kysely's driver and pg-pool send only text and values). The
 * query is made from the text and named afterwards: given a config object, pg copies it through its property
 * descriptors onto a new object on every query (~3-4 µs of CPU, issue 16).
 */
class PreparingClient extends pg.Client {}
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the client as `this` below
const unnamedQuery = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
PreparingClient.prototype.query = function query(this: pg.Client, ...args: unknown[]) {
  const [text, values, callback] = args;
  const name = typeof text === 'string' && Array.isArray(values) && args.length <= 3 ? preparedNames.get(text) : undefined;
  if (name === undefined) return unnamedQuery.apply(this, args);
  // `name` and `callback` are fields pg reads when it runs a query; its typings leave them out.
  const query = new pg.Query(text as string, values as unknown[]) as pg.Query & { name?: string; callback?: QueryCallback };
  query.name = name;
  if (typeof callback === 'function') {
    query.callback = callback as QueryCallback;
    return unnamedQuery.call(this, query);
  }
  return new Promise((resolve, reject) => {
    query.callback = ((err, result) => {
      if (err === null || err === undefined) return resolve(result);
      // As pg does for the queries it wraps: a stack that leads back to the caller, not to the socket.
      Error.captureStackTrace(err);
      reject(err);
    }) as QueryCallback;
    unnamedQuery.call(this, query);
  });
} as typeof pg.Client.prototype.query;

/** One pool per process; close it with `db.destroy()`. */
export function createDb(connectionString: string, opts: DbOptions = {}): Kysely<DB> {
  const pool = new pg.Pool({
    Client: PreparingClient,
    connectionString,
    max: opts.poolSize ?? 10,
    application_name: opts.applicationName ?? 'agape',
    // Fail fast instead of hanging a request when the database is unreachable.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client erroring (database restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    // Keys inside JSON columns (product attributes, Paystack payloads, addresses) are data: keep them as stored.
    plugins: [new CamelCasePlugin({ maintainNestedObjectKeys: true })],
    log: opts.onQuery
      ? (event) => {
          if (event.level === 'query') opts.onQuery!(event.query.sql);
        }
      : undefined,
  });
  pools.set(db, { pool, onQuery: opts.onQuery });
  return db;
}
