/**
 * The best-sellers rollup (migrations/2026120830_product_sales_rollup.ts) against the order lines it sums:
 * after payments, discounts, refunds settling and unsettling, a paid_at moved across midnight, lines added
 * to a paid order and an order deleted, every product's day in the rollup equals the lines grouped by hand,
 * and `topProducts` over ranges that cut UTC days (Lagos and Kathmandu midnights) equals the report
 * computed from the lines alone.
 */
import { sql } from 'kysely';
import t from 'tap';
import type { Db } from '../../shared/db/index.js';
import { topProducts } from '../../shared/reports/sales.js';
import { testEnv } from '../support/harness.js';

/** The report as it was computed before the rollup: every line of the range. */
async function fromLines(db: Db, from: string, to: string, tz: string, by: 'revenue' | 'units') {
  const start = sql`(${from}::date::timestamp AT TIME ZONE ${tz})`;
  const end = sql`((${to}::date + 1)::timestamp AT TIME ZONE ${tz})`;
  const order = by === 'units' ? sql`units DESC, revenue DESC` : sql`revenue DESC, units DESC`;
  const { rows } = await sql<{
    productId: string;
    title: string;
    units: number;
    revenue: number;
    refundedUnits: number;
  }>`
    WITH sold AS (
      SELECT oi.product_id, sum(oi.quantity)::bigint AS units,
             sum(oi.line_total - CASE WHEN o.subtotal > 0
                   THEN round(o.discount::numeric * oi.line_total / o.subtotal) ELSE 0 END)::bigint AS revenue
      FROM orders o JOIN order_items oi ON oi.order_id = o.id
      WHERE o.paid_at >= ${start} AND o.paid_at < ${end} AND o.currency = 'NGN' AND oi.product_id IS NOT NULL
      GROUP BY oi.product_id
    ), returned AS (
      SELECT oi.product_id, sum(ri.quantity)::bigint AS units
      FROM refunds r JOIN refund_items ri ON ri.refund_id = r.id JOIN order_items oi ON oi.id = ri.order_item_id
      WHERE r.status = 'processed' AND r.settled_at >= ${start} AND r.settled_at < ${end}
        AND r.currency = 'NGN' AND oi.product_id IS NOT NULL
      GROUP BY oi.product_id
    )
    SELECT coalesce(s.product_id, r.product_id) AS "productId", p.title,
           coalesce(s.units, 0) AS units, coalesce(s.revenue, 0) AS revenue, coalesce(r.units, 0) AS "refundedUnits"
    FROM sold s FULL JOIN returned r ON r.product_id = s.product_id
    LEFT JOIN products p ON p.id = coalesce(s.product_id, r.product_id)
    ORDER BY ${order}, 1
  `.execute(db);
  return rows;
}

t.test('the product rollup equals the order lines it sums, whatever happens to them', async (t) => {
  const { db } = await testEnv(t);
  const products = await sql<{ id: string }>`
    INSERT INTO products (slug, title, status, currency)
    SELECT 'rollup-' || g, 'Rollup product ' || g, 'active', 'NGN' FROM generate_series(1, 6) g
    RETURNING id
  `.execute(db);
  const ids = products.rows.map((r) => r.id);
  // 60 orders over four days, paid every 97 minutes from 20:00Z on 1 May: many cross UTC and Lagos midnights.
  const orders: string[] = [];
  for (let i = 0; i < 60; i++) {
    const { rows } = await sql<{ id: string }>`
      INSERT INTO orders (email, currency, subtotal, discount, shipping, total, shipping_address)
      VALUES (${`r${i}@example.com`}, 'NGN', 0, 0, 150000, 150000, '{}'::jsonb) RETURNING id
    `.execute(db);
    const orderId = rows[0].id;
    orders.push(orderId);
    for (let line = 0; line < 1 + (i % 3); line++) {
      const product = ids[(i + line * 2) % ids.length];
      const price = 100_000 * (1 + ((i + line) % 7)) + 333;
      const quantity = 1 + ((i * 5 + line) % 3);
      await sql`
        INSERT INTO order_items (order_id, product_id, title, variant_title, sku, unit_price, quantity, line_total, currency)
        VALUES (${orderId}, ${product}, 'line title', 'M', ${`SKU-${i}-${line}`}, ${price}, ${quantity}, ${price * quantity}, 'NGN')
      `.execute(db);
    }
    // Figures, then payment: a third of the orders carry a discount that does not divide evenly.
    await sql`
      UPDATE orders o SET subtotal = s.sub, discount = CASE WHEN ${i % 3 === 0} THEN least(s.sub, 77777) ELSE 0 END
      FROM (SELECT sum(line_total) AS sub FROM order_items WHERE order_id = ${orderId}) s WHERE o.id = ${orderId}
    `.execute(db);
    if (i % 10 !== 9) {
      await sql`UPDATE orders SET status = 'paid', paid_at = timestamptz '2026-05-01T20:00:00Z' + make_interval(mins => ${i * 97}) WHERE id = ${orderId}`.execute(
        db,
      );
    }
  }
  // Refunds: created pending with their lines, then processed; one processed then failed again; one
  // created already processed with its lines written afterwards.
  async function refund(orderId: string, status: 'processed' | 'pending', settledAt: string, up: boolean) {
    const { rows } = await sql<{ id: string }>`
      INSERT INTO refunds (order_id, amount, currency, reason, status, settled_at)
      VALUES (${orderId}, 1000, 'NGN', 'test', ${status}, ${status === 'processed' ? settledAt : null}) RETURNING id
    `.execute(db);
    await sql`
      INSERT INTO refund_items (refund_id, order_id, order_item_id, quantity)
      SELECT ${rows[0].id}, order_id, id, 1 FROM order_items WHERE order_id = ${orderId}
    `.execute(db);
    if (up)
      await sql`UPDATE refunds SET status = 'processed', settled_at = ${settledAt} WHERE id = ${rows[0].id}`.execute(
        db,
      );
    return rows[0].id;
  }
  await refund(orders[3], 'pending', '2026-05-02T23:30:00Z', true);
  await refund(orders[4], 'processed', '2026-05-03T00:10:00Z', false);
  const undone = await refund(orders[5], 'pending', '2026-05-02T10:00:00Z', true);
  await sql`UPDATE refunds SET status = 'failed', settled_at = NULL WHERE id = ${undone}`.execute(db);
  await refund(orders[6], 'pending', '2026-05-03T12:00:00Z', false);
  // paid_at corrected across midnight; a line added to a paid order; an order (with a refund) deleted.
  await sql`UPDATE orders SET paid_at = '2026-05-02T23:59:00Z' WHERE id = ${orders[7]}`.execute(db);
  await sql`
    INSERT INTO order_items (order_id, product_id, title, variant_title, sku, unit_price, quantity, line_total, currency)
    VALUES (${orders[8]}, ${ids[0]}, 'late line', 'L', 'SKU-late', 50000, 2, 100000, 'NGN')
  `.execute(db);
  await refund(orders[11], 'pending', '2026-05-03T01:00:00Z', true);
  await sql`DELETE FROM orders WHERE id = ${orders[11]}`.execute(db);

  const { rows: drift } = await sql`
    WITH expected AS (
      SELECT day, product_id, sum(units) AS units, sum(revenue) AS revenue, sum(refunded) AS refunded FROM (
        SELECT (o.paid_at AT TIME ZONE 'UTC')::date AS day, oi.product_id, oi.quantity AS units,
               oi.line_total - CASE WHEN o.subtotal > 0 THEN round(o.discount::numeric * oi.line_total / o.subtotal) ELSE 0 END AS revenue,
               0 AS refunded
        FROM orders o JOIN order_items oi ON oi.order_id = o.id WHERE o.paid_at IS NOT NULL
        UNION ALL
        SELECT (r.settled_at AT TIME ZONE 'UTC')::date, oi.product_id, 0, 0, ri.quantity
        FROM refunds r JOIN refund_items ri ON ri.refund_id = r.id JOIN order_items oi ON oi.id = ri.order_item_id
        WHERE r.status = 'processed' AND r.settled_at IS NOT NULL
      ) x GROUP BY 1, 2
    ), actual AS (
      SELECT day, product_id, sum(units) AS units, sum(revenue) AS revenue, sum(refunded_units) AS refunded
      FROM product_sales_rollup GROUP BY 1, 2
    )
    SELECT day::text, product_id, e.units AS eu, a.units AS au, e.revenue AS er, a.revenue AS ar, e.refunded AS ef, a.refunded AS af
    FROM expected e FULL JOIN actual a USING (day, product_id)
    WHERE coalesce(e.units, 0) <> coalesce(a.units, 0) OR coalesce(e.revenue, 0) <> coalesce(a.revenue, 0)
       OR coalesce(e.refunded, 0) <> coalesce(a.refunded, 0)
  `.execute(db);
  t.same(drift, [], 'every product-day of the rollup equals its lines');

  for (const tz of ['Africa/Lagos', 'Asia/Kathmandu', 'UTC']) {
    for (const [from, to] of [
      ['2026-05-01', '2026-05-01'],
      ['2026-05-02', '2026-05-02'],
      ['2026-05-02', '2026-05-03'],
      ['2026-05-01', '2026-05-31'],
      ['2026-04-01', '2026-05-02'],
    ]) {
      for (const by of ['revenue', 'units'] as const) {
        const got = await topProducts(db, {
          range: { from, to },
          by,
          limit: 100,
          timeZone: tz,
          currency: 'NGN',
        });
        t.same(got, await fromLines(db, from, to, tz, by), `${from}..${to} in ${tz} by ${by}`);
      }
    }
  }
});
