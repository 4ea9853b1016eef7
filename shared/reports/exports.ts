import { sql, type RawBuilder } from 'kysely';
import { escapeCsvCell } from '../csv-cells.js';
import type { DbOrTrx } from '../db/index.js';
import { addDays, type DateRange } from './range.js';

export const EXPORT_KINDS = ['orders', 'customers', 'inventory'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];
export type Cell = string | number | null;

export interface ExportFilter {
  range: DateRange;
  timeZone: string;
  /** orders: the order status; customers: ignored; inventory: the product status. */
  status?: string;
}

/** Rows fetched per round trip: bounded memory whatever the export's size. */
const BATCH = 1_000;

interface Keyed {
  /** The keyset position of the row (its sort key as text), never exported. */
  k1: string;
  k2: string;
}

/**
 * Pages through a query on its keyset inside the caller's snapshot: every row exactly once, at most one
 * batch in memory.
 */
async function* keyset<R extends Keyed>(
  db: DbOrTrx,
  page: (after: Keyed | null) => RawBuilder<R>,
): AsyncGenerator<R> {
  let after: Keyed | null = null;
  for (;;) {
    const { rows }: { rows: R[] } = await page(after).execute(db);
    for (const row of rows) yield row;
    if (rows.length < BATCH) return;
    const last: R = rows[rows.length - 1];
    after = { k1: last.k1, k2: last.k2 };
  }
}

/** Rows after the last one sent: `(created_at, id) > (…)` on the sort key, nothing on the first page. */
const pastTime = (alias: RawBuilder<unknown>, after: Keyed | null) =>
  after ? sql`AND (${alias}.created_at, ${alias}.id) > (${after.k1}::timestamptz, ${after.k2}::uuid)` : sql``;

const instant = (date: string, tz: string) => sql`(${date}::date::timestamp AT TIME ZONE ${tz})`;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Columns of each export; money in integer kobo, named `*_kobo`. */
export const EXPORT_COLUMNS: Record<ExportKind, readonly string[]> = {
  orders: [
    'number',
    'id',
    'created_at',
    'paid_at',
    'status',
    'email',
    'customer_name',
    'currency',
    'items',
    'subtotal_kobo',
    'discount_kobo',
    'shipping_kobo',
    'tax_kobo',
    'total_kobo',
    'paid_kobo',
    'refunded_kobo',
    'coupon_code',
    'shipping_method',
  ],
  customers: ['id', 'email', 'name', 'created_at', 'orders', 'total_spent_kobo', 'last_order_at'],
  inventory: [
    'sku',
    'product',
    'variant',
    'category',
    'product_status',
    'on_hand',
    'reserved',
    'available',
    'low_stock_threshold',
    'currency',
    'price_kobo',
    'retail_value_kobo',
  ],
};

async function* orderRows(db: DbOrTrx, f: ExportFilter): AsyncGenerator<Cell[]> {
  const status = f.status ? sql`AND o.status = ${f.status}` : sql``;
  type Row = Keyed & {
    number: string;
    id: string;
    createdAt: Date;
    paidAt: Date | null;
    status: string;
    email: string;
    customerName: string | null;
    currency: string;
    items: number;
    subtotal: number;
    discount: number;
    shipping: number;
    tax: number;
    total: number;
    amountPaid: number;
    amountRefunded: number;
    couponCode: string | null;
    shippingMethodName: string | null;
  };
  const rows = keyset<Row>(
    db,
    (after) => sql<Row>`
      SELECT o.created_at::text AS k1, o.id::text AS k2, o.number, o.id, o.created_at AS "createdAt", o.paid_at AS "paidAt",
             o.status, o.email, o.customer_name AS "customerName", o.currency,
             (SELECT coalesce(sum(quantity), 0)::bigint FROM order_items WHERE order_id = o.id) AS items,
             o.subtotal, o.discount, o.shipping, o.tax, o.total, o.amount_paid AS "amountPaid",
             o.amount_refunded AS "amountRefunded", o.coupon_code AS "couponCode",
             o.shipping_method_name AS "shippingMethodName"
      FROM orders o
      WHERE o.created_at >= ${instant(f.range.from, f.timeZone)}
        AND o.created_at < ${instant(addDays(f.range.to, 1), f.timeZone)} ${status}
        ${pastTime(sql.raw('o'), after)}
      ORDER BY o.created_at, o.id
      LIMIT ${BATCH}`,
  );
  for await (const r of rows) {
    yield [
      r.number,
      r.id,
      iso(r.createdAt),
      iso(r.paidAt),
      r.status,
      r.email,
      r.customerName,
      r.currency,
      r.items,
      r.subtotal,
      r.discount,
      r.shipping,
      r.tax,
      r.total,
      r.amountPaid,
      r.amountRefunded,
      r.couponCode,
      r.shippingMethodName,
    ];
  }
}

async function* customerRows(db: DbOrTrx, f: ExportFilter): AsyncGenerator<Cell[]> {
  type Row = Keyed & {
    id: string;
    email: string;
    name: string | null;
    createdAt: Date;
    orders: number;
    spent: number;
    lastOrderAt: Date | null;
  };
  const rows = keyset<Row>(
    db,
    (after) => sql<Row>`
      SELECT u.created_at::text AS k1, u.id::text AS k2, u.id, u.email, u.name, u.created_at AS "createdAt",
             s.orders, s.spent, s.last_order_at AS "lastOrderAt"
      FROM users u
      CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.paid_at IS NOT NULL)::bigint AS orders,
               coalesce(sum(o.amount_paid - o.amount_refunded), 0)::bigint AS spent,
               max(o.created_at) AS last_order_at
        FROM orders o WHERE o.user_id = u.id
      ) s
      WHERE u.role = 'customer'
        AND u.created_at >= ${instant(f.range.from, f.timeZone)}
        AND u.created_at < ${instant(addDays(f.range.to, 1), f.timeZone)}
        ${pastTime(sql.raw('u'), after)}
      ORDER BY u.created_at, u.id
      LIMIT ${BATCH}`,
  );
  for await (const r of rows) {
    yield [r.id, r.email, r.name, iso(r.createdAt), r.orders, r.spent, iso(r.lastOrderAt)];
  }
}

async function* inventoryRows(db: DbOrTrx, f: ExportFilter): AsyncGenerator<Cell[]> {
  const status = f.status ? sql`AND p.status = ${f.status}` : sql``;
  type Row = Keyed & {
    sku: string;
    product: string;
    variant: string;
    category: string | null;
    productStatus: string;
    onHand: number;
    reserved: number;
    threshold: number;
    currency: string;
    price: number;
  };
  const rows = keyset<Row>(
    db,
    (after) => sql<Row>`
      SELECT v.sku AS k1, v.id::text AS k2, v.sku, p.title AS product, v.title AS variant, c.name AS category,
             p.status AS "productStatus", coalesce(i.on_hand, 0) AS "onHand", coalesce(i.reserved, 0) AS reserved,
             coalesce(i.low_stock_threshold, 0) AS threshold, v.currency, v.price
      FROM product_variants v
      JOIN products p ON p.id = v.product_id
      LEFT JOIN inventory i ON i.variant_id = v.id
      LEFT JOIN categories c ON c.id = p.category_id
      WHERE true ${after ? sql`AND (v.sku, v.id) > (${after.k1}, ${after.k2}::uuid)` : sql``} ${status}
      ORDER BY v.sku, v.id
      LIMIT ${BATCH}`,
  );
  for await (const r of rows) {
    yield [
      r.sku,
      r.product,
      r.variant,
      r.category,
      r.productStatus,
      r.onHand,
      r.reserved,
      r.onHand - r.reserved,
      r.threshold,
      r.currency,
      r.price,
      r.onHand * r.price,
    ];
  }
}

/**
 * The rows of an export, read in the caller's snapshot. Text cells that a spreadsheet would run as a
 * formula (`= + - @`) are prefixed with `'` here, once, for every format.
 */
export async function* exportRows(db: DbOrTrx, kind: ExportKind, f: ExportFilter): AsyncGenerator<Cell[]> {
  const source =
    kind === 'orders' ? orderRows(db, f) : kind === 'customers' ? customerRows(db, f) : inventoryRows(db, f);
  for await (const row of source) yield row.map((c) => (typeof c === 'string' ? escapeCsvCell(c) : c));
}
