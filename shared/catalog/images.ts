import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { NotFoundError } from '../errors.js';
import { inspectImage } from '../media/inspect.js';
import { EXTERNAL_PREFIX, type MediaStorage, type PresetUrls } from '../media/storage.js';
import type { ImageView } from './products.js';

const view = (row: { id: string; urls: unknown; alt: string; position: number }): ImageView => ({
  id: row.id,
  urls: row.urls as PresetUrls,
  alt: row.alt,
  position: row.position,
});

async function assertProduct(db: DbOrTrx, productId: string) {
  const row = await db.selectFrom('products').select('id').where('id', '=', productId).executeTakeFirst();
  if (!row) throw new NotFoundError('Product');
}

/**
 * Checks the bytes (type by content, dimensions from the header), stores the three presets on the media
 * host, then records the image last in the product's order. A failed insert removes the upload again.
 */
export async function addProductImage(
  db: Db,
  storage: MediaStorage,
  productId: string,
  bytes: Buffer,
  alt = '',
  actorId: string | null = null,
): Promise<ImageView> {
  await assertProduct(db, productId);
  await inspectImage(bytes);
  const id = randomUUID();
  const stored = await storage.put(bytes, { folder: `products/${productId}`, name: id });
  try {
    return await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('productImages')
        .values({
          id,
          productId,
          storage: stored.storage,
          storageKey: stored.key,
          version: stored.version,
          urls: JSON.stringify(stored.urls),
          alt,
          width: stored.width,
          height: stored.height,
          position: sql<number>`(SELECT COALESCE(max(position) + 1, 0) FROM product_images WHERE product_id = ${productId})`,
        })
        .returning(['id', 'urls', 'alt', 'position'])
        .executeTakeFirstOrThrow();
      await writeAudit(trx, { actorId, action: 'image.added', targetType: 'product', targetId: productId, after: { imageId: id, alt } });
      return view(row);
    });
  } catch (err) {
    await storage.remove(stored.key).catch(() => {});
    throw err;
  }
}

/** Attaches an image a browser uploaded straight to Cloudinary, after checking the host's signature. */
export async function attachUploadedImage(
  db: Db,
  storage: MediaStorage,
  productId: string,
  upload: { publicId: string; version: string; signature: string; alt?: string },
  actorId: string | null = null,
): Promise<ImageView | null> {
  if (!storage.verifyUpload || !storage.urlsFor) return null;
  const urls = storage.urlsFor(upload.publicId, upload.version);
  if (!storage.verifyUpload(upload.publicId, upload.version, upload.signature)) return null;
  await assertProduct(db, productId);
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('productImages')
      .values({
        productId,
        storage: storage.kind,
        storageKey: upload.publicId,
        version: upload.version,
        urls: JSON.stringify(urls),
        alt: upload.alt ?? '',
        position: sql<number>`(SELECT COALESCE(max(position) + 1, 0) FROM product_images WHERE product_id = ${productId})`,
      })
      .returning(['id', 'urls', 'alt', 'position'])
      .executeTakeFirstOrThrow();
    await writeAudit(trx, { actorId, action: 'image.added', targetType: 'product', targetId: productId, after: { imageId: row.id, alt: row.alt } });
    return view(row);
  });
}

/** Changes alt text and/or moves the image to `position` (0-based); the others close up around it. */
export async function updateProductImage(
  db: Db,
  productId: string,
  imageId: string,
  patch: { alt?: string; position?: number },
  actorId: string | null = null,
): Promise<ImageView> {
  return db.transaction().execute(async (trx) => {
    const images = await trx
      .selectFrom('productImages')
      .select(['id', 'position', 'alt'])
      .where('productId', '=', productId)
      .orderBy('position')
      .orderBy('id')
      .forUpdate()
      .execute();
    const index = images.findIndex((i) => i.id === imageId);
    if (index < 0) throw new NotFoundError('Image');
    if (patch.alt !== undefined) await trx.updateTable('productImages').set({ alt: patch.alt }).where('id', '=', imageId).execute();
    if (patch.position !== undefined) {
      const order = images.map((i) => i.id);
      order.splice(index, 1);
      order.splice(Math.min(patch.position, order.length), 0, imageId);
      await sql`UPDATE product_images m SET position = o.ord - 1
        FROM unnest(${order}::uuid[]) WITH ORDINALITY AS o(id, ord) WHERE m.id = o.id AND m.position <> o.ord - 1`.execute(trx);
    }
    const row = await trx.selectFrom('productImages').select(['id', 'urls', 'alt', 'position']).where('id', '=', imageId).executeTakeFirstOrThrow();
    const { alt, position } = images[index];
    await writeAudit(trx, {
      actorId,
      action: 'image.updated',
      targetType: 'product',
      targetId: productId,
      before: { imageId, alt, position },
      after: { imageId, alt: row.alt, position: row.position },
    });
    return view(row);
  });
}

/** Deletes the row, then the asset on the media host (after commit: a failed host call leaves an orphan file, never a broken image). */
export async function deleteProductImage(db: Db, storage: MediaStorage, productId: string, imageId: string, actorId: string | null = null): Promise<void> {
  const row = await db.transaction().execute(async (trx) => {
    const deleted = await trx
      .deleteFrom('productImages')
      .where('id', '=', imageId)
      .where('productId', '=', productId)
      .returning(['storageKey', 'storage', 'alt', 'position'])
      .executeTakeFirst();
    if (!deleted) throw new NotFoundError('Image');
    const { alt, position } = deleted;
    await writeAudit(trx, { actorId, action: 'image.deleted', targetType: 'product', targetId: productId, before: { imageId, alt, position } });
    return deleted;
  });
  if (row.storageKey.startsWith(EXTERNAL_PREFIX) || row.storage !== storage.kind) return;
  await storage.remove(row.storageKey);
}
