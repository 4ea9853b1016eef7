import { productStatuses, type ProductStatus } from '../products.js';
import { SLUG_PATTERN } from '../slug.js';
import type { CsvRow } from './columns.js';

/**
 * A Shopify CSV product (the consecutive rows of one Handle) validated into what the catalog stores, every
 * bad row named by its line.
 */

const handlePattern = new RegExp(SLUG_PATTERN);

export class RowFailure extends Error {
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

export interface ParsedProduct {
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
export function parseGroup(
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

