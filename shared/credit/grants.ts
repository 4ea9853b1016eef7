import { writeAudit } from '../auth/audit.js';
import type { Role } from '../auth/permissions.js';
import type { Db } from '../db/index.js';
import { DomainError, NotFoundError, ValidationError } from '../errors.js';
import { saveProvisional, withIdempotency } from '../idempotency/index.js';
import { creditBalance, listEntries, postEntry } from './ledger.js';
import type { AccountCredit, CreditEntry, CreditGrantBody } from './schemas.js';

export interface GrantRequest {
  userId: string;
  body: CreditGrantBody;
  actor: { id: string; role: Role };
  idempotencyKey: string;
  /** CREDIT_MANAGER_LIMIT: the largest amount (either sign) a manager may move; admins are not limited. */
  managerLimit: number;
}

/**
 * A staff grant (amount > 0) or debit (amount < 0): the entry, the balance and the audit row commit
 * together, once per Idempotency-Key (a replay answers the first entry and moves nothing).
 */
export async function grantCredit(
  db: Db,
  req: GrantRequest,
): Promise<{ entry: CreditEntry; replayed: boolean }> {
  const { amount, reason } = req.body;
  if (amount === 0)
    throw new ValidationError('The amount must not be 0', [{ path: '/amount', message: 'must not be 0' }]);
  if (req.actor.role !== 'admin' && Math.abs(amount) > req.managerLimit) {
    throw new DomainError(
      403,
      'limit_exceeded',
      `A manager can move at most ${req.managerLimit} kobo of credit at once`,
    );
  }
  const result = await withIdempotency(
    db,
    {
      scope: 'credit-grant',
      owner: `user:${req.actor.id}`,
      key: req.idempotencyKey,
      request: { userId: req.userId, body: req.body },
    },
    {
      run: (claimId) =>
        db.transaction().execute(async (trx) => {
          const user = await trx
            .selectFrom('users')
            .select('id')
            .where('id', '=', req.userId)
            .executeTakeFirst();
          if (!user) throw new NotFoundError('User');
          const entry = await postEntry(trx, {
            userId: req.userId,
            amount,
            kind: amount > 0 ? 'grant' : 'debit',
            reason,
            actorId: req.actor.id,
          });
          await writeAudit(trx, {
            actorId: req.actor.id,
            action: amount > 0 ? 'credit.granted' : 'credit.debited',
            targetType: 'user',
            targetId: req.userId,
            after: { entryId: entry.id, seq: entry.seq, amount, balanceAfter: entry.balanceAfter, reason },
          });
          const answer = { status: 201, body: entry };
          await saveProvisional(trx, claimId, answer);
          return answer;
        }),
    },
  );
  return { entry: result.body, replayed: result.replayed };
}

/** Staff view of a customer's credit: the balance and the latest entries. */
export async function accountCredit(db: Db, userId: string, timeZone: string): Promise<AccountCredit> {
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw new NotFoundError('User');
  const [{ balance }, { items }] = await Promise.all([
    creditBalance(db, userId),
    listEntries(db, userId, { timeZone, limit: 20 }),
  ]);
  return { userId, balance, entries: items };
}
