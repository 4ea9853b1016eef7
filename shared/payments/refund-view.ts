import type { DbOrTrx } from '../db/index.js';
import type { RefundView } from './schemas.js';

export type { RefundView } from './schemas.js';

/** Reading refunds: the API shape of a refund with its parts (one per payment) and the lines it names. */

const partColumns = [
  'refundParts.id',
  'refundParts.refundId',
  'refundParts.amount',
  'refundParts.currency',
  'refundParts.status',
  'refundParts.providerRefundId',
  'refundParts.creditEntryId',
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
    to: r.destination,
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
      creditEntryId: p.creditEntryId,
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
export const refundColumns = ['id', 'orderId', 'amount', 'currency', 'reason', 'restock', 'destination', 'status', 'failureReason', 'createdAt', 'settledAt'] as const;

function listRefundRows(db: DbOrTrx, by: { id: string } | { orderId: string }) {
  const q = db
    .selectFrom('refunds')
    .select(refundColumns);
  return ('id' in by ? q.where('id', '=', by.id) : q.where('orderId', '=', by.orderId))
    .orderBy('createdAt')
    .execute();
}
