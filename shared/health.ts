import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { DbOrTrx } from './db/index.js';

const within = <T>(ms: number, p: Promise<T>) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);

export interface DependencyReport {
  ok: boolean;
  checks: { postgres: 'ok' | 'failing'; redis: 'ok' | 'failing' };
  failing: string[];
}

/** Readiness: Postgres and Redis each answer within the timeout. */
export async function checkDependencies(db: DbOrTrx, redis: Redis, timeoutMs = 1_500): Promise<DependencyReport> {
  const [pg, rd] = await Promise.allSettled([
    within(timeoutMs, sql`SELECT 1`.execute(db)),
    within(timeoutMs, redis.ping()),
  ]);
  const checks = {
    postgres: pg.status === 'fulfilled' ? ('ok' as const) : ('failing' as const),
    redis: rd.status === 'fulfilled' ? ('ok' as const) : ('failing' as const),
  };
  const failing = Object.entries(checks)
    .filter(([, v]) => v === 'failing')
    .map(([k]) => k);
  return { ok: failing.length === 0, checks, failing };
}
