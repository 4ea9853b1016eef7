import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { enqueue } from '../outbox.js';
import { everPaidStatuses, type OrderStatus } from '../orders/state.js';
import type { RefundInput, RefundItem, RefundView } from './schemas.js';

export type { RefundItem, RefundView } from './schemas.js';

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
 */

/** Order states that hold a payment (cancelled: paid anyway, or cancelled by staff; refunded: 409 with nothing left). */
const REFUNDABLE_STATES = new Set<OrderStatus>([...everPaidStatuses, 'cancelled']);
/** Refund (and part) states that hold part of the paid amount. */
export const COMMITTED_REFUND_STATES = ['pending', 'processing', 'processed'] as const;
const FINAL_STATES = new Set(['processed', 'failed']);
export const isFinalRefundStatus = (status: string) => FINAL_STATES.has(status);

/** The body of POST /admin/orders/:id/refunds (documented on its schema), for an order, by a staff member. */
export type RefundRequest = RefundInput & { orderId: string; actorId?: string };

// ----- reading -----

const partColumns = [
  'refundParts.id',
  'refundParts.refundId',
  'refundParts.amount',
  'refundParts.currency',
  'refundParts.status',
  'refundParts.providerRefundId',
  'refundParts.failureReason',
  'refundParts.settledAt',
  'payments.reference as paymentReference',
] as const;

async function refundParts(db: DbOrTrx, refundIds: readonly string[]) {
  if (!refundIds.length) return [];
  return db
    .selectFrom('refundParts')
    .innerJoin('payments', 'payments.id', 'refundParts.paymentId')
    .select(partColumns)
    .where('refundParts.refundId', 'in', refundIds)
    .orderBy('refundParts.createdAt')
    .orderBy('refundParts.id')
    .execute();
}

async function refundItems(db: DbOrTrx, refundIds: readonly string[]) {
  if (!refundIds.length) return [];
  return db
    .selectFrom('refundItems')
    .select(['refundId', 'orderItemId', 'quantity'])
    .where('refundId', 'in', refundIds)
    .orderBy('orderItemId')
    .execute();
}

type RefundRow = Awaited<ReturnType<typeof listRefundRows>>[number];
type PartRow = Awaited<ReturnType<typeof refundParts>>[number];
type ItemRow = Awaited<ReturnType<typeof refundItems>>[number];

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

/** The API shape of a refund: the request, the parts Paystack refunds, the lines it names. */
export function buildRefundView(r: RefundRow, parts: readonly PartRow[], items: readonly ItemRow[]): RefundView {
  return {
    id: r.id,
    orderId: r.orderId,
    amount: r.amount,
    currency: r.currency,
    reason: r.reason,
    restock: r.restock,
    status: r.status,
    /** Paystack's refund when the refund has exactly one part (most do); each part carries its own. */
    providerRefundId:
      parts.length === 1 && parts[0].providerRefundId !== null ? String(parts[0].providerRefundId) : null,
    failureReason: r.failureReason,
    createdAt: iso(r.createdAt)!,
    settledAt: iso(r.settledAt),
    items: items.map((i) => ({ orderItemId: i.orderItemId, quantity: i.quantity })),
    parts: parts.map((p) => ({
      id: p.id,
      paymentReference: p.paymentReference,
      amount: p.amount,
      currency: p.currency,
      status: p.status,
      providerRefundId: p.providerRefundId === null ? null : String(p.providerRefundId),
      failureReason: p.failureReason,
      settledAt: iso(p.settledAt),
    })),
  };
}

export async function findRefund(db: DbOrTrx, id: string): Promise<RefundView | undefined> {
  const [refund] = await listRefundRows(db, { id });
  if (!refund) return undefined;
  return buildRefundView(refund, await refundParts(db, [id]), await refundItems(db, [id]));
}

export async function listRefundsOfOrder(db: DbOrTrx, orderId: string): Promise<RefundView[]> {
  const refunds = await listRefundRows(db, { orderId });
  const ids = refunds.map((r) => r.id);
  // One after the other: in parallel they would take pool connections for one request.
  const parts = await refundParts(db, ids);
  const items = await refundItems(db, ids);
  return refunds.map((r) =>
    buildRefundView(
      r,
      parts.filter((p) => p.refundId === r.id),
      items.filter((i) => i.refundId === r.id),
    ),
  );
}

/** A refund's own columns, as buildRefundView reads them (listed and just created alike). */
const refundColumns = ['id', 'orderId', 'amount', 'currency', 'reason', 'restock', 'status', 'failureReason', 'createdAt', 'settledAt'] as const;

function listRefundRows(db: DbOrTrx, by: { id: string } | { orderId: string }) {
  const q = db
    .selectFrom('refunds')
    .select(refundColumns);
  return ('id' in by ? q.where('id', '=', by.id) : q.where('orderId', '=', by.orderId))
    .orderBy('createdAt')
    .execute();
}

// ----- what can still be refunded -----

/** A payment of the order that holds money: applied (`success`) or flagged (`mismatch`, never applied). */
interface Source {
  id: string;
  reference: string;
  status: string;
  currency: string;
  /** What Paystack verified was paid. */
  paid: number;
  /** `paid` minus the parts holding (pending, processing, processed) part of it. */
  refundable: number;
}

/** The order's payments that hold money, each with what it can still give back, newest first. */
async function refundSources(trx: Trx, orderId: string): Promise<Source[]> {
  const rows = await trx
    .selectFrom('payments')
    .leftJoin('refundParts', (j) =>
      j
        .onRef('refundParts.paymentId', '=', 'payments.id')
        .on('refundParts.status', 'in', COMMITTED_REFUND_STATES),
    )
    .select([
      'payments.id',
      'payments.reference',
      'payments.status',
      sql<string>`coalesce(payments.paid_currency, payments.currency)`.as('currency'),
      sql<number>`coalesce(payments.paid_amount, payments.amount)`.as('paid'),
      sql<number>`coalesce(payments.paid_amount, payments.amount) - coalesce(sum(refund_parts.amount), 0)::int8`.as(
        'refundable',
      ),
    ])
    .where('payments.orderId', '=', orderId)
    .where('payments.status', 'in', ['success', 'mismatch'])
    .groupBy('payments.id')
    // The latest payment first: a second, unexpected payment is the one a partial refund usually returns.
    .orderBy(sql`payments.paid_at DESC NULLS LAST`)
    .orderBy('payments.createdAt', 'desc')
    .execute();
  return rows.map((r) => ({
    ...r,
    currency: r.currency.trim(),
    paid: Number(r.paid),
    refundable: Number(r.refundable),
  }));
}

/**
 * What the order's applied payments can still give back: each payment's own remainder, and never more
 * than the order's books hold (`amount_paid` minus what parts of applied payments hold).
 */
function appliedRemaining(order: { amountPaid: number }, sources: readonly Source[]) {
  const applied = sources.filter((s) => s.status === 'success');
  const held = applied.reduce((sum, s) => sum + (s.paid - s.refundable), 0);
  return Math.min(
    applied.reduce((sum, s) => sum + Math.max(s.refundable, 0), 0),
    order.amountPaid - held,
  );
}

/** How much of an order's applied payments can still be refunded (paid minus pending, processing and processed parts). */
export async function refundableAmount(db: Db, orderId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const order = await trx
      .selectFrom('orders')
      .select('amountPaid')
      .where('id', '=', orderId)
      .executeTakeFirst();
    if (!order) throw new NotFoundError('Order');
    return appliedRemaining(order, await refundSources(trx, orderId));
  });
}

// ----- creating -----

function assertOrderRefundable(order: { status: OrderStatus; amountPaid: number }, flagged: readonly Source[]) {
  if (REFUNDABLE_STATES.has(order.status) && order.amountPaid > 0) return;
  throw new ConflictError(
    'order_not_refundable',
    flagged.length
      ? `An order in status ${order.status} has no applied payment; a flagged payment is refunded by its paymentReference`
      : `An order in status ${order.status} with nothing paid cannot be refunded`,
    flagged.length
      ? {
          flaggedPayments: flagged.map((f) => ({
            reference: f.reference,
            refundable: f.refundable,
            currency: f.currency,
          })),
        }
      : {},
  );
}

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
    .select(['id', 'status', 'currency', 'amountPaid'])
    .where('id', '=', req.orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order) throw new NotFoundError('Order');
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
    sources = all.filter((s) => s.status === 'success');
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
      createdBy: req.actorId ?? null,
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
  await enqueue(trx, 'refund.execute', { refundId: refund.id });
  const referenceOf = new Map(shares.map((s) => [s.source.id, s.source.reference]));
  return buildRefundView(
    refund,
    parts.map((p) => ({ ...p, paymentReference: referenceOf.get(p.paymentId)! })),
    items
      .map((i) => ({ refundId: refund.id, ...i }))
      .sort((a, b) => (a.orderItemId < b.orderItemId ? -1 : a.orderItemId > b.orderItemId ? 1 : 0)),
  );
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

// ----- executing at Paystack -----

/** The Paystack calls a refund needs (the real client, or anything speaking the same shapes). */
export interface RefundGateway {
  createRefund(input: {
    transaction: string | number;
    amount?: number;
    currency?: string;
    merchantNote?: string;
  }): Promise<ProviderRefund>;
  fetchRefund(id: number | string): Promise<ProviderRefund | null>;
  listRefunds(input: { transaction: string | number }): Promise<ProviderRefund[]>;
}
export interface ProviderRefund {
  id: number;
  status: string;
  amount: number;
  currency: string;
  merchantNote?: string | null;
}

/** Paystack's note on a refund we create: our refund id, how a refund whose create answer was lost is found again. */
export const merchantNoteOf = (refundId: string) => `agape refund ${refundId}`;

/**
 * The provider refund a part of `refundId` made on one transaction: the one carrying our note. A refund
 * has at most one part per payment (UNIQUE (refund_id, payment_id)), so note + transaction name exactly
 * one part. Never matched by amount: a refund of the same amount may be anyone's.
 */
export function ownProviderRefund<P extends ProviderRefund>(
  listed: readonly P[],
  refundId: string,
): P | undefined {
  const note = merchantNoteOf(refundId);
  return listed.filter((p) => p.merchantNote === note).sort((a, b) => a.id - b.id)[0];
}

/**
 * Binds a part to its provider refund (the UNIQUE constraint refuses a provider refund already bound to
 * another part) and records Paystack's status. Call with the refund and part rows locked.
 */
export async function bindPart(trx: Trx, refundId: string, partId: string, provider: ProviderRefund) {
  await trx
    .updateTable('refundParts')
    .set({
      providerRefundId: provider.id,
      providerStatus: provider.status,
      status: 'processing',
      createUncertainSince: null,
    })
    .where('id', '=', partId)
    .execute();
  await trx
    .updateTable('refunds')
    .set({ status: 'processing' })
    .where('id', '=', refundId)
    .where('status', '=', 'pending')
    .execute();
}

/** Locks a refund, then one of its parts (the order every refund path takes after the order's lock). */
export async function lockPart(trx: Trx, refundId: string, partId: string) {
  const refund = await trx
    .selectFrom('refunds')
    .select('id')
    .where('id', '=', refundId)
    .forUpdate()
    .executeTakeFirst();
  if (!refund) return undefined;
  return trx
    .selectFrom('refundParts')
    .innerJoin('payments', 'payments.id', 'refundParts.paymentId')
    .select([
      'refundParts.id',
      'refundParts.amount',
      'refundParts.currency',
      'refundParts.status',
      'refundParts.providerRefundId',
      'payments.reference',
      'payments.providerTransactionId',
      // Milliseconds since a create call for this part went unanswered (null: none did, or it was settled since).
      sql<
        number | null
      >`(extract(epoch from clock_timestamp() - refund_parts.create_uncertain_since) * 1000)::float8`.as(
        'uncertainForMs',
      ),
    ])
    .where('refundParts.id', '=', partId)
    .where('refundParts.refundId', '=', refundId)
    .forUpdate('refundParts')
    .executeTakeFirst();
}

/** An error the provider will answer the same way however often we ask (bad request, reversed, ...). */
const isFinalProviderError = (err: unknown) =>
  typeof err === 'object' && err !== null && 'retryable' in err && err.retryable === false;

/**
 * Whether a create call that failed may still have made the refund. Only a refused connection (the
 * call never left) and Paystack's own "not now" (429, 503) say it did not; a timeout, a dropped
 * connection or another 5xx leave it open: Paystack may be working on it still.
 */
function createMayHaveLanded(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return true;
  const e = err as { status?: unknown; unsent?: unknown };
  if (e.unsent === true) return false;
  return !(e.status === 429 || e.status === 503);
}

/** The retry of a part whose create may still land at Paystack: not created again yet (the job retries). */
export class RefundCreateUnsettledError extends Error {
  constructor(
    readonly partId: string,
    readonly waitMs: number,
  ) {
    super(
      `refund part ${partId}: an earlier create call got no answer and may still land at Paystack; not created again for ${Math.ceil(waitMs)} ms`,
    );
    this.name = 'RefundCreateUnsettledError';
  }
}

export interface ExecuteRefundOptions {
  /**
   * After a create call with no answer, how long the part is only claimed by our note, never created
   * again (REFUND_RECREATE_AFTER_MS; default a minute).
   */
  recreateAfterMs?: number;
}

export type PartResult = { partId: string } & (
  | { outcome: 'already_settled' }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'error'; error: unknown }
  | { outcome: 'created' | 'claimed' | 'polled'; providerRefundId: number; providerStatus: string }
);

export type ExecuteResult = { outcome: 'unknown_refund' } | { outcome: 'executed'; parts: PartResult[] };

/**
 * The `refund.execute` job: asks Paystack to refund each unsettled part EXACTLY once. Paystack has no
 * idempotency key, so a part's rows are locked for the duration of its calls (a second runner waits,
 * then finds the provider id) and, before creating anything, the transaction's refunds are listed: one
 * carrying our note is ours from an earlier attempt whose answer was lost, and is claimed instead of
 * refunding again. A call with no answer may also land AFTER the retry's list (Paystack still working
 * through it): such a part is marked and, for `recreateAfterMs`, only claimed, never created again. A
 * bound part is only polled. Settling (processed/failed) happens in
 * `settleRefundPart`, which the caller runs after this when a status is final. A part whose calls fail
 * does not stop the others; its error comes back in its result.
 */
export async function executeRefund(
  db: Db,
  gateway: RefundGateway,
  refundId: string,
  opts: ExecuteRefundOptions = {},
): Promise<ExecuteResult> {
  const parts = await db
    .selectFrom('refundParts')
    .select('id')
    .where('refundId', '=', refundId)
    .orderBy('createdAt')
    .orderBy('id')
    .execute();
  if (!parts.length) return { outcome: 'unknown_refund' };
  const results: PartResult[] = [];
  for (const { id } of parts) {
    try {
      results.push({ partId: id, ...(await executePart(db, gateway, refundId, id, opts)) });
    } catch (error) {
      results.push({ partId: id, outcome: 'error', error });
    }
  }
  return { outcome: 'executed', parts: results };
}

type PartOutcome = PartResult extends infer R
  ? R extends { partId: string }
    ? Omit<R, 'partId'>
    : never
  : never;

async function executePart(
  db: Db,
  gateway: RefundGateway,
  refundId: string,
  partId: string,
  opts: ExecuteRefundOptions,
): Promise<PartOutcome> {
  const recreateAfterMs = opts.recreateAfterMs ?? 60_000;
  return db.transaction().execute(async (trx): Promise<PartOutcome> => {
    const part = await lockPart(trx, refundId, partId);
    if (!part || isFinalRefundStatus(part.status)) return { outcome: 'already_settled' };

    const bind = async (
      provider: ProviderRefund,
      outcome: 'created' | 'claimed' | 'polled',
    ): Promise<PartOutcome> => {
      await bindPart(trx, refundId, part.id, provider);
      return { outcome, providerRefundId: provider.id, providerStatus: provider.status };
    };

    if (part.providerRefundId !== null) {
      const provider = await gateway.fetchRefund(part.providerRefundId);
      // Bound means Paystack made it: never create another because one read came back empty.
      if (!provider)
        throw new Error(`Paystack does not know refund ${part.providerRefundId} (part ${part.id})`);
      return bind(provider, 'polled');
    }

    const transaction = part.providerTransactionId ?? part.reference;
    const own = ownProviderRefund(await gateway.listRefunds({ transaction }), refundId);
    if (own) return bind(own, 'claimed');
    // An earlier call may still land: the list not showing it yet proves nothing until it has had time.
    if (part.uncertainForMs !== null && part.uncertainForMs < recreateAfterMs) {
      throw new RefundCreateUnsettledError(part.id, recreateAfterMs - part.uncertainForMs);
    }

    try {
      const created = await gateway.createRefund({
        transaction,
        amount: part.amount,
        currency: part.currency,
        merchantNote: merchantNoteOf(refundId),
      });
      return await bind(created, 'created');
    } catch (err) {
      if (isFinalProviderError(err)) {
        return { outcome: 'refused', reason: err instanceof Error ? err.message : String(err) };
      }
      // Timeouts, 5xx, 429: the job retries (and lists first). When the call may have made the refund,
      // that is recorded (committed with this transaction, so the error is returned, not thrown).
      if (!createMayHaveLanded(err)) throw err;
      await trx
        .updateTable('refundParts')
        .set({ createUncertainSince: sql<Date>`clock_timestamp()` })
        .where('id', '=', part.id)
        .execute();
      return { outcome: 'error', error: err };
    }
  });
}
