import { sql } from 'kysely';
import type { DbOrTrx } from '../db/index.js';
import { NotFoundError } from '../errors.js';
import { addDays, previousPeriod, type DateRange } from './range.js';

import type { Dashboard, Interval, InventoryReport, SalesBucket, SalesPeriod, SalesReport, StockFigures, TopProduct } from './schemas.js';

export type { Dashboard, Interval, InventoryReport, SalesBucket, SalesFigures, SalesPeriod, SalesReport, SalesTotals, StockFigures, TopProduct } from './schemas.js';

interface BucketRow {
  start: string;
  end: string;
  orders: number;
  subtotal: number;
  discount: number;
  shipping: number;
  tax: number;
  gross: number;
  refunded: number;
}

/** Where a local date starts, as an instant: midnight in the shop's zone. */
const startOf = (date: string, tz: string) => sql`(${date}::date::timestamp AT TIME ZONE ${tz})`;

/**
 * Sales per bucket from the ledger rollup (migrations/2026120711_reports_audit.ts): an order counts when
 * it became paid, a refund when it succeeded, in the shop's days. Every bucket of the range is present,
 * empty ones as zeros; weeks are ISO weeks (Monday first, as date_trunc does).
 */
async function salesBuckets(db: DbOrTrx, range: DateRange, interval: Interval, tz: string, currency: string) {
  const { rows } = await sql<BucketRow>`
    WITH buckets AS (
      SELECT gs::date AS start
      FROM generate_series(date_trunc(${interval}, ${range.from}::date::timestamp), ${range.to}::date::timestamp,
                           ('1 ' || ${interval})::interval) gs
    ), sums AS (
      SELECT date_trunc(${interval}, slot AT TIME ZONE ${tz})::date AS start,
             sum(orders)::bigint AS orders, sum(subtotal)::bigint AS subtotal, sum(discount)::bigint AS discount,
             sum(shipping)::bigint AS shipping, sum(tax)::bigint AS tax, sum(gross)::bigint AS gross,
             sum(refunded)::bigint AS refunded
      FROM sales_rollup
      WHERE currency = ${currency}
        AND slot >= ${startOf(range.from, tz)} AND slot < ${startOf(addDays(range.to, 1), tz)}
      GROUP BY 1
    )
    SELECT to_char(greatest(b.start, ${range.from}::date), 'YYYY-MM-DD') AS start,
           to_char(least((b.start + ('1 ' || ${interval})::interval)::date - 1, ${range.to}::date), 'YYYY-MM-DD') AS "end",
           coalesce(s.orders, 0) AS orders, coalesce(s.subtotal, 0) AS subtotal, coalesce(s.discount, 0) AS discount,
           coalesce(s.shipping, 0) AS shipping, coalesce(s.tax, 0) AS tax, coalesce(s.gross, 0) AS gross,
           coalesce(s.refunded, 0) AS refunded
    FROM buckets b LEFT JOIN sums s USING (start)
    ORDER BY b.start
  `.execute(db);
  return rows;
}

/** Totals are the sum of the buckets read in the same snapshot: Σ buckets = totals by construction. */
function period(range: DateRange, rows: BucketRow[]): SalesPeriod {
  const sum = (k: keyof Omit<BucketRow, 'start' | 'end'>) => rows.reduce((acc, r) => acc + r[k], 0);
  const orders = sum('orders');
  const gross = sum('gross');
  const refunded = sum('refunded');
  return {
    from: range.from,
    to: range.to,
    totals: {
      orders,
      gross,
      refunded,
      net: gross - refunded,
      // Half-up to the kobo, the project's one rounding rule.
      averageOrderValue: orders ? Math.floor((2 * gross + orders) / (2 * orders)) : 0,
      subtotal: sum('subtotal'),
      discount: sum('discount'),
      shipping: sum('shipping'),
      tax: sum('tax'),
      // Every payment goes through Paystack until store credit exists; then its part moves here.
      paystack: gross,
      storeCredit: 0,
    },
    buckets: rows.map((r) => ({
      start: r.start,
      end: r.end,
      orders: r.orders,
      gross: r.gross,
      refunded: r.refunded,
      net: r.gross - r.refunded,
    })),
  };
}

/** The sales report; pass a snapshot transaction so the range and its previous period agree. */
export async function salesReport(
  db: DbOrTrx,
  opts: {
    range: DateRange;
    interval: Interval;
    compare?: 'previous_period';
    timeZone: string;
    currency: string;
  },
): Promise<SalesReport> {
  const { range, interval, timeZone, currency } = opts;
  // One after the other: the snapshot is one connection.
  const current = period(range, await salesBuckets(db, range, interval, timeZone, currency));
  const report: SalesReport = { ...current, interval, currency };
  if (opts.compare === 'previous_period') {
    const prev = previousPeriod(range);
    report.previous = period(prev, await salesBuckets(db, prev, interval, timeZone, currency));
  }
  return report;
}

/**
 * Best sellers in a range: units and revenue of orders paid in it, units of refunds that succeeded in it.
 * Revenue is after the order's discount (spread over its lines in proportion to their totals) and before
 * VAT (order lines are priced before tax).
 *
 * Whole UTC days inside the range come from `product_sales_rollup` (migrations/2026120830_product_sales_rollup.ts);
 * only the partial UTC days at its two edges (the shop's midnight is not UTC's) are summed from the lines,
 * with the same arithmetic the rollup's triggers use.
 */
export async function topProducts(
  db: DbOrTrx,
  opts: { range: DateRange; by: 'revenue' | 'units'; limit: number; timeZone: string; currency: string },
): Promise<TopProduct[]> {
  const { range, timeZone: tz, currency } = opts;
  const order = opts.by === 'units' ? sql`units DESC, revenue DESC` : sql`revenue DESC, units DESC`;
  // [start, end) in the shop's zone; [firstDay, endDay) the whole UTC days inside it; lines are read for
  // [start, edgeStart) and [edgeEnd, end). A range shorter than a whole UTC day is read from lines alone.
  const { rows: bounds } = await sql<{
    start: Date;
    end: Date;
    firstDay: string;
    endDay: string;
    edgeStart: Date;
    edgeEnd: Date;
  }>`
    WITH b AS (
      SELECT ${startOf(range.from, tz)} AS start, ${startOf(addDays(range.to, 1), tz)} AS "end"
    ), d AS (
      SELECT start, "end",
             ((start AT TIME ZONE 'UTC') + interval '1 day' - interval '1 microsecond')::date AS first_day,
             ("end" AT TIME ZONE 'UTC')::date AS end_day
      FROM b
    )
    SELECT start, "end", to_char(first_day, 'YYYY-MM-DD') AS "firstDay", to_char(end_day, 'YYYY-MM-DD') AS "endDay",
           CASE WHEN first_day < end_day THEN first_day::timestamp AT TIME ZONE 'UTC' ELSE "end" END AS "edgeStart",
           CASE WHEN first_day < end_day THEN end_day::timestamp AT TIME ZONE 'UTC' ELSE "end" END AS "edgeEnd"
    FROM d
  `.execute(db);
  const { start, end, firstDay, endDay, edgeStart, edgeEnd } = bounds[0];
  const { rows } = await sql<TopProduct>`
    WITH edge_orders AS (
      SELECT id, subtotal, discount FROM orders
      WHERE currency = ${currency}
        AND ((paid_at >= ${start} AND paid_at < ${edgeStart}) OR (paid_at >= ${edgeEnd} AND paid_at < ${end}))
    ), edge_refunds AS (
      SELECT id FROM refunds
      WHERE status = 'processed' AND currency = ${currency}
        AND ((settled_at >= ${start} AND settled_at < ${edgeStart}) OR (settled_at >= ${edgeEnd} AND settled_at < ${end}))
    ), lines AS (
      SELECT product_id, title, units, revenue, refunded_units
      FROM product_sales_rollup
      WHERE currency = ${currency} AND day >= ${firstDay}::date AND day < ${endDay}::date
      UNION ALL
      SELECT oi.product_id, oi.title, oi.quantity,
             oi.line_total - CASE WHEN o.subtotal > 0 THEN round(o.discount::numeric * oi.line_total / o.subtotal) ELSE 0 END,
             0
      FROM edge_orders o JOIN order_items oi ON oi.order_id = o.id
      WHERE oi.product_id IS NOT NULL
      UNION ALL
      SELECT oi.product_id, oi.title, 0, 0, ri.quantity
      FROM edge_refunds r JOIN refund_items ri ON ri.refund_id = r.id JOIN order_items oi ON oi.id = ri.order_item_id
      WHERE oi.product_id IS NOT NULL
    ), per_product AS (
      SELECT product_id, max(title) AS title, sum(units)::bigint AS units, sum(revenue)::bigint AS revenue,
             sum(refunded_units)::bigint AS refunded_units
      FROM lines GROUP BY product_id
    )
    SELECT s.product_id AS "productId", coalesce(p.title, s.title) AS title,
           s.units, s.revenue, s.refunded_units AS "refundedUnits"
    FROM per_product s
    LEFT JOIN products p ON p.id = s.product_id
    WHERE s.units > 0 OR s.refunded_units > 0
    ORDER BY ${order}, 1
    LIMIT ${opts.limit}
  `.execute(db);
  return rows;
}

/**
 * Stock now (every variant of a product not archived), per category, and the stock movements of the range
 * by reason. `categoryId` narrows to that category and its subcategories; an unknown one is 404.
 */
export async function inventoryReport(
  db: DbOrTrx,
  opts: { range: DateRange; categoryId?: string; timeZone: string; currency: string },
): Promise<InventoryReport> {
  const { range, timeZone: tz } = opts;
  if (opts.categoryId) {
    const found = await db
      .selectFrom('categories')
      .select('id')
      .where('id', '=', opts.categoryId)
      .executeTakeFirst();
    if (!found) throw new NotFoundError('Category');
  }
  const scope = opts.categoryId
    ? sql`AND p.category_id IN (
        WITH RECURSIVE tree AS (
          SELECT id FROM categories WHERE id = ${opts.categoryId}
          UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id
        ) SELECT id FROM tree)`
    : sql``;
  const { rows: categories } = await sql<InventoryReport['categories'][number]>`
    SELECT p.category_id AS "categoryId", c.name,
           count(*)::bigint AS variants,
           count(*) FILTER (WHERE coalesce(i.on_hand - i.reserved, 0) <= 0)::bigint AS "outOfStock",
           count(*) FILTER (WHERE i.on_hand - i.reserved > 0 AND i.on_hand - i.reserved <= i.low_stock_threshold)::bigint AS "lowStock",
           coalesce(sum(i.on_hand), 0)::bigint AS "unitsOnHand",
           coalesce(sum(i.reserved), 0)::bigint AS "unitsReserved",
           coalesce(sum(i.on_hand::bigint * v.price), 0)::bigint AS "retailValue"
    FROM product_variants v
    JOIN products p ON p.id = v.product_id
    LEFT JOIN inventory i ON i.variant_id = v.id
    LEFT JOIN categories c ON c.id = p.category_id
    WHERE p.status <> 'archived' AND v.currency = ${opts.currency} ${scope}
    GROUP BY p.category_id, c.name
    ORDER BY c.name NULLS LAST, p.category_id
  `.execute(db);
  const { rows: movements } = await sql<InventoryReport['movements'][number]>`
    SELECT m.reason, count(*)::bigint AS movements, coalesce(sum(m.delta_on_hand), 0)::bigint AS "onHand",
           coalesce(sum(m.delta_reserved), 0)::bigint AS reserved
    FROM inventory_movements m
    JOIN product_variants v ON v.id = m.variant_id
    JOIN products p ON p.id = v.product_id
    WHERE m.created_at >= ${startOf(range.from, tz)} AND m.created_at < ${startOf(addDays(range.to, 1), tz)} ${scope}
    GROUP BY m.reason
    ORDER BY m.reason
  `.execute(db);
  const sum = (k: keyof StockFigures) => categories.reduce((acc, c) => acc + c[k], 0);
  return {
    currency: opts.currency,
    variants: sum('variants'),
    outOfStock: sum('outOfStock'),
    lowStock: sum('lowStock'),
    unitsOnHand: sum('unitsOnHand'),
    unitsReserved: sum('unitsReserved'),
    retailValue: sum('retailValue'),
    categories,
    movements,
  };
}

/** The manager's home tiles, in one snapshot. */
export async function dashboard(
  db: DbOrTrx,
  opts: { today: string; timeZone: string; currency: string },
): Promise<Dashboard> {
  const week = { from: addDays(opts.today, -6), to: opts.today };
  const days = period(week, await salesBuckets(db, week, 'day', opts.timeZone, opts.currency));
  const figures = (b: SalesBucket | undefined, date: string) => ({
    date,
    orders: b?.orders ?? 0,
    gross: b?.gross ?? 0,
    refunded: b?.refunded ?? 0,
    net: b?.net ?? 0,
  });
  const { rows } = await sql<{
    ordersToPay: number;
    ordersToShip: number;
    lowStock: number;
    outOfStock: number;
  }>`
    SELECT
      (SELECT count(*) FROM orders WHERE status = 'pending_payment')::bigint AS "ordersToPay",
      (SELECT count(*) FROM orders WHERE status IN ('paid', 'processing'))::bigint AS "ordersToShip",
      (SELECT count(*) FROM inventory WHERE on_hand - reserved > 0 AND on_hand - reserved <= low_stock_threshold)::bigint AS "lowStock",
      (SELECT count(*) FROM inventory WHERE on_hand - reserved <= 0)::bigint AS "outOfStock"
  `.execute(db);
  const counts = rows[0];
  return {
    currency: opts.currency,
    today: figures(days.buckets[6], opts.today),
    yesterday: figures(days.buckets[5], addDays(opts.today, -1)),
    last7Days: days,
    ...counts,
    openReturns: null,
    openConversations: null,
    pendingApprovals: null,
  };
}
