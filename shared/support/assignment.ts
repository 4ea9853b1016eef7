import { sql } from 'kysely';
import { can, roles } from '../auth/permissions.js';
import type { Trx } from '../db/index.js';

/** Who takes conversations: roles that read only what is assigned to them (support agents). */
export const agentRoles = roles.filter((r) => can(r, 'support:read') && !can(r, 'support:read:any'));

/**
 * The active agent with the fewest conversations not closed (ties: the lowest id), or null when there
 * is none. Choosing and inserting must not interleave with another assignment (both would see the same
 * loads and pick the same agent): a transaction-scoped advisory lock queues assignments, held until the
 * caller's commit, so 50 conversations opened at once spread with loads within one.
 */
export async function pickLeastLoadedAgent(trx: Trx): Promise<string | null> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('support.assign'))`.execute(trx);
  const row = await trx
    .selectFrom('users as u')
    .leftJoin('supportConversations as c', (j) => j.onRef('c.assigneeId', '=', 'u.id').on('c.status', '<>', 'closed'))
    .select('u.id')
    .where('u.role', 'in', agentRoles)
    .where('u.disabledAt', 'is', null)
    .groupBy('u.id')
    .orderBy(sql`count(c.id)`)
    .orderBy('u.id')
    .limit(1)
    .executeTakeFirst();
  return row?.id ?? null;
}

/** Assigns by hand: the target must be able to read support conversations (and be active). */
export async function assignableUser(trx: Trx, userId: string): Promise<boolean> {
  const user = await trx.selectFrom('users').select('role').where('id', '=', userId).where('disabledAt', 'is', null).executeTakeFirst();
  return !!user && can(user.role, 'support:read');
}
