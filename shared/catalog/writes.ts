import type { Db } from '../db/index.js';
import type { MediaStorage } from '../media/storage.js';
import { createCategory, deleteCategory, updateCategory } from './categories.js';
import { addProductImage, attachUploadedImage, deleteProductImage, updateProductImage } from './images.js';
import { archiveProduct, createProduct, createVariant, updateProduct, updateVariant } from './products.js';

/** Makes every cached catalog page stale, on every replica (shared/catalog/cache.ts: `catalogChanged`). */
export type CatalogChanged = () => Promise<void>;

/**
 * The catalog's writes, each followed by `changed` once it has returned: the one place the catalog cache is
 * bumped after the catalog's own writes, so the writer never reads its own change back stale. Also after a
 * write that failed: it may have committed before failing (an image row deleted, the media host then
 * unreachable), and a needless bump costs one cache miss.
 */
export function catalogWrites(deps: { db: Db; media: MediaStorage; changed: CatalogChanged }) {
  const { db, media, changed } = deps;
  const thenChanged =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await write(...args);
      } finally {
        await changed();
      }
    };
  return {
    createProduct: thenChanged((...a: Tail<typeof createProduct>) => createProduct(db, ...a)),
    updateProduct: thenChanged((...a: Tail<typeof updateProduct>) => updateProduct(db, ...a)),
    archiveProduct: thenChanged((...a: Tail<typeof archiveProduct>) => archiveProduct(db, ...a)),
    createVariant: thenChanged((...a: Tail<typeof createVariant>) => createVariant(db, ...a)),
    updateVariant: thenChanged((...a: Tail<typeof updateVariant>) => updateVariant(db, ...a)),
    createCategory: thenChanged((...a: Tail<typeof createCategory>) => createCategory(db, ...a)),
    updateCategory: thenChanged((...a: Tail<typeof updateCategory>) => updateCategory(db, ...a)),
    deleteCategory: thenChanged((...a: Tail<typeof deleteCategory>) => deleteCategory(db, ...a)),
    addProductImage: thenChanged((...a: Tail<typeof addProductImage, 2>) => addProductImage(db, media, ...a)),
    attachUploadedImage: thenChanged((...a: Tail<typeof attachUploadedImage, 2>) => attachUploadedImage(db, media, ...a)),
    updateProductImage: thenChanged((...a: Tail<typeof updateProductImage>) => updateProductImage(db, ...a)),
    deleteProductImage: thenChanged((...a: Tail<typeof deleteProductImage, 2>) => deleteProductImage(db, media, ...a)),
  };
}

export type CatalogWrites = ReturnType<typeof catalogWrites>;

/** A write's parameters after the `db` (and `media`) its binding supplies. */
type Tail<F extends (...args: never[]) => unknown, N extends 1 | 2 = 1> =
  Parameters<F> extends [unknown, ...infer R] ? (N extends 1 ? R : R extends [unknown, ...infer S] ? S : never) : never;
