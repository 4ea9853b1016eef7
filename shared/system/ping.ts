import type { Db } from '../db/index.js';
import { enqueue } from '../outbox.js';

/** The smallest real job: proves API → outbox → Redis → worker end to end. */
export async function requestPing(db: Db, message: string): Promise<{ jobId: string }> {
  return db.transaction().execute(async (trx) => ({ jobId: await enqueue(trx, 'system.ping', { message }) }));
}
