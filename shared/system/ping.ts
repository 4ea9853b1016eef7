import { writeAudit } from '../auth/audit.js';
import type { Db } from '../db/index.js';
import { enqueue } from '../outbox.js';

/** The smallest real job: proves API → outbox → Redis → worker end to end. */
export async function requestPing(db: Db, message: string, actorId: string | null = null): Promise<{ jobId: string }> {
  return db.transaction().execute(async (trx) => {
    const jobId = await enqueue(trx, 'system.ping', { message });
    await writeAudit(trx, { actorId, action: 'system.ping_sent', targetType: 'job', targetId: jobId, after: { message } });
    return { jobId };
  });
}
