import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { sql } from 'kysely';
import type { Db, Trx } from '../db/index.js';
import { EXTERNAL_PREFIX } from '../media/storage.js';
import { categoryPaths, ensureCategoryPath } from './categories.js';
import { productStatuses, type ProductStatus } from './products.js';
import { SLUG_PATTERN } from './slug.js';

/** Shopify's product CSV columns we read and write (plus Product Category as "Parent > Child" names). */
export const CSV_COLUMNS = [
  'Handle',
  'Title',
  'Body (HTML)',
  'Vendor',
  'Product Category',
  'Type',
  'Tags',
  'Published',
  'Option1 Name',
  'Option1 Value',
  'Option2 Name',
  'Option2 Value',
  'Option3 Name',
  'Option3 Value',
  'Variant SKU',
  'Variant Grams',
  'Variant Inventory Qty',
  'Variant Price',
  'Variant Compare At Price',
  'Image Src',
  'Image Position',
  'Image Alt Text',
  'SEO Title',
  'SEO Description',
  'Status',
] as const;

type CsvRow = Partial<Record<(typeof CSV_COLUMNS)[number], string>>;

export interface RowError {
  line: number;
  handle?: string;
  reason: string;
}

export interface ImportProgress {
  processedRows: number;
  productsCreated: number;
  productsUpdated: number;
  errors: RowError[];
}

export const MAX_REPORTED_ERRORS = 1_000;
const handlePattern = new RegExp(SLUG_PATTERN);

class RowFailure extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** "12,500.50" is not accepted: plain decimals with at most two places, turned into integer kobo without floats. */
function kobo(value: string, line: number, column: string): number {
  const v = value.trim();
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(v);
  if (!m) throw new RowFailure(line, `${column} must be a decimal amount like 12500.00 (got "${value}")`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

function wholeNumber(value: string, line: number, column: string, allowNegative = false): number {
  const v = value.trim();
  if (!(allowNegative ? /^-?\d{1,9}$/ : /^\d{1,9}$/).test(v)) throw new RowFailure(line, `${column} must be a whole number (got "${value}")`);
  return Number(v);
}

const present = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

interface ParsedVariant {
  line: number;
  sku: string;
  price: number;
  compareAtPrice: number | null;
  weightGrams: number | null;
  options: Record<string, string>;
  qty: number | null;
}

interface ParsedProduct {
  handle: string;
  line: number;
  title: string;
  description: string;
  vendor: string | null;
  productType: string | null;
  category: string[];
  tags: string[];
  status: ProductStatus;
  seoTitle: string | null;
  seoDescription: string | null;
  variants: ParsedVariant[];
  images: { line: number; src: string; position: number; alt: string }[];
}

/** Validates a handle's rows into one product; the first problem fails the whole product. */
function parseGroup(handle: string, rows: { line: number; row: CsvRow }[]): ParsedProduct {
  const [first] = rows;
  const head = first.row;
  if (!handlePattern.test(handle)) throw new RowFailure(first.line, `Handle "${handle}" must be lowercase letters, digits and dashes`);
  if (!present(head.Title)) throw new RowFailure(first.line, 'Title is required on the first row of a product');
  let status: ProductStatus = 'active';
  if (present(head.Status)) {
    const s = head.Status.trim().toLowerCase();
    if (!(productStatuses as readonly string[]).includes(s)) throw new RowFailure(first.line, `Status must be one of ${productStatuses.join(', ')}`);
    status = s as ProductStatus;
  } else if (present(head.Published)) {
    status = head.Published.trim().toLowerCase() === 'true' ? 'active' : 'draft';
  }
  const optionNames = [head['Option1 Name'], head['Option2 Name'], head['Option3 Name']].map((n) => n?.trim() ?? '');
  const product: ParsedProduct = {
    handle,
    line: first.line,
    title: head.Title.trim(),
    description: head['Body (HTML)'] ?? '',
    vendor: present(head.Vendor) ? head.Vendor.trim() : null,
    productType: present(head.Type) ? head.Type.trim() : null,
    category: present(head['Product Category']) ? head['Product Category'].split('>').map((s) => s.trim()).filter(Boolean) : [],
    tags: present(head.Tags) ? [...new Set(head.Tags.split(',').map((t) => t.trim()).filter(Boolean))] : [],
    status,
    seoTitle: present(head['SEO Title']) ? head['SEO Title'].trim() : null,
    seoDescription: present(head['SEO Description']) ? head['SEO Description'].trim() : null,
    variants: [],
    images: [],
  };
  const skus = new Set<string>();
  for (const { line, row } of rows) {
    const isVariant = present(row['Variant SKU']) || present(row['Variant Price']) || present(row['Option1 Value']);
    if (isVariant) {
      if (!present(row['Variant SKU'])) throw new RowFailure(line, 'Variant SKU is required');
      const sku = row['Variant SKU'].trim();
      if (/\s/.test(sku) || sku.length > 64) throw new RowFailure(line, `Variant SKU "${sku}" must be at most 64 characters without spaces`);
      if (skus.has(sku)) throw new RowFailure(line, `Variant SKU ${sku} appears twice`);
      skus.add(sku);
      if (!present(row['Variant Price'])) throw new RowFailure(line, 'Variant Price is required');
      const options: Record<string, string> = {};
      [row['Option1 Value'], row['Option2 Value'], row['Option3 Value']].forEach((value, i) => {
        if (present(value)) options[optionNames[i] || `Option${i + 1}`] = value.trim();
      });
      const qty = present(row['Variant Inventory Qty']) ? wholeNumber(row['Variant Inventory Qty'], line, 'Variant Inventory Qty', true) : null;
      if (qty !== null && qty < 0) throw new RowFailure(line, 'Variant Inventory Qty cannot be negative');
      product.variants.push({
        line,
        sku,
        price: kobo(row['Variant Price'], line, 'Variant Price'),
        compareAtPrice: present(row['Variant Compare At Price']) ? kobo(row['Variant Compare At Price'], line, 'Variant Compare At Price') : null,
        weightGrams: present(row['Variant Grams']) ? wholeNumber(row['Variant Grams'], line, 'Variant Grams') : null,
        options,
        qty,
      });
    }
    if (present(row['Image Src'])) {
      const src = row['Image Src'].trim();
      if (!/^https?:\/\/\S+$/.test(src)) throw new RowFailure(line, 'Image Src must be an http(s) URL');
      product.images.push({
        line,
        src,
        position: present(row['Image Position']) ? wholeNumber(row['Image Position'], line, 'Image Position') : product.images.length + 1,
        alt: row['Image Alt Text']?.trim() ?? '',
      });
    }
  }
  return product;
}

/** Writes one product (upsert by handle, variants by SKU, images by source URL) in the caller's transaction. */
async function saveProduct(trx: Trx, p: ParsedProduct): Promise<'created' | 'updated'> {
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
      .onConflict((oc) => oc.column('sku').doUpdateSet(updates).where('productVariants.productId', '=', product.id))
      .returning('id')
      .executeTakeFirst();
    if (!saved) throw new RowFailure(v.line, `Variant SKU ${v.sku} already belongs to another product`);
    const stock = await trx.selectFrom('inventory').select(['onHand', 'reserved']).where('variantId', '=', saved.id).executeTakeFirst();
    const target = v.qty ?? stock?.onHand ?? 0;
    if (!stock) {
      await trx.insertInto('inventory').values({ variantId: saved.id, onHand: target }).execute();
    } else if (target !== stock.onHand) {
      if (target < stock.reserved) throw new RowFailure(v.line, `Variant Inventory Qty ${target} is below the ${stock.reserved} units reserved by open orders`);
      await trx
        .updateTable('inventory')
        .set({ onHand: target, version: sql`version + 1` })
        .where('variantId', '=', saved.id)
        .execute();
    }
    const delta = target - (stock?.onHand ?? 0);
    if (delta !== 0) {
      await trx.insertInto('inventoryMovements').values({ variantId: saved.id, deltaOnHand: delta, reason: 'import' }).execute();
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

function csvParser() {
  return parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim: false });
}

/** Counts records (not lines: a quoted description may span several) for progress totals. */
export async function countCsvRecords(path: string): Promise<number> {
  let n = 0;
  const parser = createReadStream(path).pipe(parse({ bom: true, skip_empty_lines: true, relax_column_count: true, from_line: 2 }));
  for await (const _ of parser) n++;
  return n;
}

/**
 * Streams a Shopify product CSV into the catalog. Consecutive rows with the same Handle make one product,
 * written in its own transaction: a product is imported whole or not at all, and a bad row fails only
 * its product (reported with its line number and reason). Memory holds one product's rows at a time, and
 * the parser is paused while a product is written (async iteration = backpressure).
 */
export async function importProductsCsv(
  db: Db,
  input: Readable,
  opts: { onProgress?: (p: ImportProgress) => void | Promise<void> } = {},
): Promise<ImportProgress> {
  const progress: ImportProgress = { processedRows: 0, productsCreated: 0, productsUpdated: 0, errors: [] };
  const report = (e: RowError) => {
    if (progress.errors.length < MAX_REPORTED_ERRORS) progress.errors.push(e);
  };
  let group: { line: number; row: CsvRow }[] = [];
  let handle: string | null = null;

  const flush = async () => {
    if (!group.length || handle === null) return;
    const rows = group;
    const current = handle;
    group = [];
    try {
      const parsed = parseGroup(current, rows);
      const outcome = await db.transaction().execute((trx) => saveProduct(trx, parsed));
      if (outcome === 'created') progress.productsCreated++;
      else progress.productsUpdated++;
    } catch (err) {
      if (err instanceof RowFailure) report({ line: err.line, handle: current, reason: err.message });
      else report({ line: rows[0].line, handle: current, reason: `could not be saved: ${(err as Error).message}` });
    }
    progress.processedRows += rows.length;
    await opts.onProgress?.(progress);
  };

  const parser = input.pipe(csvParser());
  input.on('error', (err) => parser.destroy(err));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: CsvRow; info: { lines: number } }>) {
      const h = record.Handle?.trim() ?? '';
      if (!h) {
        await flush();
        report({ line: info.lines, reason: 'Handle is required' });
        progress.processedRows++;
        handle = null;
        continue;
      }
      if (h !== handle) {
        await flush();
        handle = h;
      }
      group.push({ line: info.lines, row: record });
    }
  } catch (err) {
    const e = err as Error & { lines?: number };
    report({ line: e.lines ?? 0, reason: `The file is not valid CSV: ${e.message}` });
    return progress;
  }
  await flush();
  return progress;
}

const money = (k: number | null | undefined) => (k === null || k === undefined ? '' : `${Math.floor(k / 100)}.${String(k % 100).padStart(2, '0')}`);

/**
 * Streams the catalog back in the same format, products in creation order, 200 at a time (keyset), so
 * memory stays flat whatever the catalog's size.
 */
export function exportProductsCsv(db: Db, opts: { publicUrl: string; batchSize?: number }): Readable {
  const out = stringify({ header: true, columns: [...CSV_COLUMNS] });
  const body = new PassThrough();
  out.pipe(body);
  const batchSize = opts.batchSize ?? 200;
  const absolute = (url: string) => (url.startsWith('/') ? `${opts.publicUrl.replace(/\/$/, '')}${url}` : url);

  const write = async (row: CsvRow) => {
    if (!out.write(row)) await new Promise((resolve) => out.once('drain', resolve));
  };

  const run = async () => {
    const paths = await categoryPaths(db);
    let after: { createdAt: Date; id: string } | null = null;
    for (;;) {
      let q = db
        .selectFrom('products')
        .selectAll()
        .orderBy('createdAt')
        .orderBy('id')
        .limit(batchSize);
      if (after) {
        const a = after;
        q = q.where((eb) => eb.or([eb('createdAt', '>', a.createdAt), eb.and([eb('createdAt', '=', a.createdAt), eb('id', '>', a.id)])]));
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
        const optionNames = [...new Set(vs.flatMap((v) => Object.keys(JSON.parse(v.optionsText) as object)))].slice(0, 3);
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
            Object.assign(row, { 'Image Src': m.sourceUrl ?? absolute(urls.zoom), 'Image Position': String(m.position + 1), 'Image Alt Text': m.alt });
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
