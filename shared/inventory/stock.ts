import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, Trx } from '../db/index.js';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '../errors.js';
import { alertLowStock } from './alerts.js';
import { availableUnits, isLowStock } from './availability.js';
import type { StockRow } from './schemas.js';

export type { StockRow } from './schemas.js';

/**
 * Staff stock changes. Each one locks the inventory row (FOR UPDATE), checks, updates, writes an
 * inventory_movements row and raises the low-stock alert when the change crosses the threshold.
 * `version` is bumped whenever on_hand or the threshold change (not on reservations, which would make
 * every staff edit during a sale conflict): `{onHand, version}` is optimistic concurrency for counts.
 */

interface LockedRow {
  variantId: string;
  sku: string;
  onHand: number;
  reserved: number;
  lowStockThreshold: number;
  lowStockAlerted: boolean;
  version: number;
}

/** Locks the rows of these variants in a fixed order (variant id), creating missing rows at zero. */
async function lockRows(trx: Trx, variantIds: readonly string[]): Promise<Map<string, LockedRow>> {
  const ids = [...new Set(variantIds)].sort();
  if (ids.length === 0) return new Map();
  // The catalog creates a row with each variant; be tolerant of variants created before that.
  await sql`INSERT INTO inventory (variant_id) SELECT id FROM product_variants WHERE id = ANY(${ids}::uuid[])
            ON CONFLICT (variant_id) DO NOTHING`.execute(trx);
  const rows = await sql<LockedRow>`
    SELECT i.variant_id AS "variantId", v.sku, i.on_hand AS "onHand", i.reserved, i.low_stock_threshold AS "lowStockThreshold",
           i.low_stock_alerted AS "lowStockAlerted", i.version
    FROM inventory i JOIN product_variants v ON v.id = i.variant_id
    WHERE i.variant_id = ANY(${ids}::uuid[]) ORDER BY i.variant_id FOR UPDATE OF i`.execute(trx);
  return new Map(rows.rows.map((r) => [r.variantId, r]));
}

async function writeChange(
  trx: Trx,
  row: LockedRow,
  next: { onHand: number; lowStockThreshold?: number },
  movement: { reason: string; actorId: string | null },
  publicUrl?: string,
): Promise<StockRow> {
  const threshold = next.lowStockThreshold ?? row.lowStockThreshold;
  const updated = await trx
    .updateTable('inventory')
    .set({
      onHand: next.onHand,
      lowStockThreshold: threshold,
      version: row.version + 1,
      // Raised above the threshold again: re-arm the alert for the next crossing.
      lowStockAlerted: row.lowStockAlerted && isLowStock({ onHand: next.onHand, reserved: row.reserved, lowStockThreshold: threshold }),
      updatedAt: sql`now()`,
    })
    .where('variantId', '=', row.variantId)
    .returning(['variantId', 'onHand', 'reserved', 'lowStockThreshold', 'lowStockAlerted', 'version'])
    .executeTakeFirstOrThrow();
  if (next.onHand !== row.onHand) {
    await trx
      .insertInto('inventoryMovements')
      .values({ variantId: row.variantId, deltaOnHand: next.onHand - row.onHand, deltaReserved: 0, reason: movement.reason, actorId: movement.actorId })
      .execute();
  }
  const alerted = await alertLowStock(trx, [updated], publicUrl);
  return {
    ...updated,
    sku: row.sku,
    available: availableUnits(updated),
    lowStockAlerted: updated.lowStockAlerted || alerted.includes(updated.variantId),
  };
}

const belowReserved = (sku: string, onHand: number, reserved: number) =>
  new ConflictError('insufficient_stock', `On hand for ${sku} cannot go below the ${reserved} reserved units (asked ${onHand})`, {
    lines: [{ sku, requested: reserved, available: Math.max(0, onHand) }],
  });

export interface SetStockInput {
  onHand: number;
  version: number;
  lowStockThreshold?: number;
}

/** `{onHand, version}`: a count; a stale version answers 409 version_conflict with the current one. */
async function setStock(trx: Trx, variantId: string, input: SetStockInput, actorId: string | null, publicUrl?: string) {
  const row = (await lockRows(trx, [variantId])).get(variantId);
  if (!row) throw new NotFoundError('Variant');
  if (row.version !== input.version) {
    throw new ConflictError('version_conflict', `The stock of ${row.sku} changed since you read it (version ${row.version})`, {
      currentVersion: row.version,
    });
  }
  if (input.onHand < row.reserved) throw belowReserved(row.sku, input.onHand, row.reserved);
  return writeChange(trx, row, { onHand: input.onHand, lowStockThreshold: input.lowStockThreshold }, { reason: 'count', actorId }, publicUrl);
}

export interface AdjustStockInput {
  delta: number;
  reason: string;
  lowStockThreshold?: number;
}

/** `{delta, reason}`: received goods, damage, ... relative to whatever is there now. */
async function adjustStock(trx: Trx, variantId: string, input: AdjustStockInput, actorId: string | null, publicUrl?: string) {
  const row = (await lockRows(trx, [variantId])).get(variantId);
  if (!row) throw new NotFoundError('Variant');
  const onHand = row.onHand + input.delta;
  if (onHand < row.reserved) throw belowReserved(row.sku, onHand, row.reserved);
  return writeChange(trx, row, { onHand, lowStockThreshold: input.lowStockThreshold }, { reason: input.reason, actorId }, publicUrl);
}

class BulkAdjustError extends DomainError {
  constructor(readonly failed: { sku: string; reason: 'not_found' | 'insufficient_stock'; onHand?: number; reserved?: number }[]) {
    super(409, 'bulk_adjust_failed', `Nothing was changed; these SKUs failed: ${failed.map((f) => f.sku).join(', ')}`, {
      failed,
      errors: failed.map((f) => ({ path: `/items/sku=${f.sku}`, message: f.reason === 'not_found' ? 'unknown SKU' : 'would go below reserved stock' })),
    });
  }
}

/** One variant's stock, counted (`onHand` + `version`) or adjusted (`delta` + `reason`), in its own transaction. */
export function changeStock(db: Db, variantId: string, input: SetStockInput | AdjustStockInput, actorId: string | null, publicUrl?: string): Promise<StockRow> {
  return db.transaction().execute(async (trx) => {
    const counted = 'onHand' in input;
    const row = counted ? await setStock(trx, variantId, input, actorId, publicUrl) : await adjustStock(trx, variantId, input, actorId, publicUrl);
    await writeAudit(trx, {
      actorId,
      action: counted ? 'stock.counted' : 'stock.adjusted',
      targetType: 'variant',
      targetId: variantId,
      after: { ...input, sku: row.sku, onHand: row.onHand, lowStockThreshold: row.lowStockThreshold, version: row.version },
    });
    return row;
  });
}

/** By SKU, all or nothing, in one transaction: every failing SKU is named and nothing changes. Each SKU may appear once. */
export async function bulkAdjust(
  db: Db,
  items: readonly { sku: string; delta: number }[],
  reason: string,
  actorId: string | null,
  publicUrl?: string,
): Promise<StockRow[]> {
  const seen = new Set<string>();
  const dupes = items.flatMap((item, i) => (seen.has(item.sku) ? [{ path: `/items/${i}/sku`, message: `${item.sku} appears twice` }] : (seen.add(item.sku), [])));
  if (dupes.length) throw new ValidationError('Each SKU may appear once', dupes);
  return db.transaction().execute(async (trx) => {
    const rows = await adjustBySku(trx, items, reason, actorId, publicUrl);
    const deltas = new Map(items.map((i) => [i.sku, i.delta]));
    const changed = rows.map((r) => ({ variantId: r.variantId, sku: r.sku, delta: deltas.get(r.sku), onHand: r.onHand }));
    await writeAudit(trx, { actorId, action: 'stock.bulk_adjusted', targetType: 'inventory', targetId: null, after: { reason, items: changed } });
    return rows;
  });
}

async function adjustBySku(
  trx: Trx,
  items: readonly { sku: string; delta: number }[],
  reason: string,
  actorId: string | null,
  publicUrl?: string,
): Promise<StockRow[]> {
  const skus = items.map((i) => i.sku);
  const variants = await trx.selectFrom('productVariants').select(['id', 'sku']).where('sku', 'in', skus).execute();
  const idBySku = new Map(variants.map((v) => [v.sku, v.id]));
  const rows = await lockRows(trx, variants.map((v) => v.id));
  const failed: ConstructorParameters<typeof BulkAdjustError>[0] = [];
  for (const item of items) {
    const id = idBySku.get(item.sku);
    const row = id ? rows.get(id) : undefined;
    if (!row) failed.push({ sku: item.sku, reason: 'not_found' });
    else if (row.onHand + item.delta < row.reserved) failed.push({ sku: item.sku, reason: 'insufficient_stock', onHand: row.onHand, reserved: row.reserved });
  }
  if (failed.length) throw new BulkAdjustError(failed);
  const out: StockRow[] = [];
  // Rows are already locked in variant-id order; the writes can go in any order.
  for (const item of items) {
    const row = rows.get(idBySku.get(item.sku)!)!;
    out.push(await writeChange(trx, row, { onHand: row.onHand + item.delta }, { reason, actorId }, publicUrl));
  }
  return out;
}
