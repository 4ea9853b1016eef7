import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, Trx } from '../db/index.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { saveProvisional, withIdempotency } from '../idempotency/index.js';
import { creditRefundPart } from '../credit/tender.js';
import { CREDIT_CURRENCY } from '../credit/ledger.js';
import { enqueue } from '../outbox.js';
import { CREDIT_PROVIDER_STATUS, settleRefundPart } from './refund-events.js';
import { buildRefundView, findRefund, refundColumns, type RefundView } from './refund-view.js';
import type { RefundInput, RefundItem } from './schemas.js';
import { appliedRemaining, assertOrderRefundable, refundSources, type Source } from './refundable.js';

/**
 * Refunds: money goes back only within what was paid, and only through the payment it came from.
 *
 * A refund is what staff ask for (amount, reason, restock, items); it is paid back by one PART per
 * payment it draws on, each within that payment's own refundable amount (an order paid twice is refunded
 * from each payment). A part is one provider refund: bound to it by id when Paystack answers the create
 * call, or, after a lost answer, found again by our refund id in its `merchant_note`; never by amount.
 * The provider refund id is UNIQUE over parts, so one provider refund settles exactly one part.
 *
 * The order row lock serialises every decision that depends on "how much is still refundable" (creating
 * a refund, settling one). Lock order is always order → refund → part.
 *
 * Store credit (CONTRACT part two): the credit an order spent at checkout is a payment of its own
 * (`provider = 'store_credit'`), so "never more than was paid" counts it. A refund `to: original` draws on
 * the Paystack payments first, then on the credit (the recorded decision for mixed orders); a part drawing
 * on the credit goes back as credit. A refund `to: store_credit` pays every part as credit. A part paid as
 * credit is a `refund` entry on the customer's account and settles at once, in this transaction; only
 * parts for Paystack go to the `refund.execute` job.
 */

export type { RefundItem } from './schemas.js';

/** The body of POST /admin/orders/:id/refunds (documented on its schema), for an order, by a staff member. */
export type RefundRequest = RefundInput & {
  orderId: string;
  actorId?: string;
  /** A refund made for a return: keyed by (return, attempt), UNIQUE, so a resolution never pays twice. */
  returnKey?: { returnId: string; attempt: number };
};

/** Checks the lines a refund names (they must be this order's, within what was bought) and, to restock, within what is left. */
async function checkItems(trx: Trx, orderId: string, items: readonly RefundItem[], restock: boolean) {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.orderItemId)) {
      throw new BadRequestError('validation_failed', 'Each order item may be named once', [
        { path: `/items/${i}/orderItemId`, message: 'named twice' },
      ]);
    }
    seen.add(item.orderItemId);
  });
  const lines = await trx
    .selectFrom('orderItems')
    .select(['id', 'quantity', 'restockedQuantity'])
    .where('orderId', '=', orderId)
    .execute();
  const byId = new Map(lines.map((l) => [l.id, l]));
  const unknown = items.flatMap((item, i) => (byId.has(item.orderItemId) ? [] : [i]));
  if (unknown.length) {
    throw new BadRequestError(
      'unknown_order_item',
      'A refund can only name items of this order',
      unknown.map((i) => ({ path: `/items/${i}/orderItemId`, message: 'not an item of this order' })),
    );
  }
  // Units other pending restocking refunds of the order already claim (processed ones are in restocked_quantity).
  const claims = restock
    ? await trx
        .selectFrom('refundItems')
        .innerJoin('refunds', 'refunds.id', 'refundItems.refundId')
        .select(['refundItems.orderItemId', sql<number>`sum(refund_items.quantity)::int`.as('quantity')])
        .where('refunds.orderId', '=', orderId)
        .where('refunds.restock', '=', true)
        .where('refunds.status', 'in', ['pending', 'processing'])
        .groupBy('refundItems.orderItemId')
        .execute()
    : [];
  const claimed = new Map(claims.map((c) => [c.orderItemId, c.quantity]));
  const over = items.flatMap((item) => {
    const line = byId.get(item.orderItemId)!;
    const restocked = restock ? line.restockedQuantity : 0;
    const held = claimed.get(line.id) ?? 0;
    const left = line.quantity - restocked - held;
    return item.quantity > left
      ? [
          {
            orderItemId: line.id,
            requested: item.quantity,
            bought: line.quantity,
            restocked,
            claimed: held,
            left,
          },
        ]
      : [];
  });
  if (over.length) {
    throw new ConflictError(
      'refund_quantity_exceeded',
      restock
        ? 'More units named than the order has left to restock (bought, minus restocked or claimed by other refunds)'
        : 'More units named than were bought',
      { items: over },
    );
  }
}

/**
 * Creates a `pending` refund, its parts (one per payment it draws on) and its `refund.execute` job in
 * the caller's transaction. The order row is locked first, so of N concurrent requests for the whole
 * amount exactly one fits; the rest see nothing left and get 409 `refund_exceeds_paid`.
 */
export async function createRefund(trx: Trx, req: RefundRequest): Promise<RefundView> {
  const order = await trx
    .selectFrom('orders')
    .select(['id', 'number', 'userId', 'status', 'currency', 'amountPaid'])
    .where('id', '=', req.orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order) throw new NotFoundError('Order');
  const to = req.to ?? 'original';
  if (to === 'store_credit') {
    if (!order.userId) {
      throw new ConflictError('no_customer_account', 'A guest order has no store credit account: refund it to the original payment');
    }
    if (order.currency !== CREDIT_CURRENCY) {
      throw new BadRequestError('validation_failed', `Store credit is kept in ${CREDIT_CURRENCY}`, [
        { path: '/to', message: `store_credit only for ${CREDIT_CURRENCY} orders` },
      ]);
    }
  }
  const all = await refundSources(trx, order.id);
  const flagged = all.filter((s) => s.status === 'mismatch');
  const items = req.items ?? [];
  const restock = req.restock ?? false;

  let sources: Source[];
  let currency: string;
  let available: number;
  if (req.paymentReference !== undefined) {
    const payment = all.find((s) => s.reference === req.paymentReference);
    if (!payment) {
      throw new BadRequestError('unknown_payment', 'Not a confirmed payment of this order', [
        { path: '/paymentReference', message: 'no successful or flagged payment of this order has it' },
      ]);
    }
    sources = [payment];
    currency = payment.currency;
    available = payment.refundable;
    if (payment.status === 'mismatch') {
      // Never applied: it bought nothing, and the order's own books never counted it.
      if (restock || items.length) {
        throw new BadRequestError(
          'validation_failed',
          'A payment never applied to the order bought no items',
          [{ path: restock ? '/restock' : '/items', message: 'not for a flagged payment' }],
        );
      }
    } else {
      assertOrderRefundable(order, flagged);
      available = Math.min(available, appliedRemaining(order, all));
    }
  } else {
    assertOrderRefundable(order, flagged);
    // Paystack first, then the credit (`original`); the credit first when it all goes to credit anyway, so
    // what was paid through Paystack stays refundable to the card.
    const first = to === 'original' ? 'paystack' : 'store_credit';
    sources = all
      .filter((s) => s.status === 'success')
      .sort((a, b) => Number(b.provider === first) - Number(a.provider === first));
    if (!sources.length) {
      throw new ConflictError('order_not_refundable', 'The order has no confirmed payment to refund');
    }
    currency = order.currency;
    available = appliedRemaining(order, all);
  }

  const amount = req.amount ?? available;
  if (available <= 0 || amount > available) {
    throw new ConflictError(
      'refund_exceeds_paid',
      `At most ${Math.max(available, 0)} can still be refunded`,
      { refundable: Math.max(available, 0), currency },
    );
  }
  if (items.length) await checkItems(trx, order.id, items, restock);
  // Full: nothing of the order's applied money is left after this one.
  const full = sources[0].status === 'success' && amount === appliedRemaining(order, all);
  if (restock && !items.length && !full) {
    throw new BadRequestError(
      'restock_items_required',
      'A partial refund restocks only the items it names: list them in `items`',
      [{ path: '/items', message: 'required with restock on a partial refund' }],
    );
  }

  const refund = await trx
    .insertInto('refunds')
    .values({
      orderId: order.id,
      amount,
      currency,
      reason: req.reason,
      restock,
      destination: to,
      createdBy: req.actorId ?? null,
      returnId: req.returnKey?.returnId ?? null,
      returnAttempt: req.returnKey?.attempt ?? null,
    })
    .returning(refundColumns)
    .executeTakeFirstOrThrow();

  // Each payment gives back at most what it still holds, the latest payment first.
  const shares: { source: Source; amount: number }[] = [];
  let left = amount;
  for (const source of sources) {
    const share = Math.min(left, Math.max(source.refundable, 0));
    if (share > 0) shares.push({ source, amount: share });
    left -= share;
    if (left === 0) break;
  }
  if (left !== 0) throw new Error(`refund ${refund.id}: ${left} could not be allocated to a payment`);
  const parts = await trx
    .insertInto('refundParts')
    .values(
      shares.map((s) => ({
        refundId: refund.id,
        paymentId: s.source.id,
        amount: s.amount,
        currency: s.source.currency,
      })),
    )
    .returning([
      'id',
      'refundId',
      'amount',
      'currency',
      'status',
      'providerRefundId',
      'failureReason',
      'settledAt',
      'paymentId',
      'creditEntryId',
    ])
    .execute();
  if (items.length) {
    await trx
      .insertInto('refundItems')
      .values(
        items.map((i) => ({
          refundId: refund.id,
          orderId: order.id,
          orderItemId: i.orderItemId,
          quantity: i.quantity,
        })),
      )
      .execute();
  }
  await writeAudit(trx, {
    // No actor: the system refunding money that reached a cancelled order.
    actorId: req.actorId ?? null,
    action: 'refund.created',
    targetType: 'order',
    targetId: order.id,
    after: {
      refundId: refund.id,
      amount: refund.amount,
      currency: refund.currency,
      reason: refund.reason,
      restock: refund.restock,
      items,
    },
  });
  // Parts paid as credit settle now: the part as processed (the order's books, a restock with it), then its
  // entry. In that order, so the account's row lock comes after any inventory lock, as in checkout and cancel.
  const providerOf = new Map(shares.map((s) => [s.source.id, s.source.provider]));
  const asCredit = parts.filter((p) => to === 'store_credit' || providerOf.get(p.paymentId) === 'store_credit');
  for (const part of asCredit) {
    if (!order.userId) throw new Error(`order ${order.id}: store credit to give back without a customer account`);
    await settleRefundPart(trx, part.id, 'processed', { providerStatus: CREDIT_PROVIDER_STATUS });
    await creditRefundPart(trx, {
      id: part.id,
      amount: part.amount,
      userId: order.userId,
      orderId: order.id,
      orderNumber: order.number,
      reason: req.reason,
      actorId: req.actorId ?? null,
    });
  }
  if (asCredit.length < parts.length) await enqueue(trx, 'refund.execute', { refundId: refund.id });
  if (asCredit.length) return (await findRefund(trx, refund.id))!;
  const referenceOf = new Map(shares.map((s) => [s.source.id, s.source.reference]));
  return buildRefundView(
    refund,
    parts.map((p) => ({ ...p, paymentReference: referenceOf.get(p.paymentId)! })),
    items
      .map((i) => ({ refundId: refund.id, ...i }))
      .sort((a, b) => (a.orderItemId < b.orderItemId ? -1 : a.orderItemId > b.orderItemId ? 1 : 0)),
  );
}

/** `POST /admin/orders/:id/refunds`: the request as staff send it, under their Idempotency-Key. */
export interface RefundCommand extends Omit<RefundRequest, 'actorId'> {
  actorId: string;
  idempotencyKey: string;
}

/**
 * Creates a refund once per Idempotency-Key: the refund, its job and the answer to replay commit in one
 * transaction, so a retry after a crash replays the answer instead of refunding again.
 */
export async function requestRefund(
  db: Db,
  cmd: RefundCommand,
): Promise<{ refund: RefundView; replayed: boolean }> {
  const { idempotencyKey, actorId, orderId, ...body } = cmd;
  const result = await withIdempotency(
    db,
    { scope: 'refund', owner: `user:${actorId}`, key: idempotencyKey, request: { orderId, body } },
    {
      run: (claimId) =>
        db.transaction().execute(async (trx) => {
          const refund = await createRefund(trx, { orderId, ...body, actorId });
          const answer = { status: 202, body: refund };
          await saveProvisional(trx, claimId, answer);
          return answer;
        }),
    },
  );
  return { refund: result.body, replayed: result.replayed };
}

/**
 * Refunds whatever of the order's applied payments is still refundable (staff cancelling a paid order:
 * "cancelled, with a refund"). Call inside the cancelling transaction; nothing is created when nothing is
 * left. No restock here: the cancellation already put the units back.
 */
export async function refundRemainder(
  trx: Trx,
  orderId: string,
  reason: string,
  actorId?: string | null,
): Promise<RefundView | null> {
  const order = await trx
    .selectFrom('orders')
    .select('amountPaid')
    .where('id', '=', orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order || order.amountPaid <= 0) return null;
  const sources = await refundSources(trx, orderId);
  if (!sources.some((s) => s.status === 'success') || appliedRemaining(order, sources) <= 0) return null;
  return createRefund(trx, { orderId, reason, restock: false, actorId: actorId ?? undefined });
}
