import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import { invalidCredentials } from '../auth/lockout.js';
import { verifyPassword } from '../auth/passwords.js';
import type { TokenRevoker } from '../auth/revocation.js';
import { revokeSessions } from '../auth/sessions.js';
import type { Db, Trx } from '../db/index.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { enqueue } from '../outbox.js';

/**
 * DELETE /me (Nigeria Data Protection Act 2023, right to erasure). In one transaction, under the user's row
 * lock: refused with 409 `open_orders` while an order of theirs is unpaid, paid but not shipped, or in a
 * return; otherwise every personal field listed in shared/customers/personal-data.ts is erased or its rows
 * deleted, while amounts, order lines, stock movements, invoices, payments, refunds and the credit ledger
 * stay as they are — the reports and the ledger still agree to the kobo afterwards. The user row stays
 * (orders, credit entries and reviews point at it) as a disabled placeholder nobody can sign in to.
 * Mail jobs already in Redis and stored export files are withdrawn by a job queued in the same transaction.
 */

export const ERASED_NAME = 'Erased customer';
export const erasedEmail = (userId: string) => `erased+${userId}@erased.invalid`;

/** Order states in which the shop still owes the customer something (or they owe the shop). */
const OPEN_ORDER_STATES = ['pending_payment', 'paid', 'processing'] as const;
/** Return states still in progress. */
const OPEN_RETURN_STATES = ['requested', 'approved', 'received'];

export class OpenOrdersError extends ConflictError {
  constructor(orders: string[]) {
    super('open_orders', 'The account has orders that are not finished (unpaid, not shipped yet, or in a return)', { orders });
  }
}

async function openReturns(trx: Trx, userId: string): Promise<string[]> {
  const { rows } = await sql<{ number: string }>`
    SELECT DISTINCT o.number FROM returns r JOIN orders o ON o.id = r.order_id
    WHERE o.user_id = ${userId} AND r.status::text IN (${sql.join(OPEN_RETURN_STATES)})
  `.execute(trx);
  return rows.map((r) => r.number);
}

/** A shipping address with nothing left but the country (order views still parse it as an address). */
const redactedAddress = sql`jsonb_build_object('name', ${ERASED_NAME}::text, 'phone', '00000', 'line1', 'erased', 'city', 'erased',
  'state', 'erased', 'country', coalesce(shipping_address->>'country', 'NG'))`;

export interface ErasureResult {
  userId: string;
  erasedAt: string;
}

export async function eraseAccount(db: Db, revoker: TokenRevoker, userId: string, password: string): Promise<ErasureResult> {
  const found = await db.selectFrom('users').select(['passwordHash', 'disabledAt', 'role']).where('id', '=', userId).executeTakeFirst();
  if (!found || found.disabledAt) throw new NotFoundError('User');
  // Staff accounts are the actors of audit rows and approvals: an admin disables them instead.
  if (found.role !== 'customer') throw new ForbiddenError('Staff accounts are disabled by an admin, not erased');
  // Outside the transaction: no row lock is held while argon2 works.
  if (!(await verifyPassword(found.passwordHash, password))) throw invalidCredentials();

  const { generation, erasedAt } = await db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select(['id', 'email']).where('id', '=', userId).where('disabledAt', 'is', null).forUpdate().executeTakeFirst();
    if (!user) throw new NotFoundError('User');
    const email = user.email.toLowerCase();
    const placeholder = erasedEmail(userId);
    const mine = sql<boolean>`(user_id = ${userId} OR lower(email::text) = ${email})`;

    const open = await trx
      .selectFrom('orders')
      .select('number')
      .where(mine)
      .where('status', 'in', [...OPEN_ORDER_STATES])
      .execute();
    const returning = await openReturns(trx, userId);
    if (open.length || returning.length) throw new OpenOrdersError([...new Set([...open.map((o) => o.number), ...returning])]);

    const counts: Record<string, number> = {};
    const count = (key: string, r: { numAffectedRows?: bigint; numUpdatedRows?: bigint; numDeletedRows?: bigint }) => {
      counts[key] = Number(r.numAffectedRows ?? r.numUpdatedRows ?? r.numDeletedRows ?? 0);
    };

    // Payments' references before the orders change: Paystack's events about them carry the customer block.
    const { rows: refs } = await sql<{ reference: string }>`
      SELECT p.reference FROM payments p JOIN orders o ON o.id = p.order_id WHERE (o.user_id = ${userId} OR lower(o.email::text) = ${email})
    `.execute(trx);

    count('orders', await sql`
      UPDATE orders SET email = ${placeholder}, customer_name = NULL, client_address = NULL, shipping_address = ${redactedAddress}
      WHERE ${mine}
    `.execute(trx));
    count('webhookEvents', refs.length
      ? await sql`
          UPDATE webhook_events SET payload = payload #- '{data,customer}' #- '{data,metadata}'
          WHERE payload #>> '{data,reference}' IN (${sql.join(refs.map((r) => r.reference))})
        `.execute(trx)
      : {});
    count('couponRedemptions', await sql`UPDATE coupon_redemptions SET email = ${placeholder} WHERE ${mine}`.execute(trx));
    count('emailDeliveries', await sql`UPDATE email_deliveries SET recipient = ${placeholder} WHERE lower(recipient) = ${email}`.execute(trx));

    // Mail not handed to BullMQ yet is simply never sent; mail already handed over keeps its job id (the
    // outbox id) so the withdraw job can take it out of Redis, and loses the address here.
    count('unsentMail', await sql`DELETE FROM outbox WHERE delivered_at IS NULL AND name = 'email.send' AND lower(payload->>'to') = ${email}`.execute(trx));
    const { rows: handedOver } = await sql<{ id: string }>`
      UPDATE outbox SET payload = jsonb_set(jsonb_set(payload, '{to}', to_jsonb(${placeholder}::text)), '{data}', '{}'::jsonb)
      WHERE name = 'email.send' AND lower(payload->>'to') = ${email}
      RETURNING id
    `.execute(trx);
    count('withdrawnMail', { numAffectedRows: BigInt(handedOver.length) });

    count('idempotencyKeys', await sql`
      DELETE FROM idempotency_keys WHERE owner = ${userId} OR (response_body IS NOT NULL AND lower(response_body::text) LIKE ${`%${email.replace(/[\\%_]/g, (c) => `\\${c}`)}%`})
    `.execute(trx));
    count('addresses', await trx.deleteFrom('userAddresses').where('userId', '=', userId).executeTakeFirst());
    count('notes', await trx.deleteFrom('customerNotes').where('customerId', '=', userId).executeTakeFirst());
    // Staff labels are about the person too.
    await trx.updateTable('customerProfiles').set({ tags: [] }).where('userId', '=', userId).execute();
    count('notifications', await trx.deleteFrom('notifications').where('userId', '=', userId).executeTakeFirst());
    await trx.deleteFrom('notificationPreferences').where('userId', '=', userId).execute();
    count('carts', await trx.deleteFrom('carts').where('userId', '=', userId).executeTakeFirst());
    count('attachments', await trx.updateTable('supportAttachments').set({ filename: 'attachment' }).where('uploaderId', '=', userId).executeTakeFirst());
    // Returns keep their units and amounts (the refund ledger); what the customer wrote or uploaded goes.
    count('returnAttachments', await trx.updateTable('returnAttachments').set({ filename: 'attachment' }).where('uploaderId', '=', userId).executeTakeFirst());
    count('returnNotes', await sql`
      UPDATE return_items ri SET note = NULL FROM returns r JOIN orders o ON o.id = r.order_id
      WHERE ri.return_id = r.id AND o.user_id = ${userId} AND ri.note IS NOT NULL
    `.execute(trx));

    // Sign-ins: every session revoked (its devices go with it, by trigger), then stripped of where it came from.
    await revokeSessions(trx, userId, 'revoked_by_user');
    count('devices', await trx.deleteFrom('devices').where('userId', '=', userId).executeTakeFirst());
    await sql`DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ${userId})`.execute(trx);
    count('sessions', await trx.updateTable('sessions').set({ ip: null, userAgent: null }).where('userId', '=', userId).executeTakeFirst());
    await trx.deleteFrom('userTokens').where('userId', '=', userId).execute();
    await trx.deleteFrom('recoveryCodes').where('userId', '=', userId).execute();
    // Stored archives die with the account (the withdraw job deletes the files).
    await trx.updateTable('dataExports').set({ expiresAt: sql`now()` }).where('userId', '=', userId).where('deletedAt', 'is', null).execute();

    const erased = await trx
      .updateTable('users')
      .set({
        email: placeholder,
        name: ERASED_NAME,
        phone: null,
        // Nothing verifies against random bytes that are not an argon2 hash: nobody signs in again.
        passwordHash: `!erased:${randomBytes(16).toString('hex')}`,
        emailVerifiedAt: null,
        totpSecretEnc: null,
        totpPendingSecretEnc: null,
        totpEnabledAt: null,
        totpLastStep: null,
        failedLoginCount: 0,
        lockedUntil: null,
        disabledAt: sql`now()`,
        tokenGeneration: sql<number>`token_generation + 1`,
      })
      .where('id', '=', userId)
      .returning(['tokenGeneration', 'disabledAt'])
      .executeTakeFirstOrThrow();

    await enqueue(trx, 'customers.withdraw-mail', { jobIds: handedOver.map((r) => r.id).slice(0, 10_000), userId });
    // What was done, never the values: audit rows can never be changed.
    await writeAudit(trx, { actorId: userId, action: 'account.erased', targetType: 'user', targetId: userId, after: counts });
    return { generation: erased.tokenGeneration, erasedAt: erased.disabledAt!.toISOString() };
  });
  await revoker.user(userId, generation);
  return { userId, erasedAt };
}
