import { sql } from 'kysely';
import type { Db, Trx } from '../db/index.js';
import type { SnapshotSource } from './schemas.js';

/**
 * Where report reads go: the replica when one is configured and close enough behind the primary, else
 * the primary. Every report reads one snapshot (a REPEATABLE READ READ ONLY transaction), so its totals,
 * buckets and previous period are all of the same instant.
 */
export interface ReadSource {
  primary: Db;
  replica?: Db;
  /** A replica further behind than this is skipped. */
  maxLagSeconds: number;
  /** Told when a replica was skipped (metrics, logs); never decides anything. */
  onFallback?: (reason: 'lagging' | 'unreachable', detail: string) => void;
}

export interface SnapshotInfo {
  /** The instant the data describes: the transaction's start, less the replica's lag. */
  asOf: string;
  source: SnapshotSource;
}

class ReplicaLagging extends Error {
  constructor(readonly lagSeconds: number) {
    super(`replica is ${lagSeconds} s behind`);
  }
}

async function readOn<T>(
  db: Db,
  source: SnapshotInfo['source'],
  maxLag: number | null,
  fn: (trx: Trx, info: SnapshotInfo) => Promise<T>,
): Promise<{ value: T } & SnapshotInfo> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      // The first statement fixes the snapshot; asking for the lag in it costs no extra round trip.
      const { rows } = await sql<{
        lag: number;
        now: Date;
      }>`SELECT replica_lag_seconds() AS lag, now() AS now`.execute(trx);
      const { lag, now } = rows[0];
      if (maxLag !== null && !(lag <= maxLag)) throw new ReplicaLagging(lag);
      const info = {
        asOf: new Date(now.getTime() - (Number.isFinite(lag) ? lag : 0) * 1000).toISOString(),
        source,
      };
      return { value: await fn(trx, info), ...info };
    });
}

/** Runs `fn` in one read-only snapshot on the replica if it may be used, else on the primary. */
export async function readSnapshot<T>(
  src: ReadSource,
  fn: (trx: Trx, info: SnapshotInfo) => Promise<T>,
): Promise<{ value: T } & SnapshotInfo> {
  if (src.replica) {
    try {
      return await readOn(src.replica, 'replica', src.maxLagSeconds, fn);
    } catch (err) {
      if (err instanceof ReplicaLagging) src.onFallback?.('lagging', err.message);
      else if (isConnectionError(err)) src.onFallback?.('unreachable', (err as Error).message);
      else throw err;
    }
  }
  return readOn(src.primary, 'primary', null, fn);
}

/** Errors that say the replica could not be reached (not that our query was wrong). */
function isConnectionError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'ENOTFOUND',
      'EHOSTUNREACH',
      '57P01',
      '57P03',
      '08006',
      '08001',
      '08004',
      '3D000',
    ].includes(code) ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(String((err as Error)?.message))
  );
}
