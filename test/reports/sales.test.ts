/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import t from 'tap';
import { createDb } from '../../shared/db/index.js';
import { addDays, todayIn } from '../../shared/reports/range.js';
import { createProduct } from '../support/fixtures.js';
import { settleRefundPart } from '../../shared/payments/refund-events.js';
import { createRefund } from '../../shared/payments/refund-request.js';
import { buildTestApp, testDatabase, testEnv, tokenFor } from '../support/harness.js';
import { createPendingOrder } from '../support/payment-fixtures.js';
import { ledger, paidOrder, payOrder, refundOrder } from './helpers.js';

const get = async (
  app: any,
  url: string,
  role: 'manager' | 'admin' | 'support' | 'customer' | null = 'manager',
) => {
  const res = await app.inject({
    method: 'GET',
    url,
    headers: role ? { authorization: tokenFor(app, role) } : {},
  });
  return { status: res.statusCode, body: res.json() };
};

const sumOf = (buckets: any[], k: string) => buckets.reduce((a, b) => a + b[k], 0);

t.test(
  'days are Lagos days: payments and refunds either side of midnight land on the right day',
  async (t) => {
    const { config, db } = await testEnv(t);
    const app = await buildTestApp(t, config);
    // 22:59Z is 23:59 in Lagos (1 March); 23:30Z is 00:30 on 2 March.
    const late = await paidOrder(db, '2026-03-01T22:59:00Z', { price: 1_000_000, quantity: 1 });
    const afterMidnight = await paidOrder(db, '2026-03-01T23:30:00Z', { price: 2_000_000, quantity: 1 });
    const third = await paidOrder(db, '2026-03-02T12:00:00Z', { price: 500_000, quantity: 2 });
    // Refunded 23:10Z on 2 March: 00:10 on 3 March in Lagos.
    await refundOrder(db, afterMidnight.orderId, 300_000, '2026-03-02T23:10:00Z');
    // Refunded 22:50Z on 2 March: still 2 March.
    await refundOrder(db, third.orderId, 1_000_000, '2026-03-02T22:50:00Z');

    const { status, body } = await get(
      app,
      '/api/v1/admin/reports/sales?from=2026-03-01&to=2026-03-04&interval=day',
    );
    t.equal(status, 200);
    t.same(
      body.buckets.map((b: any) => [b.start, b.orders, b.gross, b.refunded, b.net]),
      [
        ['2026-03-01', 1, 1_000_000, 0, 1_000_000],
        ['2026-03-02', 2, 3_000_000, 1_000_000, 2_000_000],
        ['2026-03-03', 0, 0, 300_000, -300_000],
        ['2026-03-04', 0, 0, 0, 0],
      ],
    );
    t.same(
      {
        orders: body.totals.orders,
        gross: body.totals.gross,
        refunded: body.totals.refunded,
        net: body.totals.net,
      },
      { orders: 3, gross: 4_000_000, refunded: 1_300_000, net: 2_700_000 },
    );
    t.equal(body.totals.averageOrderValue, 1_333_333, 'half-up to the kobo');
    t.equal(body.totals.subtotal, 4_000_000);
    t.equal(body.totals.paystack, 4_000_000);
    t.equal(body.source, 'primary');
    t.ok(Date.parse(body.asOf) <= Date.now());

    // The same figures as the ledger itself over the range's instants.
    const l = await ledger(db, '2026-02-28T23:00:00Z', '2026-03-04T23:00:00Z');
    t.equal(body.totals.net, l.paid - l.refunded);
    t.equal(body.totals.orders, l.orders);

    // One day alone: the order paid at 23:30Z on 1 March is not in 1 March.
    const day1 = await get(app, '/api/v1/admin/reports/sales?from=2026-03-01&to=2026-03-01');
    t.equal(day1.body.totals.gross, 1_000_000);
    t.equal(late.total, 1_000_000);
  },
);

t.test('ISO weeks, months, empty buckets and the previous period', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  await paidOrder(db, '2026-03-04T10:00:00Z', { price: 100_000, quantity: 1 }); // Wed, week of Mon 2 March
  await paidOrder(db, '2026-03-15T22:30:00Z', { price: 200_000, quantity: 1 }); // 23:30 Sun 15 March in Lagos
  await paidOrder(db, '2026-03-15T23:30:00Z', { price: 400_000, quantity: 1 }); // 00:30 Mon 16 March in Lagos
  await paidOrder(db, '2026-02-20T10:00:00Z', { price: 800_000, quantity: 1 }); // previous period

  const weeks = await get(
    app,
    '/api/v1/admin/reports/sales?from=2026-03-04&to=2026-03-17&interval=week&compare=previous_period',
  );
  t.equal(weeks.status, 200);
  t.same(
    weeks.body.buckets.map((b: any) => [b.start, b.end, b.gross]),
    [
      ['2026-03-04', '2026-03-08', 100_000],
      ['2026-03-09', '2026-03-15', 200_000],
      ['2026-03-16', '2026-03-17', 400_000],
    ],
    'ISO weeks start on Monday, clamped to the range',
  );
  t.equal(weeks.body.previous.from, '2026-02-18');
  t.equal(weeks.body.previous.to, '2026-03-03');
  t.equal(weeks.body.previous.totals.gross, 800_000);
  t.equal(weeks.body.previous.totals.orders, 1);
  t.equal(sumOf(weeks.body.previous.buckets, 'gross'), weeks.body.previous.totals.gross);

  const days = await get(app, '/api/v1/admin/reports/sales?from=2026-01-01&to=2026-03-31');
  t.equal(days.body.buckets.length, 90, 'every day of the range, empty ones included');
  t.equal(days.body.buckets.filter((b: any) => b.orders === 0 && b.gross === 0 && b.net === 0).length, 86);

  const months = await get(app, '/api/v1/admin/reports/sales?from=2026-01-15&to=2026-04-10&interval=month');
  t.same(
    months.body.buckets.map((b: any) => [b.start, b.orders, b.gross]),
    [
      ['2026-01-15', 0, 0],
      ['2026-02-01', 1, 800_000],
      ['2026-03-01', 3, 700_000],
      ['2026-04-01', 0, 0],
    ],
  );
  t.equal(months.body.totals.gross, sumOf(months.body.buckets, 'gross'));
  t.notOk('previous' in months.body, 'no previous period unless asked');
});

t.test('ranges: default last 30 days, from after to, over 731 days, impossible dates', async (t) => {
  const { config } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const def = await get(app, '/api/v1/admin/reports/sales');
  t.equal(def.status, 200);
  const today = todayIn('Africa/Lagos');
  t.equal(def.body.to, today);
  t.equal(def.body.from, addDays(today, -29));
  t.equal(def.body.buckets.length, 30);

  const reversed = await get(app, '/api/v1/admin/reports/sales?from=2026-03-02&to=2026-03-01');
  t.equal(reversed.status, 400);
  t.equal(reversed.body.code, 'validation_failed');

  const tooLarge = await get(app, '/api/v1/admin/reports/sales?from=2024-01-01&to=2026-01-01');
  t.equal(tooLarge.status, 400);
  t.equal(tooLarge.body.code, 'range_too_large');
  const justFits = await get(app, '/api/v1/admin/reports/sales?from=2024-01-01&to=2025-12-31&interval=month');
  t.equal(justFits.status, 200, '731 days is allowed');

  const impossible = await get(app, '/api/v1/admin/reports/sales?from=2026-02-30&to=2026-03-01');
  t.equal(impossible.status, 400);
  t.equal(impossible.body.code, 'validation_failed');
  for (const url of [
    '/api/v1/admin/reports/top-products?from=2020-01-01&to=2026-01-01',
    '/api/v1/admin/reports/inventory?from=2020-01-01&to=2026-01-01',
  ]) {
    const res = await get(app, url);
    t.equal(res.body.code, 'range_too_large', url);
  }
  const badInterval = await get(app, '/api/v1/admin/reports/sales?interval=year');
  t.equal(badInterval.status, 400);
});

t.test(
  'permissions: managers and admins read reports; support and customers 403; anonymous 401',
  async (t) => {
    const { config } = await testEnv(t);
    const app = await buildTestApp(t, config);
    const urls = [
      '/api/v1/admin/reports/sales',
      '/api/v1/admin/reports/top-products',
      '/api/v1/admin/reports/inventory',
      '/api/v1/admin/dashboard',
    ];
    for (const url of urls) {
      t.equal((await get(app, url, null)).status, 401, `${url} anonymous`);
      t.equal((await get(app, url, 'customer')).status, 403, `${url} customer`);
      t.equal((await get(app, url, 'support')).status, 403, `${url} support`);
      t.equal((await get(app, url, 'manager')).status, 200, `${url} manager`);
      t.equal((await get(app, url, 'admin')).status, 200, `${url} admin`);
    }
    // Authentication before validation: a bad query from a stranger is still 401.
    t.equal((await get(app, '/api/v1/admin/reports/sales?from=nope', null)).status, 401);
    t.equal((await get(app, '/api/v1/admin/reports/sales?from=nope', 'support')).status, 403);
    const unknownCategory = await get(
      app,
      '/api/v1/admin/reports/inventory?categoryId=00000000-0000-4000-8000-00000000abcd',
    );
    t.equal(unknownCategory.status, 404);
    t.equal(unknownCategory.body.code, 'not_found');
  },
);

t.test('top products: revenue after discount, units, refunded units', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const a = await createPendingOrder(db, {
    price: 1_000_000,
    quantity: 2,
    extraLines: [{ price: 500_000, quantity: 1 }],
  });
  // A 10% discount on the whole order: spread over its lines by their totals.
  await db
    .updateTable('orders')
    .set({ discount: 250_000, total: 2_250_000 })
    .where('id', '=', a.orderId)
    .execute();
  await db.updateTable('payments').set({ amount: 2_250_000 }).where('reference', '=', a.reference).execute();
  await payOrder(db, { ...a, total: 2_250_000 }, '2026-05-10T10:00:00Z');
  const b = await createPendingOrder(db, { price: 300_000, quantity: 5 });
  await payOrder(db, b, '2026-05-11T10:00:00Z');
  const items = await db
    .selectFrom('orderItems')
    .select(['id', 'productId'])
    .where('orderId', '=', b.orderId)
    .execute();
  const refund = await db.transaction().execute((trx) =>
    createRefund(trx, {
      orderId: b.orderId,
      amount: 600_000,
      reason: 'two returned',
      items: [{ orderItemId: items[0].id, quantity: 2 }],
    }),
  );
  await db.transaction().execute(async (trx) => {
    for (const p of refund.parts) await settleRefundPart(trx, p.id, 'processed');
  });
  await db
    .updateTable('refunds')
    .set({ settledAt: new Date('2026-05-12T10:00:00Z') })
    .where('id', '=', refund.id)
    .execute();

  const byRevenue = await get(app, '/api/v1/admin/reports/top-products?from=2026-05-01&to=2026-05-31');
  t.equal(byRevenue.status, 200);
  t.equal(byRevenue.body.nextCursor, null);
  t.same(
    byRevenue.body.items.map((i: any) => [i.units, i.revenue, i.refundedUnits]),
    [
      [2, 1_800_000, 0],
      [5, 1_500_000, 2],
      [1, 450_000, 0],
    ],
  );
  const byUnits = await get(
    app,
    '/api/v1/admin/reports/top-products?from=2026-05-01&to=2026-05-31&by=units&limit=1',
  );
  t.same(
    byUnits.body.items.map((i: any) => [i.productId, i.units]),
    [[items[0].productId, 5]],
  );
  const outside = await get(app, '/api/v1/admin/reports/top-products?from=2026-06-01&to=2026-06-30');
  t.same(outside.body.items, []);
});

t.test('inventory report: stock per category and movements by reason; dashboard tiles', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const cat = await db
    .insertInto('categories')
    .values({ name: 'Dresses', slug: 'dresses' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const sub = await db
    .insertInto('categories')
    .values({ name: 'Ankara', slug: 'ankara', parentId: cat.id })
    .returning('id')
    .executeTakeFirstOrThrow();
  const p1 = await createProduct(db, [
    { price: 1_000_000, onHand: 10, threshold: 2 },
    { price: 2_000_000, onHand: 0 },
  ]);
  const p2 = await createProduct(db, [{ price: 500_000, onHand: 3, threshold: 5 }]);
  await createProduct(db, [{ price: 9_000_000, onHand: 7 }]); // uncategorised
  await db.updateTable('products').set({ categoryId: cat.id }).where('id', '=', p1.product.id).execute();
  await db.updateTable('products').set({ categoryId: sub.id }).where('id', '=', p2.product.id).execute();
  await db
    .insertInto('inventoryMovements')
    .values([
      { variantId: p1.variants[0].id, deltaOnHand: 10, reason: 'adjustment' },
      { variantId: p2.variants[0].id, deltaOnHand: 3, reason: 'adjustment' },
      { variantId: p2.variants[0].id, deltaReserved: 1, reason: 'reserve' },
    ])
    .execute();

  const today = todayIn('Africa/Lagos');
  const scoped = await get(
    app,
    `/api/v1/admin/reports/inventory?categoryId=${cat.id}&from=${today}&to=${today}`,
  );
  t.equal(scoped.status, 200);
  t.match(scoped.body, {
    variants: 3,
    outOfStock: 1,
    lowStock: 1,
    unitsOnHand: 13,
    unitsReserved: 0,
    retailValue: 10 * 1_000_000 + 3 * 500_000,
  });
  t.equal(scoped.body.categories.length, 2, 'the category and its subcategory');
  t.same(
    scoped.body.movements.map((m: any) => [m.reason, m.movements, m.onHand, m.reserved]),
    [
      ['adjustment', 2, 13, 0],
      ['reserve', 1, 0, 1],
    ],
  );
  const all = await get(app, '/api/v1/admin/reports/inventory');
  t.equal(all.body.variants, 4);
  t.equal(all.body.retailValue, 10 * 1_000_000 + 3 * 500_000 + 7 * 9_000_000);
  const old = await get(app, `/api/v1/admin/reports/inventory?from=2020-01-01&to=2020-01-31`);
  t.same(old.body.movements, [], 'movements only of the range');

  const order = await createPendingOrder(db, { price: 100_000, quantity: 1 });
  await paidOrder(db, new Date().toISOString(), { price: 700_000, quantity: 1 });
  const dash = await get(app, '/api/v1/admin/dashboard');
  t.equal(dash.status, 200);
  t.equal(dash.body.today.date, today);
  t.equal(dash.body.today.gross, 700_000);
  t.equal(dash.body.yesterday.date, addDays(today, -1));
  t.equal(dash.body.last7Days.buckets.length, 7);
  t.equal(dash.body.ordersToPay, 1);
  t.equal(dash.body.ordersToShip, 1);
  t.ok(dash.body.lowStock >= 1);
  t.equal(order.total, 100_000);
  // Cached for up to 30 s: a second paid order does not show at once.
  await paidOrder(db, new Date().toISOString(), { price: 100_000, quantity: 1 });
  const again = await get(app, '/api/v1/admin/dashboard');
  t.equal(again.body.asOf, dash.body.asOf);
});

t.test(
  '50 orders paid and refunded concurrently: totals = Σ buckets every time, and = the ledger at the end',
  async (t) => {
    const { config, db } = await testEnv(t, { DATABASE_POOL_SIZE: '20' });
    const app = await buildTestApp(t, config);
    const orders = [];
    for (let i = 0; i < 50; i++)
      orders.push(await createPendingOrder(db, { price: 100_000 + i * 1_000, quantity: 1 }));
    const today = todayIn('Africa/Lagos');
    const url = `/api/v1/admin/reports/sales?from=${addDays(today, -1)}&to=${addDays(today, 1)}&compare=previous_period`;
    let done = false;
    const reads: any[] = [];
    const reader = (async () => {
      while (!done) {
        const { body } = await get(app, url);
        reads.push(body);
      }
    })();
    const busyDb = createDb(config.DATABASE_URL, { poolSize: 50 });
    t.teardown(() => busyDb.destroy());
    await Promise.all(
      orders.map(async (o, i) => {
        await payOrder(busyDb, o, new Date().toISOString());
        if (i % 2 === 0) await refundOrder(busyDb, o.orderId, 50_000 + i);
      }),
    );
    done = true;
    await reader;
    t.ok(reads.length >= 2, `${reads.length} reports read while paying`);
    for (const body of reads) {
      if (
        sumOf(body.buckets, 'gross') !== body.totals.gross ||
        sumOf(body.buckets, 'refunded') !== body.totals.refunded
      ) {
        t.fail('a report whose buckets do not add up to its totals');
      }
      if (body.totals.net !== body.totals.gross - body.totals.refunded) t.fail('net is not gross - refunded');
    }
    const final = (await get(app, url)).body;
    const { rows } = await sql<{ start: Date; end: Date }>`
    SELECT (${addDays(today, -1)}::date::timestamp AT TIME ZONE 'Africa/Lagos') AS start,
           (${addDays(today, 2)}::date::timestamp AT TIME ZONE 'Africa/Lagos') AS "end"`.execute(db);
    const l = await ledger(db, rows[0].start.toISOString(), rows[0].end.toISOString());
    t.equal(final.totals.orders, 50);
    t.equal(final.totals.gross, l.paid);
    t.equal(final.totals.refunded, l.refunded);
    t.equal(final.totals.net, l.paid - l.refunded);
    t.equal(
      l.paid,
      orders.reduce((a, o) => a + o.total, 0),
      'no payment counted twice',
    );
  },
);

t.test('replica routing: the replica when fresh, the primary when it lags or is unreachable', async (t) => {
  const { config, db } = await testEnv(t);
  // A second database stands for the replica: it has the schema but not the primary's newest order.
  const replicaUrl = await testDatabase(t);
  await paidOrder(db, '2026-04-10T10:00:00Z', { price: 1_000_000, quantity: 1 });
  const url = '/api/v1/admin/reports/sales?from=2026-04-01&to=2026-04-30';

  const fresh = await buildTestApp(t, {
    ...config,
    DATABASE_REPLICA_URL: replicaUrl,
    REPLICA_MAX_LAG_SECONDS: 60,
  });
  const onReplica = await get(fresh, url);
  t.equal(onReplica.body.source, 'replica');
  t.equal(onReplica.body.totals.orders, 0, 'read from the replica, which has not seen the order yet');

  // The replica falls 5 minutes behind.
  const replica = createDb(replicaUrl, { poolSize: 1 });
  t.teardown(() => replica.destroy());
  await sql`CREATE OR REPLACE FUNCTION replica_lag_seconds() RETURNS double precision LANGUAGE sql STABLE AS $$ SELECT 300::double precision $$`.execute(
    replica,
  );
  const lagging = await get(fresh, url);
  t.equal(lagging.body.source, 'primary');
  t.equal(lagging.body.totals.orders, 1);
  const tolerant = await buildTestApp(t, {
    ...config,
    DATABASE_REPLICA_URL: replicaUrl,
    REPLICA_MAX_LAG_SECONDS: 600,
  });
  const behind = await get(tolerant, url);
  t.equal(behind.body.source, 'replica', 'a lag within REPLICA_MAX_LAG_SECONDS is accepted');
  t.ok(Date.now() - Date.parse(behind.body.asOf) >= 299_000, 'asOf says how old the data is');

  const down = await buildTestApp(t, {
    ...config,
    DATABASE_REPLICA_URL: 'postgres://postgres@127.0.0.1:1/nothing',
    REPLICA_MAX_LAG_SECONDS: 60,
  });
  const unreachable = await get(down, url);
  t.equal(unreachable.status, 200);
  t.equal(unreachable.body.source, 'primary');
  t.equal(unreachable.body.totals.orders, 1);
});
