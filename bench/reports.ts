/**
 * Reports over a year of trade: 1,000 paid orders a day for 365 days (two lines each, 2% refunded
 * in part), then the owner's report routes under load, one request at a time and at 8 connections.
 * Aim (issue 11): every report of a year answers in under 200 ms (p99, one at a time).
 *   GET /admin/reports/sales?interval=day|week|month&compare=previous_period   (from the rollup)
 *   GET /admin/dashboard (the cold answer; later ones come from its 30 s per-process cache)
 *   GET /admin/reports/top-products (a year and 30 days; reads the order lines)
 *   GET /admin/reports/inventory
 * `REPORTS_BENCH_DAYS` / `REPORTS_BENCH_PER_DAY` shrink the data set for a quick look.
 */
import { sql } from 'kysely';
import { hashPassword } from '../shared/auth/passwords.js';
import { seedCatalog } from '../shared/catalog/demo.js';
import { addDays, todayIn } from '../shared/reports/range.js';
import type { BenchContext } from './lib.js';

const EMAIL = 'bench.manager@example.com';
const PASSWORD = 'bench manager passphrase 2026';
const DAYS = Number(process.env.REPORTS_BENCH_DAYS ?? 365);
const PER_DAY = Number(process.env.REPORTS_BENCH_PER_DAY ?? 1000);

async function arrange(ctx: BenchContext): Promise<void> {
  const started = Date.now();
  await seedCatalog({ db: ctx.db, config: ctx.config, log: () => {}, args: ['--products', '500'] });
  await ctx.db
    .insertInto('users')
    .values({
      email: EMAIL,
      name: 'Bench manager',
      role: 'manager',
      passwordHash: await hashPassword(PASSWORD),
      emailVerifiedAt: new Date(),
    })
    .execute();
  // Bulk load with triggers off (session_replication_role = replica) on one connection, then the rollup
  // and the product rollup built the way their migrations backfill them: the rows the triggers would write,
  // in seconds instead of many minutes. One day per statement, so none holds a year of rows in memory.
  await ctx.db.connection().execute(async (conn) => {
    await sql`SET session_replication_role = replica`.execute(conn);
    for (let day = 0; day < DAYS; day++) {
      await sql`
      WITH variants AS (
        SELECT v.id, v.product_id, p.title, v.title AS vtitle, v.sku, v.price, row_number() OVER (ORDER BY v.id) AS n
        FROM product_variants v JOIN products p ON p.id = v.product_id
      ), nv AS (SELECT count(*) AS c FROM variants),
      o AS (
        INSERT INTO orders (email, status, currency, subtotal, discount, shipping, tax, total, shipping_address,
                            paid_at, amount_paid, created_at)
        SELECT 'bench' || g || '@example.com', 'delivered', 'NGN', 0, 0, 150000, 0, 150000, '{}'::jsonb,
               now() - make_interval(days => ${day}) - make_interval(secs => (g * 86.4)::int), 0,
               now() - make_interval(days => ${day}) - make_interval(secs => (g * 86.4)::int)
        FROM generate_series(1, ${PER_DAY}) g
        RETURNING id, paid_at
      ), numbered AS (SELECT id, paid_at, row_number() OVER () AS k FROM o)
      INSERT INTO order_items (order_id, variant_id, product_id, title, variant_title, sku, unit_price, quantity, line_total, currency)
      SELECT n.id, v.id, v.product_id, v.title, v.vtitle, v.sku, v.price, 1 + (n.k % 2)::int, v.price * (1 + (n.k % 2)), 'NGN'
      FROM numbered n CROSS JOIN LATERAL (VALUES (0), (1)) AS line(i)
      JOIN variants v ON v.n = 1 + ((n.k * 7 + line.i * 131 + ${day} * 17) % (SELECT c FROM nv))
    `.execute(conn);
    }
    // Order figures from their lines, then the payments.
    await sql`
    UPDATE orders o SET subtotal = s.sub, total = s.sub + o.shipping, amount_paid = s.sub + o.shipping
    FROM (SELECT order_id, sum(line_total) AS sub FROM order_items GROUP BY order_id) s WHERE s.order_id = o.id
  `.execute(conn);
    await sql`
    INSERT INTO payments (order_id, reference, status, amount, currency, paid_amount, paid_currency, paid_at)
    SELECT id, 'BENCH-' || id, 'success', total, 'NGN', total, 'NGN', paid_at FROM orders
  `.execute(conn);
    // Every 50th order has its first line refunded, settled a day after payment.
    await sql`
    WITH r AS (
      INSERT INTO refunds (order_id, amount, currency, reason, status, settled_at)
      SELECT o.id, oi.line_total, 'NGN', 'bench', 'processed', o.paid_at + interval '1 day'
      FROM (SELECT id, paid_at, row_number() OVER (ORDER BY id) AS k FROM orders) o
      JOIN LATERAL (SELECT id, line_total, quantity FROM order_items WHERE order_id = o.id ORDER BY id LIMIT 1) oi ON true
      WHERE o.k % 50 = 0
      RETURNING id, order_id, amount, settled_at
    ), parts AS (
      INSERT INTO refund_parts (refund_id, payment_id, amount, currency, status, settled_at)
      SELECT r.id, p.id, r.amount, 'NGN', 'processed', r.settled_at FROM r JOIN payments p ON p.order_id = r.order_id
    )
    INSERT INTO refund_items (refund_id, order_id, order_item_id, quantity)
    SELECT r.id, r.order_id, oi.id, oi.quantity
    FROM r JOIN LATERAL (SELECT id, quantity FROM order_items WHERE order_id = r.order_id ORDER BY id LIMIT 1) oi ON true
  `.execute(conn);
    await sql`DELETE FROM sales_rollup`.execute(conn);
    await sql`
    INSERT INTO sales_rollup (slot, currency, orders, subtotal, discount, shipping, tax, gross, refunded, refunds)
    SELECT slot, currency, sum(orders), sum(subtotal), sum(discount), sum(shipping), sum(tax), sum(gross), sum(refunded), sum(refunds)
    FROM (
      SELECT sales_slot(paid_at) AS slot, currency, 1 AS orders, subtotal, discount, shipping, tax,
             0::bigint AS gross, 0::bigint AS refunded, 0 AS refunds
      FROM orders WHERE paid_at IS NOT NULL
      UNION ALL
      SELECT sales_slot(paid_at), coalesce(paid_currency, currency), 0, 0, 0, 0, 0, coalesce(paid_amount, amount), 0, 0
      FROM payments WHERE status = 'success' AND paid_at IS NOT NULL
      UNION ALL
      SELECT sales_slot(rp.settled_at), rp.currency, 0, 0, 0, 0, 0, 0, rp.amount, 1
      FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id AND p.status = 'success'
      WHERE rp.status = 'processed' AND rp.settled_at IS NOT NULL
    ) s
    GROUP BY slot, currency
  `.execute(conn);
    await sql`SELECT product_sales_rollup_rebuild()`.execute(conn);
    await sql`SET session_replication_role = DEFAULT`.execute(conn);
  });
  await sql`VACUUM ANALYZE`.execute(ctx.db);
  const { rows } = await sql<{ orders: string; lines: string; rollup: string; products: string }>`
    SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM order_items) AS lines,
           (SELECT count(*) FROM sales_rollup) AS rollup, (SELECT count(*) FROM product_sales_rollup) AS products
  `.execute(ctx.db);
  ctx.log(
    `arranged ${rows[0].orders} paid orders, ${rows[0].lines} lines, ${rows[0].rollup} sales rollup rows, ${rows[0].products} product-day rows over ${DAYS} days in ${Math.round((Date.now() - started) / 1000)} s`,
  );
}

export default async function run(ctx: BenchContext): Promise<void> {
  await arrange(ctx);
  const app = await ctx.startApp();
  const res = await fetch(`${app.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  if (!res.ok) throw new Error(`bench login failed: ${res.status} ${await res.text()}`);
  const { accessToken } = (await res.json()) as { accessToken: string };
  const headers = { authorization: `Bearer ${accessToken}` };

  const to = todayIn(ctx.config.SHOP_TIMEZONE);
  const yearFrom = addDays(to, -(DAYS - 1));
  const monthFrom = addDays(to, -29);
  const routes: [string, string][] = [
    [
      'sales, a year by day, with the previous period',
      `/api/v1/admin/reports/sales?from=${yearFrom}&to=${to}&interval=day&compare=previous_period`,
    ],
    ['sales, a year by week', `/api/v1/admin/reports/sales?from=${yearFrom}&to=${to}&interval=week`],
    ['sales, a year by month', `/api/v1/admin/reports/sales?from=${yearFrom}&to=${to}&interval=month`],
    ['dashboard', '/api/v1/admin/dashboard'],
    ['top products, 30 days', `/api/v1/admin/reports/top-products?from=${monthFrom}&to=${to}`],
    ['top products, a year', `/api/v1/admin/reports/top-products?from=${yearFrom}&to=${to}`],
    ['inventory, a year of movements', `/api/v1/admin/reports/inventory?from=${yearFrom}&to=${to}`],
  ];
  for (const [name, path] of routes) {
    const cold = Date.now();
    const probe = await fetch(`${app.url}${path}`, { headers });
    if (!probe.ok) throw new Error(`${name}: ${probe.status} ${await probe.text()}`);
    await probe.arrayBuffer();
    ctx.log(`${name}: first answer in ${Date.now() - cold} ms`);
    // One at a time: the latency an owner opening the page sees (aim: p99 under 200 ms).
    ctx.report({
      name: `${name} (1 connection)`,
      result: await ctx.load(app, { path, headers, connections: 1, duration: 5 }),
    });
  }
  await app.stop();
}
