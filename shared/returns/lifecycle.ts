import { sql } from 'kysely';
import type { Trx } from '../db/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { commitOrderReservation, releaseLines } from '../inventory/index.js';
import { transitionOrder } from '../orders/state.js';
import { createRefund } from '../payments/refund-request.js';
import { appliedRemaining, refundSources } from '../payments/refundable.js';
import { announceStatus, type ReturnSubject } from './notices.js';
import { liveReturnStatuses, type ReturnStatus } from './schemas.js';

/**
 * The return state machine and the resolution, in one place. Every transition runs under the row lock of
 * the return's order and then of the return (in that order everywhere: refunds lock the order first too), so
 * two staff members receiving at once, or a customer cancelling while staff approve, are decided one after
 * the other and the loser sees the new state: 409 `invalid_transition`.
 */

const transitions: Readonly<Record<ReturnStatus, readonly ReturnStatus[]>> = {
  requested: ['approved', 'rejected', 'cancelled', 'expired'],
  approved: ['received', 'cancelled', 'expired'],
  received: ['completed'],
  rejected: [],
  completed: [],
  cancelled: [],
  expired: [],
};

export function assertTransition(from: ReturnStatus, to: ReturnStatus): void {
  if (!transitions[from].includes(to)) {
    throw new ConflictError('invalid_transition', `A return cannot go from ${from} to ${to}`, { returnStatus: from });
  }
}

/** Locks the return's order, then the return; 404 when there is none. */
export async function lockReturn(trx: Trx, returnId: string) {
  const head = await trx.selectFrom('returns').select('orderId').where('id', '=', returnId).executeTakeFirst();
  if (!head) throw new NotFoundError('Return');
  const order = await trx
    .selectFrom('orders')
    .select(['id', 'number', 'userId', 'email', 'customerName', 'currency', 'shipping', 'amountPaid'])
    .where('id', '=', head.orderId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const ret = await trx.selectFrom('returns').selectAll().where('id', '=', returnId).forUpdate().executeTakeFirstOrThrow();
  const subject: ReturnSubject = { id: ret.id, orderId: order.id, orderNumber: order.number, userId: ret.userId };
  return { ret, order, subject };
}
export type Locked = Awaited<ReturnType<typeof lockReturn>>;

/** Moves the return to `to` (checked), with the columns that go with it. */
export async function setStatus(trx: Trx, locked: Locked, to: ReturnStatus, set: Record<string, unknown> = {}): Promise<void> {
  assertTransition(locked.ret.status, to);
  const stamp: Partial<Record<ReturnStatus, string>> = {
    approved: 'approvedAt',
    rejected: 'rejectedAt',
    received: 'receivedAt',
    completed: 'completedAt',
    cancelled: 'cancelledAt',
    expired: 'expiredAt',
  };
  const column = stamp[to];
  await trx
    .updateTable('returns')
    .set({ status: to, updatedAt: sql`now()`, ...(column ? { [column]: sql`now()` } : {}), ...set })
    .where('id', '=', locked.ret.id)
    .execute();
}

/** The exchange variants and units a return holds (one line per variant). */
export async function exchangeLines(trx: Trx, returnId: string) {
  return trx
    .selectFrom('returnItems')
    .select(['exchangeVariantId as variantId', sql<number>`sum(quantity)::int`.as('quantity')])
    .where('returnId', '=', returnId)
    .where('exchangeVariantId', 'is not', null)
    .groupBy('exchangeVariantId')
    .execute()
    .then((rows) => rows.map((r) => ({ variantId: r.variantId!, quantity: r.quantity })));
}

/** Gives an exchange's held units back (cancel, expiry); once: `exchange_held` is cleared with it. */
export async function releaseExchangeHold(trx: Trx, locked: Locked, reason: string): Promise<void> {
  if (!locked.ret.exchangeHeld) return;
  await releaseLines(trx, locked.order.id, await exchangeLines(trx, locked.ret.id), reason);
  await trx.updateTable('returns').set({ exchangeHeld: false }).where('id', '=', locked.ret.id).execute();
}

/** What the order can still give back: every refund counts, to a card or to store credit. */
async function moneyLeft(trx: Trx, locked: Locked): Promise<number> {
  return appliedRemaining(locked.order, await refundSources(trx, locked.order.id));
}

/**
 * The resolution of a received return, run once (by the transition to `received`, or by a staff retry of
 * a failed refund, both under the locks):
 *  - refund: one refund keyed by (return, attempt) through the refund machinery (Σ refunds ≤ paid is its
 *    check under the order lock); Paystack's answer completes the return later (refund.return-settled). When
 *    nothing is left to refund (a manual refund won the race) the attempt is recorded as failed instead;
 *  - store_credit: the same refund with `to: store_credit`, settled as a ledger entry in this transaction,
 *    then `completed`;
 *  - exchange: a zero-total paid order for the held variants, their held units sold, then `completed`.
 */
export async function resolve(trx: Trx, locked: Locked, actorId: string): Promise<void> {
  const { ret, order, subject } = locked;
  const amount = Number(ret.refundEstimate);
  if (ret.resolution === 'exchange') {
    const exchangeOrderId = await createExchangeOrder(trx, locked, actorId);
    await setStatus(trx, { ...locked, ret: { ...ret, status: 'received' } }, 'completed', { exchangeOrderId, exchangeHeld: false });
    await announceStatus(trx, subject, 'received', 'completed', {
      body: `Your exchange for order ${order.number} is on its way as a new order.`,
      data: { exchangeOrderId },
    });
    return;
  }
  const attempt = ret.refundAttempts + 1;
  const failed = async (reason: string) => {
    await trx
      .updateTable('returns')
      .set({ refundAttempts: attempt, refundStatus: 'failed', refundFailureReason: reason, refundId: null, updatedAt: sql`now()` })
      .where('id', '=', ret.id)
      .execute();
    await announceStatus(trx, subject, 'received', 'received', {
      key: `return.refund_failed:${ret.id}:${attempt}`,
      body: `We received your items, but the ${ret.resolution === 'refund' ? 'refund' : 'store credit'} for order ${order.number} is delayed. Our team is on it.`,
      data: { refundStatus: 'failed' },
    });
  };
  const completed = (set: Record<string, unknown>, body: string) =>
    setStatus(trx, { ...locked, ret: { ...ret, status: 'received' } }, 'completed', set).then(() =>
      announceStatus(trx, subject, 'received', 'completed', { body }),
    );
  if (amount === 0) return completed({ refundAttempts: attempt }, `Your return for order ${order.number} is complete.`);
  const left = await moneyLeft(trx, locked);
  if (amount > left) return failed(`Only ${Math.max(left, 0)} of the ${amount} due can still be given back for this order`);

  const items = await trx.selectFrom('returnItems').select(['orderItemId', 'quantity']).where('returnId', '=', ret.id).execute();
  try {
    // Store credit is a refund too (to: store_credit, settled in this transaction), so Σ refunds ≤ paid holds
    // across returns and manual refunds alike.
    const refund = await createRefund(trx, {
      orderId: order.id,
      amount,
      reason: `Return of order ${order.number}`,
      restock: false,
      items,
      actorId,
      returnKey: { returnId: ret.id, attempt },
      ...(ret.resolution === 'store_credit' ? { to: 'store_credit' as const } : {}),
    });
    if (ret.resolution === 'store_credit') {
      const creditEntryId = refund.parts.find((p) => p.creditEntryId)?.creditEntryId ?? null;
      return await completed(
        { refundId: refund.id, creditEntryId, refundAttempts: attempt, refundStatus: 'processed', refundFailureReason: null },
        `Store credit for your return of order ${order.number} is in your account.`,
      );
    }
    await trx
      .updateTable('returns')
      .set({ refundId: refund.id, refundAttempts: attempt, refundStatus: 'pending', refundFailureReason: null, updatedAt: sql`now()` })
      .where('id', '=', ret.id)
      .execute();
  } catch (err) {
    // Thrown before the refund writes anything (nothing refundable is left, the order cannot be refunded).
    if (!(err instanceof ConflictError)) throw err;
    await failed(err.message);
  }
}

/** The exchange: a paid order of total 0 for the held variants at the price paid, their held units sold. */
async function createExchangeOrder(trx: Trx, locked: Locked, actorId: string): Promise<string> {
  const { ret, order } = locked;
  if (!ret.exchangeHeld) throw new ConflictError('exchange_not_held', 'The exchange units are not held');
  const source = await trx
    .selectFrom('orders')
    .select(['shippingAddress', 'shippingMethodId', 'shippingMethodName'])
    .where('id', '=', order.id)
    .executeTakeFirstOrThrow();
  const lines = await trx
    .selectFrom('returnItems as i')
    .innerJoin('orderItems as oi', 'oi.id', 'i.orderItemId')
    .innerJoin('productVariants as v', 'v.id', 'i.exchangeVariantId')
    .innerJoin('products as p', 'p.id', 'v.productId')
    .select(['v.id as variantId', 'v.sku', 'v.title as variantTitle', 'p.id as productId', 'p.title', 'oi.unitPrice', 'i.quantity'])
    .where('i.returnId', '=', ret.id)
    .orderBy('v.id')
    .execute();
  const subtotal = lines.reduce((s, l) => s + l.unitPrice * l.quantity, 0);
  const created = await trx
    .insertInto('orders')
    .values({
      userId: ret.userId,
      email: order.email,
      customerName: order.customerName,
      currency: order.currency,
      subtotal,
      // The customer paid for these units in the original order: the swap costs nothing.
      discount: subtotal,
      total: 0,
      shippingAddress: JSON.stringify(source.shippingAddress),
      shippingMethodId: source.shippingMethodId,
      shippingMethodName: source.shippingMethodName,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('orderItems')
    .values(
      lines.map((l) => ({
        orderId: created.id,
        productId: l.productId,
        variantId: l.variantId,
        title: l.title,
        variantTitle: l.variantTitle,
        sku: l.sku,
        unitPrice: l.unitPrice,
        quantity: l.quantity,
        lineTotal: l.unitPrice * l.quantity,
        currency: order.currency,
      })),
    )
    .execute();
  await trx
    .insertInto('orderStatusHistory')
    .values({ orderId: created.id, fromStatus: null, toStatus: 'pending_payment', actorId, note: `exchange for return ${ret.id}` })
    .execute();
  await transitionOrder(trx, created.id, 'paid', { actorId, note: `exchange for return ${ret.id}: nothing to pay` });
  // The units were reserved at approval; the sale turns exactly those into sold ones.
  const sold = await commitOrderReservation(trx, created.id);
  if (sold !== 'committed') throw new Error(`exchange order ${created.id}: reservation ${sold}`);
  return created.id;
}

/** Units of each order line held by live returns (other than `exceptId`), by unit index. */
export async function heldUnits(trx: Trx, orderId: string, exceptId?: string): Promise<Map<string, Set<number>>> {
  let q = trx
    .selectFrom('returnItems as i')
    .innerJoin('returns as r', 'r.id', 'i.returnId')
    .select(['i.orderItemId', 'i.units'])
    .where('r.orderId', '=', orderId)
    .where('r.status', 'in', liveReturnStatuses);
  if (exceptId) q = q.where('r.id', '<>', exceptId);
  const rows = await q.execute();
  const held = new Map<string, Set<number>>();
  for (const r of rows) {
    const set = held.get(r.orderItemId) ?? new Set<number>();
    r.units.forEach((u) => set.add(u));
    held.set(r.orderItemId, set);
  }
  return held;
}

