import { sql } from 'kysely';
import type { DbOrTrx } from '../db/index.js';

/**
 * How much of a variant can be sold now.
 *
 * available = on_hand − reserved + (units held by reservations that have expired but were not released yet).
 *
 * Why the last term: the expiry job runs every minute and may be late; an expired reservation must never
 * make stock look sold out. Reads (cart, GET /inventory, product pages) add expired-unreleased units back
 * here. Writes cannot simply over-reserve them (the CHECK reserved <= on_hand forbids it), so checkout
 * releases expired reservations of the short variants lazily and retries (see shared/checkout/).
 * The subquery uses the partial index orders_expiry_idx (pending, unreleased), so it stays cheap.
 */
export const expiredHeldSql = (variantIdColumn: ReturnType<typeof sql.ref>) => sql<number>`coalesce((
  SELECT sum(oi.quantity)::int FROM orders o JOIN order_items oi ON oi.order_id = o.id
  WHERE oi.variant_id = ${variantIdColumn} AND o.status = 'pending_payment'
    AND o.reservation_released_at IS NULL AND o.reservation_expires_at < now()
), 0)`;

export interface StockLevel {
  variantId: string;
  onHand: number;
  reserved: number;
  /** Never negative; expired-but-unreleased reservations count as available. */
  available: number;
  lowStockThreshold: number;
  version: number;
}

/** Stock of the given variants (missing inventory rows count as zero stock). For other domains too. */
export async function stockLevels(db: DbOrTrx, variantIds: readonly string[]): Promise<Map<string, StockLevel>> {
  const out = new Map<string, StockLevel>();
  if (variantIds.length === 0) return out;
  const rows = await db
    .selectFrom('inventory as i')
    .select([
      'i.variantId',
      'i.onHand',
      'i.reserved',
      'i.lowStockThreshold',
      'i.version',
      expiredHeldSql(sql.ref('i.variant_id')).as('expiredHeld'),
    ])
    .where('i.variantId', 'in', [...new Set(variantIds)])
    .execute();
  for (const r of rows) {
    out.set(r.variantId, {
      variantId: r.variantId,
      onHand: r.onHand,
      reserved: r.reserved,
      available: Math.max(0, r.onHand - r.reserved + Number(r.expiredHeld)),
      lowStockThreshold: r.lowStockThreshold,
      version: r.version,
    });
  }
  return out;
}

export async function availableOf(db: DbOrTrx, variantId: string): Promise<number> {
  return (await stockLevels(db, [variantId])).get(variantId)?.available ?? 0;
}
