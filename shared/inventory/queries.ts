import { sql } from 'kysely';
import type { DbOrTrx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { availableSql, lowStockSql } from './availability.js';
import type { InventoryItem } from './schemas.js';

export type { InventoryItem } from './schemas.js';

export interface InventoryQuery {
  lowStock?: boolean;
  /** Case-insensitive SKU prefix. */
  sku?: string;
  limit: number;
  cursor?: string;
}

/** Per variant, ordered by SKU (keyset cursor). `lowStock` keeps variants at or below their threshold. */
export async function listInventory(db: DbOrTrx, q: InventoryQuery): Promise<{ items: InventoryItem[]; nextCursor: string | null }> {
  const after = q.cursor ? decodeCursor(q.cursor, ['text'])[0] : undefined;
  let query = db
    .selectFrom('inventory as i')
    .innerJoin('productVariants as v', 'v.id', 'i.variantId')
    .innerJoin('products as p', 'p.id', 'v.productId')
    .select([
      'i.variantId',
      'v.productId',
      'p.title as productTitle',
      'v.title as variantTitle',
      'v.sku',
      'i.onHand',
      'i.reserved',
      availableSql('i').as('available'),
      'i.lowStockThreshold',
      'i.lowStockAlerted',
      'i.version',
      'i.updatedAt',
    ])
    .orderBy('v.sku')
    .limit(q.limit + 1);
  if (q.sku) query = query.where(sql<boolean>`v.sku ILIKE ${`${q.sku.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`);
  if (q.lowStock) query = query.where(lowStockSql('i'));
  if (after !== undefined) query = query.where('v.sku', '>', after);
  const rows = await query.execute();
  const page = rows.slice(0, q.limit);
  return {
    items: page.map((r) => ({ ...r, available: Number(r.available), updatedAt: new Date(r.updatedAt).toISOString() })),
    nextCursor: rows.length > q.limit ? encodeCursor([page[page.length - 1].sku]) : null,
  };
}
