import { sql } from 'kysely';
import type { Trx } from '../../db/index.js';
import { EXTERNAL_PREFIX } from '../../media/storage.js';
import { ensureCategoryPath } from '../categories.js';
import { RowFailure, type ParsedProduct } from './parse-product.js';

/**
 * Writes one product (upsert by handle, variants by SKU, images by source URL) in the caller's transaction.
 * A variant the database refuses is added to `failures` and the rest carries on, so one pass finds every
 * such row; the caller rolls the transaction back when any row failed.
 */
export async function saveProduct(
  trx: Trx,
  p: ParsedProduct,
  failures: RowFailure[],
): Promise<'created' | 'updated'> {
  const categoryId = p.category.length ? await ensureCategoryPath(trx, p.category) : null;
  const fields = {
    title: p.title,
    description: p.description,
    status: p.status,
    categoryId,
    tags: p.tags,
    vendor: p.vendor,
    productType: p.productType,
    seoTitle: p.seoTitle,
    seoDescription: p.seoDescription,
  };
  const product = await trx
    .insertInto('products')
    .values({ slug: p.handle, ...fields })
    .onConflict((oc) => oc.column('slug').doUpdateSet(fields))
    .returning(['id', sql<boolean>`(xmax = 0)`.as('inserted')])
    .executeTakeFirstOrThrow();

  for (const [i, v] of p.variants.entries()) {
    const values = {
      productId: product.id,
      sku: v.sku,
      title: Object.values(v.options).join(' / ') || 'Default',
      options: JSON.stringify(v.options),
      price: v.price,
      compareAtPrice: v.compareAtPrice,
      weightGrams: v.weightGrams,
      position: i,
    };
    const { productId: _ignored, sku: _sku, ...updates } = values;
    const saved = await trx
      .insertInto('productVariants')
      .values(values)
      .onConflict((oc) =>
        oc.column('sku').doUpdateSet(updates).where('productVariants.productId', '=', product.id),
      )
      .returning('id')
      .executeTakeFirst();
    if (!saved) {
      failures.push(new RowFailure(v.line, `Variant SKU ${v.sku} already belongs to another product`));
      continue;
    }
    const stock = await trx
      .selectFrom('inventory')
      .select(['onHand', 'reserved'])
      .where('variantId', '=', saved.id)
      .executeTakeFirst();
    const target = v.qty ?? stock?.onHand ?? 0;
    if (!stock) {
      await trx.insertInto('inventory').values({ variantId: saved.id, onHand: target }).execute();
    } else if (target !== stock.onHand) {
      if (target < stock.reserved) {
        failures.push(
          new RowFailure(
            v.line,
            `Variant Inventory Qty ${target} is below the ${stock.reserved} units reserved by open orders`,
          ),
        );
        continue;
      }
      await trx
        .updateTable('inventory')
        .set({ onHand: target, version: sql`version + 1` })
        .where('variantId', '=', saved.id)
        .execute();
    }
    const delta = target - (stock?.onHand ?? 0);
    if (delta !== 0) {
      await trx
        .insertInto('inventoryMovements')
        .values({ variantId: saved.id, deltaOnHand: delta, reason: 'import' })
        .execute();
    }
  }

  for (const img of p.images) {
    const position = Math.max(img.position - 1, 0);
    const updated = await trx
      .updateTable('productImages')
      .set({ alt: img.alt, position })
      .where('productId', '=', product.id)
      .where('sourceUrl', '=', img.src)
      .returning('id')
      .executeTakeFirst();
    if (updated) continue;
    await trx
      .insertInto('productImages')
      .values({
        productId: product.id,
        storage: 'local',
        storageKey: `${EXTERNAL_PREFIX}${img.src}`,
        urls: JSON.stringify({ thumb: img.src, card: img.src, zoom: img.src }),
        alt: img.alt,
        position,
        sourceUrl: img.src,
      })
      .execute();
  }
  return product.inserted ? 'created' : 'updated';
}

