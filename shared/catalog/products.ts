import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import { queryPrepared, type Db, type DbOrTrx, type Trx } from '../db/index.js';
import { BadRequestError, ConflictError, NotFoundError, isUniqueViolation } from '../errors.js';
import { availableSql } from '../inventory/availability.js';
import { isUuid, slugify } from './slug.js';

import type { ProductInput, ProductView, VariantInput, VariantView } from './schemas.js';

export { productStatuses, type ImageView, type ProductInput, type ProductStatus, type ProductView, type VariantInput, type VariantView } from './schemas.js';

/**
 * The product with its category, variants (stock as `available`, never negative) and images, in ONE
 * query: the product's stored document (migrations/2026121130_product_documents.ts, kept by triggers in every
 * catalog write) with each variant's stock read live where it goes. A primary-key read and one stock row a
 * variant: what the document holds changes only with the catalog, stock with every sale.
 */
export async function findProductJson(db: DbOrTrx, idOrSlug: string, opts: { publicOnly: boolean }): Promise<{ id: string; json: string } | null> {
  // An uncached detail is the catalog's hottest statement: its text is built once per form (by id or slug,
  // public or staff), not per request, and it runs prepared.
  const form = `${isUuid(idOrSlug) ? 'id' : 'slug'}:${opts.publicOnly ? 'public' : 'staff'}`;
  let text = detailStatements.get(form);
  if (text === undefined) {
    const compiled = detailStatement(isUuid(idOrSlug), opts.publicOnly).compile(db);
    if (compiled.parameters.length !== 1) throw new Error('the product detail statement takes one parameter');
    text = compiled.sql;
    detailStatements.set(form, text);
  }
  const [row] = await queryPrepared<{ id: string; json: string }>(db, text, [idOrSlug]);
  return row ?? null;
}

const detailStatements = new Map<string, string>();

function detailStatement(byId: boolean, publicOnly: boolean) {
  const where = byId ? sql`d.product_id = ${''}::uuid` : sql`d.slug = ${''}`;
  const status = publicOnly ? sql`AND d.status = 'active'` : sql``;
  return sql<{ id: string; json: string }>`
    SELECT d.product_id AS id, d.head || COALESCE((
      SELECT string_agg(${availableSql('i')}::text || u.part, '' ORDER BY u.n)
      FROM unnest(d.variant_ids, d.parts) WITH ORDINALITY AS u(variant_id, part, n)
      LEFT JOIN inventory i ON i.variant_id = u.variant_id), '') AS json
    FROM product_documents d WHERE ${where} ${status}`;
}

async function findProduct(db: DbOrTrx, idOrSlug: string, opts: { publicOnly: boolean }): Promise<ProductView | null> {
  const found = await findProductJson(db, idOrSlug, opts);
  return found === null ? null : (JSON.parse(found.json) as ProductView);
}

async function getProduct(db: DbOrTrx, idOrSlug: string, opts: { publicOnly: boolean }): Promise<ProductView> {
  const product = await findProduct(db, idOrSlug, opts);
  if (!product) throw new NotFoundError('Product');
  return product;
}

const slugTaken = () => new ConflictError('slug_taken', 'Another product already uses this slug');
const skuTaken = (sku?: string) => new ConflictError('sku_taken', `Another variant already uses the SKU${sku ? ` ${sku}` : ''}`);

async function assertCategory(db: DbOrTrx, categoryId: string | null | undefined) {
  if (!categoryId) return;
  const row = await db.selectFrom('categories').select('id').where('id', '=', categoryId).executeTakeFirst();
  if (!row) throw new BadRequestError('unknown_category', 'The category does not exist', [{ path: '/categoryId', message: 'does not exist' }]);
}

function uniqueViolationToConflict(err: unknown, sku?: string): never {
  if (isUniqueViolation(err, 'products_slug_key')) throw slugTaken();
  if (isUniqueViolation(err, 'product_variants_sku_key')) throw skuTaken(sku);
  throw err;
}

/** A variant and its stock row (onHand 0) in the caller's transaction: inventory has one row per variant. */
async function insertVariant(trx: Trx, productId: string, input: VariantInput, fallbackPosition = 0) {
  const variant = await trx
    .insertInto('productVariants')
    .values({
      productId,
      sku: input.sku,
      title: input.title ?? (Object.values(input.options ?? {}).join(' / ') || 'Default'),
      options: JSON.stringify(input.options ?? {}),
      price: input.price,
      compareAtPrice: input.compareAtPrice ?? null,
      currency: input.currency ?? 'NGN',
      weightGrams: input.weightGrams ?? null,
      position: input.position ?? fallbackPosition,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx.insertInto('inventory').values({ variantId: variant.id, onHand: 0 }).execute();
  return variant.id;
}

export async function createProduct(db: Db, input: ProductInput, actorId: string | null = null): Promise<ProductView> {
  await assertCategory(db, input.categoryId);
  const skus = (input.variants ?? []).map((v) => v.sku);
  const duplicate = skus.find((s, i) => skus.indexOf(s) !== i);
  if (duplicate) throw skuTaken(duplicate);
  try {
    const id = await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('products')
        .values({
          title: input.title,
          slug: input.slug ?? slugify(input.title),
          description: input.description ?? '',
          status: input.status ?? 'draft',
          categoryId: input.categoryId ?? null,
          tags: input.tags ?? [],
          attributes: JSON.stringify(input.attributes ?? {}),
          vendor: input.vendor ?? null,
          productType: input.productType ?? null,
          seoTitle: input.seoTitle ?? null,
          seoDescription: input.seoDescription ?? null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const [i, v] of (input.variants ?? []).entries()) await insertVariant(trx, row.id, v, i);
      await writeAudit(trx, { actorId, action: 'product.created', targetType: 'product', targetId: row.id, after: input });
      return row.id;
    });
    return await getProduct(db, id, { publicOnly: false });
  } catch (err) {
    uniqueViolationToConflict(err);
  }
}

export type ProductPatch = Partial<Omit<ProductInput, 'variants'>>;

export async function updateProduct(db: Db, id: string, patch: ProductPatch, actorId: string | null = null): Promise<ProductView> {
  await assertCategory(db, patch.categoryId);
  const { attributes, ...rest } = patch;
  const changes: Record<string, unknown> = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  if (attributes !== undefined) changes.attributes = JSON.stringify(attributes);
  try {
    await db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('products').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!before) throw new NotFoundError('Product');
      if (!Object.keys(changes).length) return;
      await trx.updateTable('products').set(changes).where('id', '=', id).execute();
      const keys = Object.keys(changes) as (keyof typeof before)[];
      await writeAudit(trx, {
        actorId,
        action: 'product.updated',
        targetType: 'product',
        targetId: id,
        before: Object.fromEntries(keys.map((k) => [k, before[k]])),
        after: { ...rest, ...(attributes !== undefined ? { attributes } : {}) },
      });
    });
  } catch (err) {
    uniqueViolationToConflict(err);
  }
  return getProduct(db, id, { publicOnly: false });
}

/** DELETE archives: orders keep pointing at the product, customers stop seeing it. */
export async function archiveProduct(db: Db, id: string, actorId: string | null = null): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('products').select('status').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!before) throw new NotFoundError('Product');
    await trx.updateTable('products').set({ status: 'archived' }).where('id', '=', id).execute();
    await writeAudit(trx, { actorId, action: 'product.archived', targetType: 'product', targetId: id, before, after: { status: 'archived' } });
  });
}

export async function createVariant(
  db: Db,
  productId: string,
  input: VariantInput,
  actorId: string | null = null,
): Promise<VariantView & { productId: string }> {
  try {
    const id = await db.transaction().execute(async (trx) => {
      const product = await trx.selectFrom('products').select('id').where('id', '=', productId).executeTakeFirst();
      if (!product) throw new NotFoundError('Product');
      const { next } = await trx
        .selectFrom('productVariants')
        .select(sql<number>`COALESCE(max(position) + 1, 0)::int`.as('next'))
        .where('productId', '=', productId)
        .executeTakeFirstOrThrow();
      const variantId = await insertVariant(trx, productId, input, next);
      await writeAudit(trx, { actorId, action: 'variant.created', targetType: 'variant', targetId: variantId, after: { productId, ...input } });
      return variantId;
    });
    return await getVariant(db, id);
  } catch (err) {
    uniqueViolationToConflict(err, input.sku);
  }
}

export type VariantPatch = Partial<VariantInput>;

export async function updateVariant(
  db: Db,
  id: string,
  patch: VariantPatch,
  actorId: string | null = null,
): Promise<VariantView & { productId: string }> {
  const { options, ...rest } = patch;
  const changes: Record<string, unknown> = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  if (options !== undefined) changes.options = JSON.stringify(options);
  try {
    if (Object.keys(changes).length) {
      await db.transaction().execute(async (trx) => {
        const before = await trx.selectFrom('productVariants').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
        if (!before) throw new NotFoundError('Variant');
        await trx.updateTable('productVariants').set(changes).where('id', '=', id).execute();
        const keys = Object.keys(changes) as (keyof typeof before)[];
        await writeAudit(trx, {
          actorId,
          // Price changes are what owners look for most: their own action, under the same prefix.
          action: 'price' in changes || 'compareAtPrice' in changes ? 'variant.price_changed' : 'variant.updated',
          targetType: 'variant',
          targetId: id,
          before: Object.fromEntries(keys.map((k) => [k, before[k]])),
          after: { ...rest, ...(options !== undefined ? { options } : {}) },
        });
      });
    }
  } catch (err) {
    uniqueViolationToConflict(err, patch.sku);
  }
  return getVariant(db, id);
}

async function getVariant(db: DbOrTrx, id: string): Promise<VariantView & { productId: string }> {
  const row = await db
    .selectFrom('productVariants as v')
    .leftJoin('inventory as i', 'i.variantId', 'v.id')
    .select([
      'v.id',
      'v.productId',
      'v.sku',
      'v.title',
      'v.options',
      'v.price',
      'v.compareAtPrice',
      'v.currency',
      'v.weightGrams',
      availableSql('i').as('available'),
    ])
    .where('v.id', '=', id)
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Variant');
  return { ...row, options: row.options as Record<string, string> };
}
