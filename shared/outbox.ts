import { sql } from 'kysely';
import { Value } from 'typebox/value';
import { currentRequestId } from './context.js';
import type { Trx } from './db/index.js';
import { jobs, type JobName, type JobPayload } from './queues.js';
import { fits } from './schemas.js';

export const OUTBOX_CHANNEL = 'outbox';

export interface EnqueueOptions {
  requestId?: string;
  delayMs?: number;
}

/** Throws a TypeError naming the first mismatch when `payload` does not fit its job's schema. */
export function assertJobPayload(name: JobName, payload: unknown): void {
  if (fits(jobs[name].payload, payload)) return;
  const first = Value.Errors(jobs[name].payload, payload)[0];
  throw new TypeError(`invalid payload for job ${name}: ${first?.instancePath} ${first?.message}`);
}

/**
 * Adds a job inside the caller's transaction: it reaches Redis only if the transaction commits
 * (the relay in the worker moves it, with the outbox id as the BullMQ job id). NOTIFY is transactional
 * too, so the relay wakes exactly when the row becomes visible.
 */
export async function enqueue<N extends JobName>(
  trx: Trx,
  name: N,
  payload: JobPayload<N>,
  opts: EnqueueOptions = {},
): Promise<string> {
  const def = jobs[name];
  assertJobPayload(name, payload);
  const row = await trx
    .insertInto('outbox')
    .values({
      queue: def.queue,
      name,
      payload: JSON.stringify(payload),
      requestId: opts.requestId ?? currentRequestId() ?? null,
      delayMs: opts.delayMs ?? 0,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await sql`SELECT pg_notify(${OUTBOX_CHANNEL}, '')`.execute(trx);
  return row.id;
}
