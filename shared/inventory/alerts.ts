import type { Trx } from '../db/index.js';
import { enqueueMail } from '../mail/enqueue.js';
import { enqueue } from '../outbox.js';
import { availableUnits, isLowStock } from './availability.js';

/** Mail template enqueued to managers when a variant crosses its low-stock threshold downwards. */
const LOW_STOCK_TEMPLATE = 'low-stock' as const;

export interface StockAfterChange {
  variantId: string;
  onHand: number;
  reserved: number;
  lowStockThreshold: number;
  lowStockAlerted: boolean;
}

/**
 * Called with rows the caller has just changed (and still holds locked). A variant whose available stock is
 * at or below its threshold and that was not alerted yet gets its flag set and ONE `low-stock` email to the
 * managers plus an `inventory.low_stock` notice for staff. The flag is re-armed only when staff raise stock
 * above the threshold again (adjustments), not when reservations are released, so a flapping cart does
 * not spam managers: one mail per crossing.
 */
export async function alertLowStock(trx: Trx, rows: readonly StockAfterChange[], publicUrl?: string): Promise<string[]> {
  const crossing = rows.filter((r) => !r.lowStockAlerted && isLowStock(r));
  if (crossing.length === 0) return [];
  const flagged = await trx
    .updateTable('inventory')
    .set({ lowStockAlerted: true })
    .where('variantId', 'in', crossing.map((r) => r.variantId))
    .where('lowStockAlerted', '=', false)
    .returning(['variantId', 'onHand', 'reserved', 'lowStockThreshold'])
    .execute();
  if (flagged.length === 0) return [];
  const details = await trx
    .selectFrom('productVariants as v')
    .innerJoin('products as p', 'p.id', 'v.productId')
    .select(['v.id', 'v.sku', 'v.title as variantTitle', 'p.title as productTitle', 'p.id as productId'])
    .where('v.id', 'in', flagged.map((r) => r.variantId))
    .execute();
  const managers = await trx
    .selectFrom('users')
    .select('email')
    .where('role', 'in', ['manager', 'admin'])
    .where('disabledAt', 'is', null)
    .orderBy('email')
    .execute();
  for (const row of flagged) {
    const d = details.find((x) => x.id === row.variantId);
    const data = {
      variantId: row.variantId,
      productId: d?.productId ?? null,
      sku: d?.sku ?? '',
      productTitle: d?.productTitle ?? '',
      variantTitle: d?.variantTitle ?? '',
      onHand: row.onHand,
      reserved: row.reserved,
      available: availableUnits(row),
      threshold: row.lowStockThreshold,
      ...(publicUrl ? { inventoryUrl: `${publicUrl.replace(/\/+$/, '')}/admin/inventory?sku=${encodeURIComponent(d?.sku ?? '')}` } : {}),
    };
    if (managers.length) {
      await enqueueMail(trx, null, LOW_STOCK_TEMPLATE, managers.map((m) => m.email).join(', '), data);
    }
    await enqueue(trx, 'system.notify', { type: 'inventory.low_stock', staff: true, data });
  }
  return flagged.map((r) => r.variantId);
}
