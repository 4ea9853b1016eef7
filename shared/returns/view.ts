import { sql } from 'kysely';
import type { DbOrTrx } from '../db/index.js';
import type { ReturnView } from './schemas.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Returns as their owner and staff see them, in the order of `ids`. The refund status is the refund's own
 * (pending, processing, processed, failed) as soon as it changes, not only once the return catches up.
 */
export async function loadReturns(db: DbOrTrx, ids: readonly string[]): Promise<ReturnView[]> {
  if (!ids.length) return [];
  const rows = await db
    .selectFrom('returns as r')
    .innerJoin('orders as o', 'o.id', 'r.orderId')
    .leftJoin('refunds as f', 'f.id', 'r.refundId')
    .select([
      'r.id',
      'r.orderId',
      'o.number as orderNumber',
      'r.status',
      'r.resolution',
      'r.refundShipping',
      'r.currency',
      'r.refundEstimate',
      'r.shippingRefund',
      sql<string | null>`coalesce(f.status, r.refund_status)`.as('refundStatus'),
      'r.refundId',
      sql<string | null>`coalesce(f.failure_reason, r.refund_failure_reason)`.as('refundFailureReason'),
      'r.creditEntryId',
      'r.exchangeOrderId',
      'r.note',
      'r.expiresAt',
      'r.createdAt',
      'r.approvedAt',
      'r.receivedAt',
      'r.completedAt',
      'r.cancelledAt',
      'r.expiredAt',
      'r.rejectedAt',
    ])
    .where('r.id', 'in', ids)
    .execute();
  const items = await db
    .selectFrom('returnItems as i')
    .innerJoin('orderItems as oi', 'oi.id', 'i.orderItemId')
    .select([
      'i.returnId',
      'i.orderItemId',
      'oi.sku',
      'oi.title',
      'oi.variantTitle',
      'i.quantity',
      'i.reason',
      'i.note',
      'i.exchangeVariantId',
      'i.unitRefunds',
      'i.resellableQuantity',
      'i.damagedQuantity',
    ])
    .where('i.returnId', 'in', ids)
    .orderBy('i.orderItemId')
    .execute();
  const photos = await db
    .selectFrom('returnAttachments')
    .select(['id', 'returnId', 'filename', 'mime', 'size', 'createdAt'])
    .where('returnId', 'in', ids)
    .orderBy('createdAt')
    .orderBy('id')
    .execute();
  const byId = new Map(
    rows.map((r): [string, ReturnView] => [
      r.id,
      {
        id: r.id,
        orderId: r.orderId,
        orderNumber: r.orderNumber,
        status: r.status,
        resolution: r.resolution,
        refundShipping: r.refundShipping,
        items: items
          .filter((i) => i.returnId === r.id)
          .map((i) => ({
            orderItemId: i.orderItemId,
            sku: i.sku,
            title: i.title,
            variantTitle: i.variantTitle,
            quantity: i.quantity,
            reason: i.reason,
            note: i.note,
            exchangeVariantId: i.exchangeVariantId,
            refund: i.unitRefunds.reduce((s: number, u: number | string) => s + Number(u), 0),
            resellableQuantity: i.resellableQuantity,
            damagedQuantity: i.damagedQuantity,
          })),
        refundEstimate: { amount: r.refundEstimate, currency: r.currency.trim() },
        refundStatus: r.refundStatus as ReturnView['refundStatus'],
        refundId: r.refundId,
        refundFailureReason: r.refundFailureReason,
        creditEntryId: r.creditEntryId,
        exchangeOrderId: r.exchangeOrderId,
        attachments: photos
          .filter((p) => p.returnId === r.id)
          .map((p) => ({ id: p.id, filename: p.filename, mime: p.mime, size: p.size, createdAt: p.createdAt.toISOString() })),
        note: r.note,
        expiresAt: iso(r.expiresAt),
        createdAt: r.createdAt.toISOString(),
        approvedAt: iso(r.approvedAt),
        receivedAt: iso(r.receivedAt),
        completedAt: iso(r.completedAt),
        cancelledAt: iso(r.cancelledAt),
        expiredAt: iso(r.expiredAt),
        rejectedAt: iso(r.rejectedAt),
      },
    ]),
  );
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export async function loadReturn(db: DbOrTrx, id: string): Promise<ReturnView> {
  const [view] = await loadReturns(db, [id]);
  if (!view) throw new Error(`return ${id} vanished`);
  return view;
}
