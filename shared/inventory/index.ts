/**
 * Inventory: one stock row per variant, every change audited in inventory_movements.
 * Used by other domains:
 *  - availableUnits / availableSql / stockLevels / availableOf: what can be sold, one rule (on_hand − reserved;
 *    a hold counts until released, see availability.ts);
 *  - reserveLines (checkout), releaseOrderReservation (cancel/expiry), commitOrderReservation (paid),
 *    restockUnits (refund with restock: named lines, each unit once), restockOrderItems (staff cancel: every
 *    unit not yet restocked): all inside the caller's transaction, all idempotent;
 *  - reserveLines + releaseLines without an order's lines: a return's exchange hold (shared/returns).
 */
export { availableOf, stockLevels } from './availability.js';
export { listInventory } from './queries.js';
export { commitOrderReservation, releaseLines, releaseOrderReservation, reserveLines, restockOrderItems, restockUnits } from './reservations.js';
export { bulkAdjust, changeStock } from './stock.js';
