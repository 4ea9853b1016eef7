/**
 * Inventory: one stock row per variant, every change audited in inventory_movements.
 * Used by other domains:
 *  - availableUnits / availableSql / stockLevels / availableOf: what can be sold, one rule (on_hand − reserved;
 *    a hold counts until released, see availability.ts);
 *  - reserveLines (checkout), releaseOrderReservation (cancel/expiry), commitOrderReservation (paid),
 *    restockUnits (refund with restock: named lines, each unit once), restockOrderItems (staff cancel: every
 *    unit not yet restocked): all inside the caller's transaction, all idempotent.
 */
export { availableOf, availableSql, availableUnits, isLowStock, lowStockSql, stockLevels, type StockLevel, type StockNumbers } from './availability.js';
export { alertLowStock, LOW_STOCK_TEMPLATE } from './alerts.js';
export { listInventory, type InventoryItem, type InventoryQuery } from './queries.js';
export {
  commitOrderReservation,
  releaseOrderReservation,
  reserveLines,
  restockOrderItems,
  restockUnits,
  type CommitResult,
  type Restocked,
  type RestockLine,
  type ReserveLine,
  type Shortfall,
} from './reservations.js';
export { bulkAdjust, BulkAdjustError, changeStock, type StockRow } from './stock.js';
