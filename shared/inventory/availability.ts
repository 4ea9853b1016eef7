import { sql, type RawBuilder } from 'kysely';
import type { DbOrTrx } from '../db/index.js';

/**
 * What "available" means, the one rule every reader and writer uses (contract: Inventory):
 *
 *   available = on_hand − reserved, never negative.
 *
 * A reservation holds its units until it is released (the minute expiry job, checkout's lazy expiry, a
 * cancel) or sold, not merely until its expiry time passes. That is how checkout claims stock (the
 * conditional `on_hand - reserved >= q` in reservations.ts, under CHECK reserved <= on_hand), and an expired
 * hold is not always free: before releasing it the expiry asks Paystack, and a customer who paid at the
 * last second (or whose payment Paystack cannot confirm yet, up to PAYMENT_HOLD_MINUTES) keeps it. Counting
 * such units as free would show stock the checkout then refuses. It also keeps "available" a function of
 * the inventory row alone, so the triggers that maintain `products.in_stock` and the NOTIFYs that drop
 * cached product details (migrations/202611231_catalog_triggers.ts: `on_hand - reserved > 0`, the same
 * rule) see every change; a rule that moved with the clock would go stale without a write.
 *
 * A buyer is not blocked by a late expiry job: adding to the cart and checkout release the expired holds
 * of a variant that comes up short, then look again (shared/payments/expiry.ts, retryAfterLazyExpiry).
 */

export interface StockNumbers {
  onHand: number;
  reserved: number;
}

/** The rule on numbers already read (a locked row, a RETURNING clause). */
export const availableUnits = (row: StockNumbers): number => Math.max(0, row.onHand - row.reserved);

/** At or below its threshold: the low-stock alert, GET /inventory?lowStock=true and /inventory/alerts. */
export const isLowStock = (row: StockNumbers & { lowStockThreshold: number }): boolean =>
  availableUnits(row) <= row.lowStockThreshold;

const col = (alias: string | undefined, name: string) => (alias ? sql.ref(`${alias}.${name}`) : sql.ref(name));

/**
 * The rule in SQL for the `inventory` row `alias` (unqualified columns without one). A missing row (LEFT
 * JOIN) is zero stock.
 */
export const availableSql = (alias?: string): RawBuilder<number> =>
  sql<number>`greatest(coalesce(${col(alias, 'on_hand')} - ${col(alias, 'reserved')}, 0), 0)::int`;

/**
 * `isLowStock` in SQL, written as the expression of inventory_low_stock_idx so the index serves it
 * (equivalent: on_hand >= reserved and low_stock_threshold >= 0 are CHECK constraints).
 */
export const lowStockSql = (alias?: string): RawBuilder<boolean> =>
  sql<boolean>`(${col(alias, 'on_hand')} - ${col(alias, 'reserved')} - ${col(alias, 'low_stock_threshold')}) <= 0`;

export interface StockLevel {
  variantId: string;
  onHand: number;
  reserved: number;
  /** `availableUnits`: never negative. */
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
    .select(['i.variantId', 'i.onHand', 'i.reserved', 'i.lowStockThreshold', 'i.version'])
    .where('i.variantId', 'in', [...new Set(variantIds)])
    .execute();
  for (const r of rows) out.set(r.variantId, { ...r, available: availableUnits(r) });
  return out;
}

export async function availableOf(db: DbOrTrx, variantId: string): Promise<number> {
  return (await stockLevels(db, [variantId])).get(variantId)?.available ?? 0;
}
