/**
 * The staff's customer list and profile over a big shop: 100,000 customers and 1,000,000 orders (90%
 * paid, every 50th paid order refunded in part), then the customer routes one request at a time.
 * Aim (issue 19): every figure from indexed SQL, under 100 ms (p99, one at a time).
 *   GET /admin/customers                       sort=recent (default), spent, orders; a second page
 *   GET /admin/customers?q=                    an email, a surname (thousands of matches), a phone in
 *                                              local form, an order number
 *   GET /admin/customers?tag=vip&sort=spent
 *   GET /admin/customers/:id                   the biggest spender's profile
 * `CUSTOMERS_BENCH_CUSTOMERS` / `CUSTOMERS_BENCH_ORDERS` shrink the data set for a quick look.
 */
import { sql } from 'kysely';
import { hashPassword } from '../shared/auth/passwords.js';
import type { BenchContext } from './lib.js';

const EMAIL = 'bench.crm.manager@example.com';
const PASSWORD = 'bench manager passphrase 2026';
const CUSTOMERS = Number(process.env.CUSTOMERS_BENCH_CUSTOMERS ?? 100_000);
const ORDERS = Number(process.env.CUSTOMERS_BENCH_ORDERS ?? 1_000_000);
const CHUNK = 100_000;

const FIRST = ['Ada', 'Bola', 'Chidi', 'Dayo', 'Emeka', 'Funke', 'Gbenga', 'Halima', 'Ifeoma', 'Jide', 'Kemi', 'Lanre', 'Musa', 'Ngozi', 'Obinna', 'Segun'];
const LAST = ['Okafor', 'Adeyemi', 'Balogun', 'Eze', 'Nwosu', 'Bello', 'Okonkwo', 'Ogunleye', 'Abubakar', 'Obi', 'Ibrahim', 'Adebayo', 'Chukwu', 'Lawal', 'Onyeka', 'Salami', 'Danjuma', 'Afolabi', 'Uche', 'Yusuf'];

async function arrange(ctx: BenchContext): Promise<void> {
  const started = Date.now();
  await ctx.db
    .insertInto('users')
    .values({ email: EMAIL, name: 'Bench manager', role: 'manager', passwordHash: await hashPassword(PASSWORD), emailVerifiedAt: new Date() })
    .execute();
  // Bulk load with triggers off (session_replication_role = replica) on one connection, then the profiles
  // built by the migration's own rebuild: the rows the triggers would have written, in seconds.
  await ctx.db.connection().execute(async (conn) => {
    await sql`SET session_replication_role = replica`.execute(conn);
    await sql`
      INSERT INTO users (email, name, phone, password_hash, role, email_verified_at, created_at)
      SELECT 'cust' || g || '@example.com',
             (${FIRST}::text[])[1 + g % ${sql.lit(FIRST.length)}] || ' ' || (${LAST}::text[])[1 + (g / 7) % ${sql.lit(LAST.length)}],
             '+234803' || lpad(g::text, 7, '0'), '!bench', 'customer', now(),
             now() - make_interval(days => 730) + make_interval(secs => g * (63072000 / ${sql.lit(CUSTOMERS)}))
      FROM generate_series(1, ${sql.lit(CUSTOMERS)}) g
    `.execute(conn);
    await sql`CREATE TEMP TABLE bench_customers AS
      SELECT id, email, row_number() OVER (ORDER BY created_at, id) AS k FROM users WHERE role = 'customer'`.execute(conn);
    await sql`CREATE INDEX ON bench_customers (k)`.execute(conn);
    // Orders over two years, customers drawn by a multiplicative hash (some buy often, most a few times).
    for (let from = 1; from <= ORDERS; from += CHUNK) {
      const to = Math.min(ORDERS, from + CHUNK - 1);
      await sql`
        INSERT INTO orders (user_id, email, status, currency, subtotal, total, shipping_address, paid_at, amount_paid, created_at)
        SELECT c.id, c.email, CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'delivered' END, 'NGN',
               amount, amount, '{}'::jsonb, CASE WHEN g % 10 = 0 THEN NULL ELSE at + interval '2 minutes' END,
               CASE WHEN g % 10 = 0 THEN 0 ELSE amount END, at
        FROM (
          SELECT g, 1 + ((g::bigint * 2654435761) % ${sql.lit(CUSTOMERS)}) AS k, 50000 + (g::bigint * 7919 % 5000000) AS amount,
                 now() - make_interval(days => 730) + make_interval(secs => (g::bigint * 63072000 / ${sql.lit(ORDERS)})::int) AS at
          FROM generate_series(${sql.lit(from)}, ${sql.lit(to)}) g
        ) s JOIN bench_customers c ON c.k = s.k
      `.execute(conn);
    }
    await sql`
      INSERT INTO payments (order_id, reference, status, amount, currency, paid_amount, paid_currency, paid_at)
      SELECT id, 'BENCH-' || id, 'success', total, 'NGN', total, 'NGN', paid_at FROM orders WHERE paid_at IS NOT NULL
    `.execute(conn);
    await sql`
      WITH r AS (
        INSERT INTO refunds (order_id, amount, currency, reason, status, settled_at)
        SELECT o.id, o.total / 3, 'NGN', 'bench', 'processed', o.paid_at + interval '1 day'
        FROM (SELECT id, total, paid_at, row_number() OVER (ORDER BY id) AS k FROM orders WHERE paid_at IS NOT NULL) o
        WHERE o.k % 50 = 0
        RETURNING id, order_id, amount, settled_at
      )
      INSERT INTO refund_parts (refund_id, payment_id, amount, currency, status, settled_at)
      SELECT r.id, p.id, r.amount, 'NGN', 'processed', r.settled_at FROM r JOIN payments p ON p.order_id = r.order_id
    `.execute(conn);
    await sql`SELECT customer_profiles_rebuild()`.execute(conn);
    await sql`UPDATE customer_profiles SET tags = ARRAY['vip'] WHERE user_id IN (SELECT id FROM bench_customers WHERE k % 100 = 0)`.execute(conn);
    await sql`SET session_replication_role = DEFAULT`.execute(conn);
  });
  await sql`VACUUM ANALYZE`.execute(ctx.db);
  const { rows } = await sql<{ customers: string; orders: string; payments: string }>`
    SELECT (SELECT count(*) FROM users WHERE role = 'customer') AS customers, (SELECT count(*) FROM orders) AS orders,
           (SELECT count(*) FROM payments) AS payments
  `.execute(ctx.db);
  ctx.log(
    `arranged ${rows[0].customers} customers, ${rows[0].orders} orders, ${rows[0].payments} payments in ${Math.round((Date.now() - started) / 1000)} s`,
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
  const json = async (path: string) => {
    const r = await fetch(`${app.url}${path}`, { headers });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as { items: { id: string }[]; nextCursor: string | null };
  };

  const top = await json('/api/v1/admin/customers?sort=spent&limit=20');
  const order = await ctx.db.selectFrom('orders').select('number').where('userId', 'is not', null).orderBy('createdAt', 'desc').limit(1).executeTakeFirstOrThrow();
  const k = Math.floor(CUSTOMERS / 3);
  const routes: [string, string][] = [
    ['list, recent', '/api/v1/admin/customers'],
    ['list, spent', '/api/v1/admin/customers?sort=spent'],
    ['list, spent, second page', `/api/v1/admin/customers?sort=spent&cursor=${top.nextCursor}`],
    ['list, orders', '/api/v1/admin/customers?sort=orders'],
    ['search, email', `/api/v1/admin/customers?q=cust${k}@`],
    ['search, a common surname, by spent', '/api/v1/admin/customers?q=okafor&sort=spent'],
    ['search, phone in local form', `/api/v1/admin/customers?q=0803${String(k).padStart(7, '0')}`],
    ['search, order number', `/api/v1/admin/customers?q=${order.number}`],
    ['tag vip, by spent', '/api/v1/admin/customers?tag=vip&sort=spent'],
    ['profile of the biggest spender', `/api/v1/admin/customers/${top.items[0].id}`],
  ];
  for (const [name, path] of routes) {
    const cold = Date.now();
    const probe = await fetch(`${app.url}${path}`, { headers });
    if (!probe.ok) throw new Error(`${name}: ${probe.status} ${await probe.text()}`);
    await probe.arrayBuffer();
    ctx.log(`${name}: first answer in ${Date.now() - cold} ms`);
    // One at a time: what a support agent looking a customer up sees (aim: p99 under 100 ms).
    ctx.report({ name: `${name} (1 connection)`, result: await ctx.load(app, { path, headers, connections: 1 }) });
  }
  await app.stop();
}
