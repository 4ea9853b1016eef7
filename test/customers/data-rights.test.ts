/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import t from 'tap';
import { purgeExpiredExports, runDataExport } from '../../shared/customers/data-export.js';
import { matchesPersonalPattern, personalColumns } from '../../shared/customers/personal-data.js';
import { postEntry } from '../../shared/credit/ledger.js';
import type { Db } from '../../shared/db/index.js';
import { enqueueMail } from '../../shared/mail/enqueue.js';
import { openData } from '../../shared/mail/render.js';
import { privateFiles } from '../../shared/media/files.js';
import { createProduct, createUser, PASSWORD } from '../support/fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { assertProblem } from '../support/problems.js';
import { createPendingOrder } from '../support/payment-fixtures.js';
import { ledger, paidOrder, refundOrder } from '../reports/helpers.js';

const { config, db } = await testEnv(t);
const app = await buildTestApp(t, config);
const files = await privateFiles(config);

/** Values no other row of the database can hold by chance, one set per customer. */
function personOf(tag: string) {
  const digits = String(Math.floor(Math.random() * 90_000) + 10_000);
  return { NAME: `Ngozi Okonjo-${tag}`, PHONE: `+234809${digits}77`, LINE1: `42 ${tag} Crescent`, CITY: `${tag}town` };
}

/** A customer with something in every place personal data lives. */
async function richCustomer(db: Db, email: string, { NAME, PHONE, LINE1, CITY } = personOf('Zebra')) {
  const user = await createUser(db, { email, name: NAME });
  await db.updateTable('users').set({ phone: PHONE }).where('id', '=', user.id).execute();
  await db
    .insertInto('userAddresses')
    .values({ userId: user.id, name: NAME, line1: LINE1, city: CITY, state: 'Lagos', country: 'NG', phone: PHONE, label: 'Home', isDefault: true })
    .execute();
  const order = await paidOrder(db, '2026-04-02T10:00:00Z', { userId: user.id, email, price: 2_000_000, quantity: 1 });
  await db
    .updateTable('orders')
    .set({ customerName: NAME, clientAddress: '10.9.8.7', shippingAddress: JSON.stringify({ name: NAME, phone: PHONE, line1: LINE1, city: CITY, state: 'Lagos', country: 'NG' }) })
    .where('id', '=', order.orderId)
    .execute();
  await refundOrder(db, order.orderId, 500_000, '2026-04-03T10:00:00Z');
  await db.updateTable('orders').set({ status: 'delivered' }).where('id', '=', order.orderId).execute();
  const { product } = await createProduct(db);
  await db.insertInto('reviews').values({ productId: product.id, authorId: user.id, rating: 5, title: 'Lovely fabric', body: 'True to size', state: 'pending' }).execute();
  const conv = await db.insertInto('supportConversations').values({ customerId: user.id, subject: 'Sizing', lastSeq: 1 }).returning('id').executeTakeFirstOrThrow();
  const message = await db.insertInto('supportMessages').values({ conversationId: conv.id, seq: 1, authorId: user.id, kind: 'message', body: 'Does the M run small?' }).returning('id').executeTakeFirstOrThrow();
  await db.insertInto('supportAttachments').values({ conversationId: conv.id, messageId: message.id, uploaderId: user.id, key: `support/${crypto.randomUUID()}.png`, filename: `${NAME}-receipt.png`, mime: 'image/png', size: 10 }).execute();
  await db.insertInto('notifications').values({ userId: user.id, eventKey: `k-${user.id}`, kind: 'support.reply', title: `Hello ${NAME}`, body: 'We answered', data: JSON.stringify({ phone: PHONE }) }).execute();
  await db.insertInto('notificationPreferences').values({ userId: user.id, kind: 'support.reply', push: false }).execute();
  await db.transaction().execute(async (trx) => {
    await postEntry(trx, { userId: user.id, amount: 150_000, kind: 'grant', reason: 'goodwill' });
    await enqueueMail(trx, null, 'notification', email, { name: NAME, title: 'Unsent', body: 'never sent' });
  });
  await db.insertInto('customerNotes').values({ customerId: user.id, body: `${NAME} calls often`, authorId: null }).execute();
  await db.updateTable('customerProfiles').set({ tags: [`${CITY.toLowerCase()}-regular`] }).where('userId', '=', user.id).execute();
  const cart = await db.insertInto('carts').values({ userId: user.id }).returning('id').executeTakeFirstOrThrow();
  await db.insertInto('idempotencyKeys').values({ scope: 'checkout', owner: user.id, key: 'k', requestHash: 'h', state: 'done', responseBody: JSON.stringify({ email }) }).execute();
  await db.insertInto('couponRedemptions').values({ couponId: (await db.insertInto('coupons').values({ code: `C${Date.now()}`, kind: 'fixed', value: 100 }).returning('id').executeTakeFirstOrThrow()).id, orderId: order.orderId, email, userId: user.id }).execute();
  await db.insertInto('emailDeliveries').values({ jobId: crypto.randomUUID(), recipient: email, template: 'welcome' }).execute();
  await db.insertInto('webhookEvents').values({ event: 'charge.success', eventKey: `e-${order.reference}`, payload: JSON.stringify({ event: 'charge.success', data: { reference: order.reference, amount: 2_000_000, customer: { email, first_name: NAME, phone: PHONE } } }) }).execute();
  return { user, order, cartId: cart.id, conversationId: conv.id, NAME, PHONE, LINE1, CITY };
}

const login = async (email: string, password = PASSWORD) => {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  return res.json().accessToken as string;
};

t.test('data export: 202, one a day, an archive of everything, mailed as a signed link that expires', async (t) => {
  const email = 'export.me@example.test';
  const { user, NAME, PHONE, LINE1 } = await richCustomer(db, email, personOf('Quokka'));
  const auth = { authorization: tokenFor(app, 'customer', user.id) };
  assertProblem(t, await app.inject({ method: 'POST', url: '/api/v1/me/data-export' }), 401, 'unauthorized');
  const res = await app.inject({ method: 'POST', url: '/api/v1/me/data-export', headers: auth });
  t.equal(res.statusCode, 202);
  t.match(res.json(), { id: String, status: 'pending' });
  const again = await app.inject({ method: 'POST', url: '/api/v1/me/data-export', headers: auth });
  assertProblem(t, again, 429, 'rate_limited');
  t.ok(Number(again.headers['retry-after']) > 23 * 3600, 'Retry-After: about a day');

  const job = await db.selectFrom('outbox').select('payload').where('name', '=', 'customers.data-export').executeTakeFirstOrThrow();
  const exportId = (job.payload as any).exportId;
  t.equal(exportId, res.json().id);
  t.match(await runDataExport(db, files, config, exportId), { skipped: false });
  t.match(await runDataExport(db, files, config, exportId), { skipped: true }, 'a second run sends nothing');

  const mails = await db.selectFrom('outbox').select('payload').where('name', '=', 'email.send').where(sql<boolean>`payload->>'template' = 'data-export'`).execute();
  t.equal(mails.length, 1, 'one mail');
  t.notMatch(JSON.stringify(mails[0].payload), /token=/, 'the link is sealed in the outbox');
  const link = new URL(openData(config, (mails[0].payload as any).data).link as string);
  const download = await app.inject({ method: 'GET', url: link.pathname + link.search });
  t.equal(download.statusCode, 200, 'no sign-in needed');
  t.equal(download.headers['cache-control'], 'private, no-store');
  const archive = download.json();
  t.equal(archive.account.email, email);
  t.equal(archive.account.phone, PHONE);
  t.notOk('passwordHash' in archive.account, 'no hashes or secrets');
  t.equal(archive.addresses[0].line1, LINE1);
  t.equal(archive.orders.length, 1);
  t.equal(archive.orders[0].items.length, 1);
  t.equal(archive.orders[0].refunds[0].amount, 500_000);
  t.equal(archive.reviews[0].title, 'Lovely fabric');
  t.equal(archive.conversations[0].messages[0].body, 'Does the M run small?');
  t.equal(archive.credit.entries[0].amount, 150_000);
  t.equal(archive.notifications[0].title, `Hello ${NAME}`);

  const tampered = new URL(link);
  tampered.searchParams.set('expires', String(Number(link.searchParams.get('expires')) + 3600));
  assertProblem(t, await app.inject({ method: 'GET', url: tampered.pathname + tampered.search }), 404, 'not_found');

  // 24 hours later: the link is refused and the housekeeping deletes the file.
  await db.updateTable('dataExports').set({ expiresAt: sql`now() - interval '1 second'` }).where('id', '=', exportId).execute();
  assertProblem(t, await app.inject({ method: 'GET', url: link.pathname + link.search }), 410, 'link_expired');
  const row = await db.selectFrom('dataExports').selectAll().where('id', '=', exportId).executeTakeFirstOrThrow();
  t.ok(await files.get(row.storageKey!), 'stored until the housekeeping runs');
  t.equal(await purgeExpiredExports(db, files), 1);
  t.equal(await files.get(row.storageKey!), undefined, 'deleted from the media host');
  t.equal(await purgeExpiredExports(db, files), 0);
});

t.test('erasure: password, open orders, and every personal field gone while the books still balance', async (t) => {
  const email = 'erase.me@example.test';
  const { user, order, NAME, PHONE, LINE1, CITY } = await richCustomer(db, email, personOf('Zebra'));
  const token = await login(email);
  const auth = { authorization: `Bearer ${token}` };
  const manager = await createUser(db, { role: 'manager' });
  const report = async () =>
    (await app.inject({ method: 'GET', url: '/api/v1/admin/reports/sales?from=2026-04-01&to=2026-04-30', headers: { authorization: tokenFor(app, 'manager', manager.id) } })).json().totals;
  const before = {
    report: await report(),
    ledger: await ledger(db, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'),
    profile: await db.selectFrom('customerProfiles').select(['ordersCount', 'paid', 'refunded', 'totalSpent']).where('userId', '=', user.id).executeTakeFirstOrThrow(),
    order: await db.selectFrom('orders').select(['total', 'subtotal', 'tax', 'amountPaid', 'amountRefunded', 'number', 'status']).where('id', '=', order.orderId).executeTakeFirstOrThrow(),
    credit: await db.selectFrom('creditAccounts').select('balance').where('userId', '=', user.id).executeTakeFirstOrThrow(),
  };

  assertProblem(t, await app.inject({ method: 'DELETE', url: '/api/v1/me', payload: { password: 'x' } }), 401, 'unauthorized');
  assertProblem(t, await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: auth, payload: { password: 'wrong password!' } }), 401, 'invalid_credentials');
  // An unpaid order (even a guest one with their address) is open: refused, nothing changes.
  const open = await createPendingOrder(db, { email });
  const movements = await db.selectFrom('inventoryMovements').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
  const refused = assertProblem(t, await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: auth, payload: { password: PASSWORD } }), 409, 'open_orders');
  t.same((refused as any).orders, [open.number]);
  t.equal((await db.selectFrom('users').select('email').where('id', '=', user.id).executeTakeFirstOrThrow()).email, email, 'nothing erased');
  // Paid but not shipped is open too.
  await db.updateTable('orders').set({ status: 'cancelled' }).where('id', '=', open.orderId).execute();
  await db.updateTable('orders').set({ status: 'processing' }).where('id', '=', order.orderId).execute();
  assertProblem(t, await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: auth, payload: { password: PASSWORD } }), 409, 'open_orders');
  await db.updateTable('orders').set({ status: 'delivered' }).where('id', '=', order.orderId).execute();

  const res = await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: auth, payload: { password: PASSWORD } });
  t.equal(res.statusCode, 202, res.body);
  t.match(res.json(), { status: 'accepted', erasedAt: String });

  // Signed out everywhere at once; nobody signs in again.
  assertProblem(t, await app.inject({ method: 'GET', url: '/api/v1/me', headers: auth }), 401, 'unauthorized');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: PASSWORD } })).statusCode, 401);

  // No trace of the person's values anywhere in the database (every text and JSON column of every table).
  const { rows: columns } = await sql<{ t: string; c: string }>`
    SELECT c.table_name AS t, c.column_name AS c FROM information_schema.columns c
    JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
    WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'USER-DEFINED', 'ARRAY')
  `.execute(db);
  const needles = [email, NAME, PHONE, PHONE.slice(1), LINE1, CITY];
  const found: string[] = [];
  for (const { t: table, c: column } of columns) {
    for (const needle of needles) {
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE ${sql.ref(column)}::text ILIKE ${`%${needle}%`}
      `.execute(db);
      if (rows[0].n) found.push(`${table}.${column} holds ${needle}`);
    }
  }
  t.same(found, [], 'erased everywhere');

  // Kept: amounts, lines, the invoice number, the ledger, stock movements; the reports agree to the kobo.
  t.same(await report(), before.report, 'the sales report is unchanged');
  t.same(await ledger(db, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'), before.ledger, 'the payment ledger is unchanged');
  t.same(
    await db.selectFrom('customerProfiles').select(['ordersCount', 'paid', 'refunded', 'totalSpent']).where('userId', '=', user.id).executeTakeFirstOrThrow(),
    before.profile,
  );
  t.same(await db.selectFrom('orders').select(['total', 'subtotal', 'tax', 'amountPaid', 'amountRefunded', 'number', 'status']).where('id', '=', order.orderId).executeTakeFirstOrThrow(), before.order);
  t.same(await db.selectFrom('creditAccounts').select('balance').where('userId', '=', user.id).executeTakeFirstOrThrow(), before.credit);
  t.same(await db.selectFrom('inventoryMovements').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(), movements);
  const erasedOrder = await db.selectFrom('orders').select(['shippingAddress', 'email', 'clientAddress', 'customerName']).where('id', '=', order.orderId).executeTakeFirstOrThrow();
  t.same([erasedOrder.clientAddress, erasedOrder.customerName, erasedOrder.email], [null, null, `erased+${user.id}@erased.invalid`]);
  t.match(erasedOrder.shippingAddress, { country: 'NG', line1: 'erased' }, 'the order still has an address shape');
  const staffView = await app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}`, headers: { authorization: tokenFor(app, 'manager', manager.id) } });
  t.equal(staffView.statusCode, 200, 'staff can still open the order');

  // Sessions, devices and tokens gone; unsent mail never leaves; the rest withdrawn by a job.
  t.equal((await db.selectFrom('sessions').select('id').where('userId', '=', user.id).where('revokedAt', 'is', null).execute()).length, 0);
  t.equal((await db.selectFrom('devices').select('id').where('userId', '=', user.id).execute()).length, 0);
  t.equal((await db.selectFrom('outbox').select('id').where('name', '=', 'customers.withdraw-mail').execute()).length, 1);

  // Audited, without the erased values.
  const audit = await db.selectFrom('auditLog').selectAll().where('action', '=', 'account.erased').executeTakeFirstOrThrow();
  t.equal(audit.targetId, user.id);
  t.notMatch(JSON.stringify(audit), new RegExp(`${email}|${NAME}|${PHONE.slice(1)}`), 'no erased value in the audit row');
  t.ok((audit.after as any).orders >= 1, 'what was done, counted');

  t.same((await db.selectFrom('customerProfiles').select('tags').where('userId', '=', user.id).executeTakeFirstOrThrow()).tags, [], 'staff tags cleared');
  const staff = await createUser(db, { role: 'support' });
  assertProblem(
    t,
    await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: { authorization: tokenFor(app, 'support', staff.id) }, payload: { password: PASSWORD } }),
    403,
    'forbidden',
  );
  // Any token of the account, even one made after the erasure without its generation, is refused.
  assertProblem(t, await app.inject({ method: 'DELETE', url: '/api/v1/me', headers: { authorization: tokenFor(app, 'customer', user.id) }, payload: { password: PASSWORD } }), 401, 'unauthorized');
});

t.test('every column with a personal name is classified: a new one fails here until erasure handles it', async (t) => {
  const { rows } = await sql<{ t: string; c: string }>`
    SELECT c.table_name AS t, c.column_name AS c FROM information_schema.columns c
    JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
    WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'USER-DEFINED', 'ARRAY', 'inet')
  `.execute(db);
  const all = new Set(rows.map((r) => `${r.t}.${r.c}`));
  const personal = rows.filter((r) => matchesPersonalPattern(r.c)).map((r) => `${r.t}.${r.c}`);
  t.ok(personal.length > 30, 'the patterns find the personal columns');
  t.same(personal.filter((k) => !(k in personalColumns)).sort(), [], 'every personal column is classified in shared/customers/personal-data.ts');
  t.same(Object.keys(personalColumns).filter((k) => !all.has(k)).sort(), [], 'no classification of a column that is gone');
});
