import { Type, type Static } from 'typebox';
import { Timestamp, Uuid } from '../schemas.js';

/** A variant's stock as staff see it (shared/inventory/stock.ts answers every change with it). */
export const StockRow = Type.Object({
  variantId: Uuid,
  sku: Type.String(),
  onHand: Type.Integer(),
  reserved: Type.Integer(),
  available: Type.Integer(),
  lowStockThreshold: Type.Integer(),
  lowStockAlerted: Type.Boolean(),
  version: Type.Integer(),
});

export const InventoryItem = Type.Object({
  ...StockRow.properties,
  productId: Uuid,
  productTitle: Type.String(),
  variantTitle: Type.String(),
  updatedAt: Timestamp,
});

export type StockRow = Static<typeof StockRow>;
export type InventoryItem = Static<typeof InventoryItem>;
