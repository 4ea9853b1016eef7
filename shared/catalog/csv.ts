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
import type { RowError } from './schemas.js';

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

export interface ImportProgress {
  processedRows: number;
  productsCreated: number;
  productsUpdated: number;
  errors: RowError[];
}

export type { RowError } from './schemas.js';

export const MAX_REPORTED_ERRORS = 1_000;
/**
 * Memory bounds of an import: one record (a row, quoted newlines included) holds at most this many
 * characters, and one product (its consecutive rows of one Handle) at most this many rows. Shopify itself
 * allows 2,048 variants and 250 images; a product past the bound is reported and skipped, never buffered.
 */
export const MAX_RECORD_CHARS = 1_000_000;
export const MAX_ROWS_PER_PRODUCT = 2_500;
const handlePattern = new RegExp(SLUG_PATTERN);

class RowFailure extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** Every bad row of one product: the product is rolled back whole and each row is reported. */
class ProductFailure extends Error {
  constructor(readonly failures: RowFailure[]) {
    super(failures.map((f) => f.message).join('; '));
  }
}

/**
 * Spreadsheet formula injection (CWE-1236): a cell starting with `= + - @` (or a tab or carriage return,
 * which some spreadsheets skip before reading one) would run as a formula when the export is opened.
 * Such a cell is written with a leading `'`, which spreadsheets show as text; the import takes it off again,
 * so an export re-imports to the same catalog.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
export const escapeCsvCell = (value: string): string => (FORMULA_START.test(value) ? `'${value}` : value);
const unescapeCsvCell = (value: string): string =>
  value.startsWith("'") && FORMULA_START.test(value.slice(1)) ? value.slice(1) : value;

/** "12,500.50" is not accepted: plain decimals with at most two places, turned into integer kobo without floats. */
function kobo(value: string, line: number, column: string): number {
  const v = value.trim();
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(v);
  if (!m) throw new RowFailure(line, `${column} must be a decimal amount like 12500.00 (got "${value}")`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

function wholeNumber(value: string, line: number, column: string, allowNegative = false): number {
  const v = value.trim();
  if (!(allowNegative ? /^-?\d{1,9}$/ : /^\d{1,9}$/).test(v))
    throw new RowFailure(line, `${column} must be a whole number (got "${value}")`);
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

/**
 * Validates a handle's rows into one product, collecting every bad row (one failure per row, its first
 * problem). `product` is null when the product's own fields (its first row) are unusable.
 */
function parseGroup(
  handle: string,
  rows: { line: number; row: CsvRow }[],
): { product: ParsedProduct | null; failures: RowFailure[] } {
  const failures: RowFailure[] = [];
  const [first] = rows;
  const head = first.row;
  let status: ProductStatus = 'active';
  const headProblem = (): string | null => {
    if (!handlePattern.test(handle)) return `Handle "${handle}" must be lowercase letters, digits and dashes`;
    if (!present(head.Title)) return 'Title is required on the first row of a product';
    if (present(head.Status)) {
      const s = head.Status.trim().toLowerCase();
      if (!(productStatuses as readonly string[]).includes(s))
        return `Status must be one of ${productStatuses.join(', ')}`;
      status = s as ProductStatus;
    } else if (present(head.Published)) {
      status = head.Published.trim().toLowerCase() === 'true' ? 'active' : 'draft';
    }
    return null;
  };
  const bad = headProblem();
  if (bad) failures.push(new RowFailure(first.line, bad));
  const optionNames = [head['Option1 Name'], head['Option2 Name'], head['Option3 Name']].map(
    (n) => n?.trim() ?? '',
  );
  const product: ParsedProduct = {
    handle,
    line: first.line,
    title: head.Title?.trim() ?? '',
    description: head['Body (HTML)'] ?? '',
    vendor: present(head.Vendor) ? head.Vendor.trim() : null,
    productType: present(head.Type) ? head.Type.trim() : null,
    category: present(head['Product Category'])
      ? head['Product Category']
          .split('>')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
    tags: present(head.Tags)
      ? [
          ...new Set(
            head.Tags.split(',')
              .map((t) => t.trim())
              .filter(Boolean),
          ),
        ]
      : [],
    status,
    seoTitle: present(head['SEO Title']) ? head['SEO Title'].trim() : null,
    seoDescription: present(head['SEO Description']) ? head['SEO Description'].trim() : null,
    variants: [],
    images: [],
  };
  const skus = new Set<string>();
  for (const { line, row } of rows) {
    if (line === first.line && bad) continue;
    try {
      parseRow(product, optionNames, skus, line, row);
    } catch (err) {
      if (!(err instanceof RowFailure)) throw err;
      failures.push(err);
    }
  }
  return { product: bad ? null : product, failures };
}

/** One row's variant and image into the product; throws the row's first problem (the row adds nothing then). */
function parseRow(
  product: ParsedProduct,
  optionNames: string[],
  skus: Set<string>,
  line: number,
  row: CsvRow,
) {
  let variant: ParsedVariant | null = null;
  const isVariant =
    present(row['Variant SKU']) || present(row['Variant Price']) || present(row['Option1 Value']);
  if (isVariant) {
    if (!present(row['Variant SKU'])) throw new RowFailure(line, 'Variant SKU is required');
    const sku = row['Variant SKU'].trim();
    if (/\s/.test(sku) || sku.length > 64)
      throw new RowFailure(line, `Variant SKU "${sku}" must be at most 64 characters without spaces`);
    if (skus.has(sku)) throw new RowFailure(line, `Variant SKU ${sku} appears twice`);
    skus.add(sku);
    if (!present(row['Variant Price'])) throw new RowFailure(line, 'Variant Price is required');
    const options: Record<string, string> = {};
    [row['Option1 Value'], row['Option2 Value'], row['Option3 Value']].forEach((value, i) => {
      if (present(value)) options[optionNames[i] || `Option${i + 1}`] = value.trim();
    });
    const qty = present(row['Variant Inventory Qty'])
      ? wholeNumber(row['Variant Inventory Qty'], line, 'Variant Inventory Qty', true)
      : null;
    if (qty !== null && qty < 0) throw new RowFailure(line, 'Variant Inventory Qty cannot be negative');
    variant = {
      line,
      sku,
      price: kobo(row['Variant Price'], line, 'Variant Price'),
      compareAtPrice: present(row['Variant Compare At Price'])
        ? kobo(row['Variant Compare At Price'], line, 'Variant Compare At Price')
        : null,
      weightGrams: present(row['Variant Grams'])
        ? wholeNumber(row['Variant Grams'], line, 'Variant Grams')
        : null,
      options,
      qty,
    };
  }
  let image: ParsedProduct['images'][number] | null = null;
  if (present(row['Image Src'])) {
    const src = row['Image Src'].trim();
    if (!/^https?:\/\/\S+$/.test(src)) throw new RowFailure(line, 'Image Src must be an http(s) URL');
    image = {
      line,
      src,
      position: present(row['Image Position'])
        ? wholeNumber(row['Image Position'], line, 'Image Position')
        : product.images.length + 1,
      alt: row['Image Alt Text']?.trim() ?? '',
    };
  }
  if (variant) product.variants.push(variant);
  if (image) product.images.push(image);
}

/**
 * Writes one product (upsert by handle, variants by SKU, images by source URL) in the caller's transaction.
 * A variant the database refuses is added to `failures` and the rest carries on, so one pass finds every
 * such row; the caller rolls the transaction back when any row failed.
 */
async function saveProduct(
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

function csvParser() {
  return parse({
    columns: true,
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
    trim: false,
    max_record_size: MAX_RECORD_CHARS,
  });
}

/** Counts records (not lines: a quoted description may span several) for progress totals; stops at bad CSV (the import reports it). */
export async function countCsvRecords(path: string): Promise<number> {
  let n = 0;
  const parser = createReadStream(path).pipe(
    parse({
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      from_line: 2,
      max_record_size: MAX_RECORD_CHARS,
    }),
  );
  try {
    for await (const _ of parser) n++;
  } catch (err) {
    if (!(err as { code?: string }).code?.startsWith('CSV_')) throw err;
  }
  return n;
}

/** What the import tells the user about a file csv-parse refused. */
function csvProblem(err: Error & { code?: string; lines?: number }): string {
  if (err.code === 'CSV_MAX_RECORD_SIZE') {
    return `A record is longer than ${MAX_RECORD_CHARS.toLocaleString('en')} characters (an unclosed quote?); the import stopped there`;
  }
  return `The file is not valid CSV: ${err.message}`;
}

/**
 * Streams a Shopify product CSV into the catalog. Consecutive rows with the same Handle make one product,
 * written in its own transaction: a product is imported whole or not at all, and a bad row fails its
 * product. Every bad row of the product is reported (line number and reason), not only the first.
 * Memory holds one product's rows at a time (at most MAX_ROWS_PER_PRODUCT, each record at most
 * MAX_RECORD_CHARS), and the parser is paused while a product is written (async iteration = backpressure).
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
  /** The current handle went past MAX_ROWS_PER_PRODUCT: its rows are counted and dropped. */
  let overflowed = false;

  const flush = async () => {
    const rows = group;
    const current = handle;
    group = [];
    if (!rows.length || current === null) return;
    try {
      const { product, failures } = parseGroup(current, rows);
      if (product) {
        const outcome = await db
          .transaction()
          .execute(async (trx) => {
            const saved = await saveProduct(trx, product, failures);
            // Roll back: the product is all or nothing, and the database's refusals are now known too.
            if (failures.length) throw new ProductFailure(failures);
            return saved;
          })
          .catch((err: unknown) => {
            if (err instanceof ProductFailure) return null;
            throw err;
          });
        if (outcome === 'created') progress.productsCreated++;
        else if (outcome === 'updated') progress.productsUpdated++;
      }
      failures.sort((a, b) => a.line - b.line);
      for (const f of failures) report({ line: f.line, handle: current, reason: f.message });
    } catch (err) {
      report({
        line: rows[0].line,
        handle: current,
        reason: `could not be saved: ${(err as Error).message}`,
      });
    }
    progress.processedRows += rows.length;
    await opts.onProgress?.(progress);
  };

  const parser = input.pipe(csvParser());
  input.on('error', (err) => parser.destroy(err));
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: CsvRow;
      info: { lines: number };
    }>) {
      for (const [column, value] of Object.entries(record))
        if (typeof value === 'string') record[column as keyof CsvRow] = unescapeCsvCell(value);
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
        overflowed = false;
      }
      if (overflowed) {
        progress.processedRows++;
        continue;
      }
      if (group.length >= MAX_ROWS_PER_PRODUCT) {
        report({
          line: info.lines,
          handle: h,
          reason: `Product ${h} has more than ${MAX_ROWS_PER_PRODUCT} rows; it was not imported`,
        });
        progress.processedRows += group.length + 1;
        group = [];
        overflowed = true;
        continue;
      }
      group.push({ line: info.lines, row: record });
    }
  } catch (err) {
    const e = err as Error & { code?: string; lines?: number };
    report({ line: e.lines ?? 0, reason: csvProblem(e) });
    return progress;
  }
  await flush();
  return progress;
}

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
