import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sql } from 'kysely';
import t from 'tap';
import { todayIn } from '../../shared/reports/range.js';
import { createProduct, createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { paidOrder } from './helpers.js';

setFlagsFromString('--expose-gc');
const rowsOf = (body: string): Record<string, string>[] => parse(body, { columns: true });
const gc = runInNewContext('gc') as () => void;

t.test(
  'orders, customers and inventory as CSV and XLSX: kobo columns, formula cells escaped, audited',
  async (t) => {
    const { config, db } = await testEnv(t);
    const app = await buildTestApp(t, config);
    const manager = await createUser(db, { role: 'manager' });
    const auth = { authorization: tokenFor(app, 'manager', manager.id) };
    const customer = await createUser(db, { role: 'customer', email: 'ada@example.test' });
    await db
      .updateTable('users')
      .set({ name: '=HYPERLINK("http://evil.test","click")' })
      .where('id', '=', customer.id)
      .execute();
    const paid = await paidOrder(db, new Date().toISOString(), {
      price: 1_250_000,
      quantity: 2,
      userId: customer.id,
    });
    await db
      .updateTable('orders')
      .set({ customerName: '@SUM(A1:A9)' })
      .where('id', '=', paid.orderId)
      .execute();
    await createProduct(db, [{ sku: '-SKU-1', price: 300_000, onHand: 4 }], { title: '+Gele' });

    const csv = await app.inject({ method: 'GET', url: '/api/v1/admin/exports/orders.csv', headers: auth });
    t.equal(csv.statusCode, 200);
    t.match(csv.headers['content-type'], /^text\/csv/);
    t.match(
      csv.headers['content-disposition'],
      /attachment; filename="orders-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv"/,
    );
    t.equal(csv.headers['x-source'], 'primary');
    const orders = rowsOf(csv.body);
    t.equal(orders.length, 1);
    t.match(orders[0], {
      number: paid.number,
      status: 'paid',
      customer_name: "'@SUM(A1:A9)",
      total_kobo: '2500000',
      paid_kobo: '2500000',
      refunded_kobo: '0',
      items: '2',
    });

    const none = await app.inject({
      method: 'GET',
      url: '/api/v1/admin/exports/orders.csv?status=cancelled',
      headers: auth,
    });
    t.equal(none.statusCode, 200, none.body);
    t.equal(rowsOf(none.body).length, 0, 'status filter');

    const customers = rowsOf(
      (await app.inject({ method: 'GET', url: '/api/v1/admin/exports/customers.csv', headers: auth })).body,
    );
    t.match(
      customers.find((c) => c.id === customer.id),
      {
        name: `'=HYPERLINK("http://evil.test","click")`,
        orders: '1',
        total_spent_kobo: '2500000',
      },
    );

    const inventory = rowsOf(
      (await app.inject({ method: 'GET', url: '/api/v1/admin/exports/inventory.csv', headers: auth })).body,
    );
    t.match(
      inventory.find((r) => r.sku === "'-SKU-1"),
      {
        product: "'+Gele",
        on_hand: '4',
        price_kobo: '300000',
        retail_value_kobo: '1200000',
      },
    );

    const xlsx = await app.inject({ method: 'GET', url: '/api/v1/admin/exports/orders.xlsx', headers: auth });
    t.equal(xlsx.statusCode, 200);
    t.match(xlsx.headers['content-type'], /spreadsheetml/);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    const sheet = workbook.getWorksheet('orders')!;
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    const row = (sheet.getRow(2).values as unknown[]).slice(1);
    const cell = (name: string) => row[header.indexOf(name)];
    t.equal(cell('customer_name'), "'@SUM(A1:A9)", 'a string, not a formula');
    t.equal(cell('total_kobo'), 2_500_000, 'money as integer kobo');
    t.equal(sheet.rowCount, 2);

    const audits = await db
      .selectFrom('auditLog')
      .select(['action', 'actorId', 'after'])
      .where('action', 'like', 'export.%')
      .execute();
    t.equal(audits.length, 5, 'every export audited');
    t.ok(audits.every((a) => a.actorId === manager.id));

    t.equal((await app.inject({ method: 'GET', url: '/api/v1/admin/exports/orders.csv' })).statusCode, 401);
    t.equal(
      (
        await app.inject({
          method: 'GET',
          url: '/api/v1/admin/exports/orders.csv',
          headers: { authorization: tokenFor(app, 'support') },
        })
      ).statusCode,
      403,
    );
    const tooLarge = await app.inject({
      method: 'GET',
      url: '/api/v1/admin/exports/orders.csv?from=2020-01-01&to=2026-01-01',
      headers: auth,
    });
    t.equal(tooLarge.statusCode, 400);
    t.equal(tooLarge.json().code, 'range_too_large');
    t.equal(
      (await db.selectFrom('auditLog').select('id').where('action', 'like', 'export.%').execute()).length,
      5,
      'a refused export is not audited',
    );
  },
);

/** A GET whose body is read only when `read()` is called (so the server's stream waits on us). */
function openDownload(port: number, path: string, authorization: string) {
  return new Promise<{ status: number; res: http.IncomingMessage }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { authorization } }, (res) => {
      res.pause();
      resolve({ status: res.statusCode!, res });
    });
    req.on('error', reject);
  });
}

const drain = (res: http.IncomingMessage) =>
  new Promise<number>((resolve, reject) => {
    let bytes = 0;
    res.on('data', (c: Buffer) => (bytes += c.length));
    res.on('end', () => resolve(bytes));
    res.on('error', reject);
    res.resume();
  });

t.test('a 100,000-row export streams in bounded memory; a third export at once is 429', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const user = await createUser(db, { role: 'manager' });
  const authorization = tokenFor(app, 'manager', user.id);
  await sql`
    INSERT INTO orders (email, customer_name, currency, subtotal, total, shipping_address, status)
    SELECT 'buyer' || i || '@example.test', 'Buyer ' || i, 'NGN', 100000 + i, 100000 + i, '{"city":"Lagos"}', 'pending_payment'
    FROM generate_series(1, 100000) i`.execute(db);
  const today = todayIn(config.SHOP_TIMEZONE);
  const path = `/api/v1/admin/exports/orders.csv?from=${today}&to=${today}`;

  // Two exports held open by clients that do not read: the third is refused.
  const first = await openDownload(port, path, authorization);
  const second = await openDownload(port, path, authorization);
  t.equal(first.status, 200);
  t.equal(second.status, 200);
  const third = await openDownload(port, path, authorization);
  t.equal(third.status, 429);
  t.ok(third.res.headers['retry-after']);
  await drain(third.res);
  await Promise.all([drain(first.res), drain(second.res)]);

  // Slots are given back when an export ends.
  // Live memory (after a full collection) while the export runs: what the export holds, not garbage
  // V8 has not collected yet. The server and the client share this process, so this bounds both.
  // XLSX streams through the same rows (exceljs's streaming writer), but zipping 100,000 rows takes minutes
  // on a busy 2-core machine: the memory bound is checked on CSV.
  for (const format of ['csv']) {
    gc();
    const live = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.external;
    };
    const baseline = live();
    const rssBefore = process.memoryUsage().rss;
    let peak = baseline;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, live());
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 100);
    const download = await openDownload(port, path.replace('.csv', `.${format}`), authorization);
    t.equal(download.status, 200);
    const bytes = await drain(download.res);
    clearInterval(sampler);
    const growthMb = (peak - baseline) / 1024 / 1024;
    t.ok(bytes > 100_000 * (format === 'csv' ? 50 : 10), `${format}: ${bytes} bytes streamed`);
    t.ok(growthMb < 100, `${format}: live memory grew ${growthMb.toFixed(1)} MB for 100,000 rows`);
    t.comment(
      `100k-row ${format} export: ${(bytes / 1024 / 1024).toFixed(1)} MB streamed, live memory +${growthMb.toFixed(1)} MB, RSS +${((rssPeak - rssBefore) / 1024 / 1024).toFixed(1)} MB`,
    );
  }
});
