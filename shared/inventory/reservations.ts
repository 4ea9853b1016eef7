import { sql } from 'kysely';
import type { Trx } from '../db/index.js';
import { alertLowStock, type StockAfterChange } from './alerts.js';
import { availableSql } from './availability.js';

/**
 * Reservations of an order's stock. Every function here runs inside the caller's transaction and touches
 * inventory rows in variant-id order (checkout does the same), so two transactions never wait on each
 * other in opposite orders.
 */

export interface ReserveLine {
  variantId: string;
  quantity: number;
  sku?: string;
}

export interface Shortfall {
  variantId: string;
  sku?: string;
  requested: number;
  available: number;
}

/**
 * Reserves every line with one conditional statement each:
 *   UPDATE inventory SET reserved = reserved + q WHERE variant_id = $1 AND on_hand - reserved >= q
 * Lines that could not be reserved come back as shortfalls; the caller must then roll the whole
 * transaction back (nothing stays reserved). Movements are written for what was reserved.
 */
export async function reserveLines(trx: Trx, orderId: string, lines: readonly ReserveLine[], publicUrl?: string): Promise<Shortfall[]> {
  const sorted = [...lines].sort((a, b) => (a.variantId < b.variantId ? -1 : a.variantId > b.variantId ? 1 : 0));
  const shortfalls: Shortfall[] = [];
  const changed: StockAfterChange[] = [];
  for (const line of sorted) {
    const { rows } = await sql<StockAfterChange>`
      UPDATE inventory SET reserved = reserved + ${line.quantity}, updated_at = now()
      WHERE variant_id = ${line.variantId} AND on_hand - reserved >= ${line.quantity}
      RETURNING variant_id AS "variantId", on_hand AS "onHand", reserved, low_stock_threshold AS "lowStockThreshold",
                low_stock_alerted AS "lowStockAlerted"`.execute(trx);
    if (rows[0]) changed.push(rows[0]);
    else shortfalls.push({ variantId: line.variantId, sku: line.sku, requested: line.quantity, available: 0 });
  }
  if (shortfalls.length) {
    // Only for the error message: what is there now (the transaction is about to roll back).
    const now = await trx
      .selectFrom('inventory')
      .select(['variantId', availableSql().as('available')])
      .where('variantId', 'in', shortfalls.map((s) => s.variantId))
      .execute();
    for (const s of shortfalls) s.available = now.find((r) => r.variantId === s.variantId)?.available ?? 0;
    return shortfalls;
  }
  await trx
    .insertInto('inventoryMovements')
    .values(sorted.map((l) => ({ variantId: l.variantId, deltaOnHand: 0, deltaReserved: l.quantity, reason: 'reserve', orderId })))
    .execute();
  await alertLowStock(trx, changed, publicUrl);
  return [];
}

interface OrderLine {
  variantId: string;
  quantity: number;
}

async function orderLines(trx: Trx, orderId: string): Promise<OrderLine[]> {
  const rows = await trx
    .selectFrom('orderItems')
    .select(['variantId', sql<number>`sum(quantity)::int`.as('quantity')])
    .where('orderId', '=', orderId)
    .where('variantId', 'is not', null)
    .groupBy('variantId')
    .orderBy('variantId')
    .execute();
  return rows.map((r) => ({ variantId: r.variantId!, quantity: r.quantity }));
}

/**
 * Marks the order's reservation as no longer held. Returns false if it already was (released, or turned
 * into a sale): that makes release and commit idempotent and mutually exclusive.
 */
async function claimReservation(trx: Trx, orderId: string): Promise<boolean> {
  const row = await trx
    .updateTable('orders')
    .set({ reservationReleasedAt: sql`now()` })
    .where('id', '=', orderId)
    .where('reservationReleasedAt', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return Boolean(row);
}

/**
 * Gives the order's reserved units back (cancel, expiry). Idempotent: the second call finds
 * orders.reservation_released_at set and does nothing. Returns whether it released anything.
 */
export async function releaseOrderReservation(trx: Trx, orderId: string, reason: string): Promise<boolean> {
  if (!(await claimReservation(trx, orderId))) return false;
  const lines = await orderLines(trx, orderId);
  for (const l of lines) {
    await sql`UPDATE inventory SET reserved = reserved - ${l.quantity}, updated_at = now() WHERE variant_id = ${l.variantId}`.execute(trx);
  }
  if (lines.length) {
    await trx
      .insertInto('inventoryMovements')
      .values(lines.map((l) => ({ variantId: l.variantId, deltaOnHand: 0, deltaReserved: -l.quantity, reason: `release:${reason}`, orderId })))
      .execute();
  }
  return true;
}

/**
 * Gives back units reserved with `reserveLines` that no order's lines describe (a return's exchange: held
 * at approval for the size swap, released when the return is cancelled or expires). The caller decides
 * once (under its own row lock) that the hold is still there; rows are touched in variant-id order.
 */
export async function releaseLines(trx: Trx, orderId: string, lines: readonly ReserveLine[], reason: string): Promise<void> {
  const sorted = [...lines].sort((a, b) => (a.variantId < b.variantId ? -1 : a.variantId > b.variantId ? 1 : 0));
  for (const l of sorted) {
    await sql`UPDATE inventory SET reserved = reserved - ${l.quantity}, updated_at = now() WHERE variant_id = ${l.variantId}`.execute(trx);
  }
  if (sorted.length) {
    await trx
      .insertInto('inventoryMovements')
      .values(sorted.map((l) => ({ variantId: l.variantId, deltaOnHand: 0, deltaReserved: -l.quantity, reason: `release:${reason}`, orderId })))
      .execute();
  }
}

export type CommitResult = 'committed' | 'already_committed' | 'released';

/**
 * Paid: reserved units become sold (on_hand −= q, reserved −= q), with movements. Idempotent: a second
 * call answers 'already_committed'; if the reservation was released first (expired or cancelled before
 * the payment arrived) it answers 'released' and changes nothing: the caller decides (refund, re-reserve).
 */
export async function commitOrderReservation(trx: Trx, orderId: string): Promise<CommitResult> {
  if (!(await claimReservation(trx, orderId))) {
    const sold = await trx
      .selectFrom('inventoryMovements')
      .select('id')
      .where('orderId', '=', orderId)
      .where('reason', '=', 'sale')
      .executeTakeFirst();
    return sold ? 'already_committed' : 'released';
  }
  const lines = await orderLines(trx, orderId);
  for (const l of lines) {
    await sql`UPDATE inventory SET on_hand = on_hand - ${l.quantity}, reserved = reserved - ${l.quantity}, version = version + 1,
              updated_at = now() WHERE variant_id = ${l.variantId}`.execute(trx);
  }
  if (lines.length) {
    await trx
      .insertInto('inventoryMovements')
      .values(lines.map((l) => ({ variantId: l.variantId, deltaOnHand: -l.quantity, deltaReserved: -l.quantity, reason: 'sale', orderId })))
      .execute();
  }
  return 'committed';
}

export interface RestockLine {
  orderItemId: string;
  quantity: number;
}

export interface Restocked {
  orderItemId: string;
  variantId: string;
  quantity: number;
}

/**
 * Puts sold units of an order back on the shelf: the named lines (each at most what it has not had
 * restocked yet), or with `'all'` every unit not yet restocked. A unit goes back at most once across
 * refunds and cancellations: `order_items.restocked_quantity` grows by what is restocked and its CHECK
 * (≤ quantity) holds even if a caller is wrong. An order that was never sold (paid after its reservation
 * was released) restocks nothing. Returns what was restocked, per line.
 */
export async function restockUnits(
  trx: Trx,
  orderId: string,
  wanted: readonly RestockLine[] | 'all',
  actorId: string | null,
): Promise<Restocked[]> {
  // Lock the order row so two restocks of one order serialize, then check the ledger.
  await trx.selectFrom('orders').select('id').where('id', '=', orderId).forUpdate().executeTakeFirst();
  const sold = await trx
    .selectFrom('inventoryMovements')
    .select('id')
    .where('orderId', '=', orderId)
    .where('reason', '=', 'sale')
    .executeTakeFirst();
  if (!sold) return [];
  const lines = await trx
    .selectFrom('orderItems')
    .select(['id', 'variantId', 'quantity', 'restockedQuantity'])
    .where('orderId', '=', orderId)
    .forUpdate()
    .execute();
  const asked = wanted === 'all' ? undefined : new Map(wanted.map((w) => [w.orderItemId, w.quantity]));
  const restocked: Restocked[] = [];
  for (const line of lines) {
    if (!line.variantId) continue; // the variant is gone: nothing to put back
    const left = line.quantity - line.restockedQuantity;
    const quantity = Math.min(asked ? (asked.get(line.id) ?? 0) : left, left);
    if (quantity > 0) restocked.push({ orderItemId: line.id, variantId: line.variantId, quantity });
  }
  if (!restocked.length) return [];
  for (const r of restocked) {
    await trx
      .updateTable('orderItems')
      .set((eb) => ({ restockedQuantity: eb('restockedQuantity', '+', r.quantity) }))
      .where('id', '=', r.orderItemId)
      .execute();
  }
  // Inventory rows in variant-id order, like checkout, so restocks never deadlock with reservations.
  const byVariant = new Map<string, number>();
  for (const r of restocked) byVariant.set(r.variantId, (byVariant.get(r.variantId) ?? 0) + r.quantity);
  const variants = [...byVariant].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [variantId, quantity] of variants) {
    await sql`UPDATE inventory SET on_hand = on_hand + ${quantity}, version = version + 1, updated_at = now()
              WHERE variant_id = ${variantId}`.execute(trx);
  }
  await trx
    .insertInto('inventoryMovements')
    .values(variants.map(([variantId, quantity]) => ({ variantId, deltaOnHand: quantity, deltaReserved: 0, reason: 'restock', orderId, actorId })))
    .execute();
  return restocked;
}

/**
 * Puts every sold unit of an order not yet restocked back on the shelf (staff cancelling a paid order).
 * Returns false when there was nothing left to restock (done before, or never sold).
 */
export async function restockOrderItems(trx: Trx, orderId: string, actorId: string | null): Promise<boolean> {
  return (await restockUnits(trx, orderId, 'all', actorId)).length > 0;
}
