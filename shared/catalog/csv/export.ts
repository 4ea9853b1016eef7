import { stringify } from 'csv-stringify';
import { sql } from 'kysely';
import { PassThrough, type Readable } from 'node:stream';
import type { Db } from '../../db/index.js';
import { escapeCsvCell } from '../../csv-cells.js';
import { categoryPaths } from '../categories.js';
import { CSV_COLUMNS, type CsvRow } from './columns.js';

/** Integer kobo as the decimal amount the import reads back (parse-product.ts: `kobo`). */
const money = (k: number | null | undefined) =>
  k === null || k === undefined ? '' : `${Math.floor(k / 100)}.${String(k % 100).padStart(2, '0')}`;

/**
 * Streams the catalog back in the same format, products in creation order, 200 at a time (keyset), so
 * memory stays flat whatever the catalog's size.
 */
export function exportProductsCsv(db: Db, opts: { publicUrl: string; batchSize?: number }): Readable {
  const out = stringify({ header: true, columns: [...CSV_COLUMNS] });
  const body = new PassThrough();
  out.pipe(body);
  const batchSize = opts.batchSize ?? 200;
  const absolute = (url: string) =>
    url.startsWith('/') ? `${opts.publicUrl.replace(/\/$/, '')}${url}` : url;

  const write = async (row: CsvRow) => {
    for (const [column, value] of Object.entries(row))
      if (typeof value === 'string') row[column as keyof CsvRow] = escapeCsvCell(value);
    if (!out.write(row)) await new Promise((resolve) => out.once('drain', resolve));
  };

  const run = async () => {
    const paths = await categoryPaths(db);
    let after: { createdAt: Date; id: string } | null = null;
    for (;;) {
      let q = db.selectFrom('products').selectAll().orderBy('createdAt').orderBy('id').limit(batchSize);
      if (after) {
        const a = after;
        q = q.where((eb) =>
          eb.or([
            eb('createdAt', '>', a.createdAt),
            eb.and([eb('createdAt', '=', a.createdAt), eb('id', '>', a.id)]),
          ]),
        );
      }
      // created_at has microseconds; compare on the text form to keep the keyset exact.
      const products = await q.select(sql<string>`created_at::text`.as('createdAtText')).execute();
      if (!products.length) break;
      const ids = products.map((p) => p.id);
      const variants = await db
        .selectFrom('productVariants as v')
        .leftJoin('inventory as i', 'i.variantId', 'v.id')
        .select(['v.productId', 'v.sku', 'v.price', 'v.compareAtPrice', 'v.weightGrams', 'i.onHand'])
        .select(sql<string>`v.options::text`.as('optionsText'))
        .where('v.productId', 'in', ids)
        .orderBy('v.productId')
        .orderBy('v.position')
        .orderBy('v.sku')
        .execute();
      const images = await db
        .selectFrom('productImages')
        .select(['productId', 'urls', 'alt', 'position', 'sourceUrl'])
        .where('productId', 'in', ids)
        .orderBy('productId')
        .orderBy('position')
        .orderBy('id')
        .execute();
      for (const p of products) {
        const vs = variants.filter((v) => v.productId === p.id);
        const ims = images.filter((m) => m.productId === p.id);
        const optionNames = [
          ...new Set(vs.flatMap((v) => Object.keys(JSON.parse(v.optionsText) as object))),
        ].slice(0, 3);
        const rows = Math.max(vs.length, ims.length, 1);
        for (let i = 0; i < rows; i++) {
          const v = vs[i];
          const m = ims[i];
          const row: CsvRow = { Handle: p.slug };
          if (i === 0) {
            Object.assign(row, {
              Title: p.title,
              'Body (HTML)': p.description,
              Vendor: p.vendor ?? '',
              'Product Category': p.categoryId ? (paths.get(p.categoryId) ?? '') : '',
              Type: p.productType ?? '',
              Tags: p.tags.join(', '),
              Published: p.status === 'active' ? 'TRUE' : 'FALSE',
              'SEO Title': p.seoTitle ?? '',
              'SEO Description': p.seoDescription ?? '',
              Status: p.status,
              'Option1 Name': optionNames[0] ?? '',
              'Option2 Name': optionNames[1] ?? '',
              'Option3 Name': optionNames[2] ?? '',
            });
          }
          if (v) {
            const options = JSON.parse(v.optionsText) as Record<string, string>;
            Object.assign(row, {
              'Option1 Value': optionNames[0] ? (options[optionNames[0]] ?? '') : '',
              'Option2 Value': optionNames[1] ? (options[optionNames[1]] ?? '') : '',
              'Option3 Value': optionNames[2] ? (options[optionNames[2]] ?? '') : '',
              'Variant SKU': v.sku,
              'Variant Grams': v.weightGrams ?? '',
              'Variant Inventory Qty': String(v.onHand ?? 0),
              'Variant Price': money(v.price),
              'Variant Compare At Price': money(v.compareAtPrice),
            });
          }
          if (m) {
            const urls = m.urls as { zoom: string };
            Object.assign(row, {
              'Image Src': m.sourceUrl ?? absolute(urls.zoom),
              'Image Position': String(m.position + 1),
              'Image Alt Text': m.alt,
            });
          }
          await write(row);
        }
      }
      const last = products.at(-1)!;
      after = { createdAt: last.createdAtText as unknown as Date, id: last.id };
    }
  };
  run().then(
    () => out.end(),
    (err: unknown) => body.destroy(err as Error),
  );
  return body;
}
