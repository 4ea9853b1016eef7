/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import t from 'tap';
import { createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { assertProblem } from '../support/problems.js';
import { createPendingOrder } from '../support/payment-fixtures.js';
import { ledger, paidOrder, payOrder, refundOrder } from '../reports/helpers.js';

const { config, db } = await testEnv(t);
const app = await buildTestApp(t, config);
const manager = await createUser(db, { role: 'manager', name: 'Mgr Nkem' });
const support = await createUser(db, { role: 'support' });
const as = (u: { id: string; role: any }) => ({ authorization: tokenFor(app, u.role, u.id) });
const get = (url: string, who: { id: string; role: any } = manager) => app.inject({ method: 'GET', url, headers: as(who) });

// Four customers with known histories, paid at known instants.
const ada = await createUser(db, { email: 'ada.obi@example.test', name: 'Ada Obi' });
const bola = await createUser(db, { email: 'bola@example.test', name: 'Bola Tinubu-Ade' });
const chidi = await createUser(db, { email: 'chidi@example.test', name: 'Chidi Eze' });
const dayo = await createUser(db, { email: 'dayo@example.test', name: 'Dayo Ola' });
await db.updateTable('users').set({ phone: '+2348031234567' }).where('id', '=', chidi.id).execute();

// Ada: two paid orders (3,000,000 + 1,000,000), one refunded 400,000 → spent 3,600,000, 2 orders.
const ada1 = await paidOrder(db, '2026-03-01T10:00:00Z', { userId: ada.id, price: 1_500_000, quantity: 2 });
await paidOrder(db, '2026-03-02T10:00:00Z', { userId: ada.id, price: 1_000_000, quantity: 1 });
await refundOrder(db, ada1.orderId, 400_000, '2026-03-03T10:00:00Z');
// Bola: three paid orders of 500,000 → spent 1,500,000, 3 orders; one more unpaid (not counted).
for (const day of ['04', '05', '06']) await paidOrder(db, `2026-03-${day}T10:00:00Z`, { userId: bola.id, price: 500_000, quantity: 1 });
const bolaPending = await createPendingOrder(db, { userId: bola.id, price: 9_000_000, quantity: 1 });
// Chidi: one order fully refunded → spent 0, 1 order.
const chidi1 = await paidOrder(db, '2026-03-07T10:00:00Z', { userId: chidi.id, price: 700_000, quantity: 1 });
await refundOrder(db, chidi1.orderId, 700_000, '2026-03-08T10:00:00Z');
// A guest order (no account) counts for nobody.
await paidOrder(db, '2026-03-09T10:00:00Z', { price: 123_456, quantity: 1 });

t.test('permissions: anonymous 401, customer 403, support reads, manager writes', async (t) => {
  const customer = await createUser(db);
  const anon = await app.inject({ method: 'GET', url: '/api/v1/admin/customers' });
  assertProblem(t, anon, 401, 'unauthorized');
  assertProblem(t, await get('/api/v1/admin/customers', customer), 403, 'forbidden');
  t.equal((await get('/api/v1/admin/customers', support)).statusCode, 200, 'support has customer:read');
  t.equal((await get(`/api/v1/admin/customers/${ada.id}`, support)).statusCode, 200);
  const note = (who: any) => app.inject({ method: 'POST', url: `/api/v1/admin/customers/${ada.id}/notes`, headers: as(who), payload: { body: 'x' } });
  assertProblem(t, await note(support), 403, 'forbidden');
  assertProblem(t, await note(customer), 403, 'forbidden');
  const tags = (who: any) => app.inject({ method: 'PUT', url: `/api/v1/admin/customers/${dayo.id}/tags`, headers: as(who), payload: { tags: [] } });
  assertProblem(t, await tags(support), 403, 'forbidden');
  t.equal((await tags(manager)).statusCode, 200, 'manager has customer:write');
  const anonWrite = await app.inject({ method: 'POST', url: `/api/v1/admin/customers/${ada.id}/notes`, payload: { nonsense: true } });
  assertProblem(t, anonWrite, 401, 'unauthorized');
  assertProblem(t, await get('/api/v1/admin/reports/abandoned-carts', support), 403, 'forbidden');
  t.equal((await get('/api/v1/admin/reports/abandoned-carts', manager)).statusCode, 200, 'report:read');
  assertProblem(t, await get(`/api/v1/admin/customers/${manager.id}`), 404, 'not_found');
  assertProblem(t, await get('/api/v1/admin/customers/00000000-0000-4000-8000-00000000abcd'), 404, 'not_found');
});

t.test('figures: orders that became paid, spent = paid − refunded to the kobo, agreeing with the ledger', async (t) => {
  const res = await get('/api/v1/admin/customers?sort=spent&limit=100');
  t.equal(res.statusCode, 200);
  const byId = new Map(res.json().items.map((c: any) => [c.id, c]));
  const fig = (id: string) => {
    const c: any = byId.get(id);
    return [c.ordersCount, c.totalSpent.amount, c.totalSpent.currency];
  };
  t.same(fig(ada.id), [2, 3_600_000, 'NGN']);
  t.same(fig(bola.id), [3, 1_500_000, 'NGN']);
  t.same(fig(chidi.id), [1, 0, 'NGN']);
  t.same(fig(dayo.id), [0, 0, 'NGN']);
  t.notOk(byId.has(manager.id), 'staff are not customers');
  t.equal((byId.get(bola.id) as any).lastOrderAt, (await db.selectFrom('orders').select('createdAt').where('id', '=', bolaPending.orderId).executeTakeFirstOrThrow()).createdAt.toISOString(), 'the newest order placed');

  // The payment ledger of every account-holder's order, summed without the rollup, equals Σ totalSpent;
  // with the guest order the ledger equals the sales report's net.
  const { rows } = await sql<{ paid: number; refunded: number }>`
    SELECT (SELECT coalesce(sum(p.paid_amount), 0)::bigint FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.status = 'success' AND o.user_id IS NOT NULL) AS paid,
           (SELECT coalesce(sum(rp.amount), 0)::bigint FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id AND p.status = 'success'
              JOIN orders o ON o.id = p.order_id WHERE rp.status = 'processed' AND o.user_id IS NOT NULL) AS refunded`.execute(db);
  const spent = res.json().items.reduce((s: number, c: any) => s + c.totalSpent.amount, 0);
  t.equal(spent, rows[0].paid - rows[0].refunded);
  const all = await ledger(db, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z');
  const report = await get('/api/v1/admin/reports/sales?from=2026-03-01&to=2026-03-31');
  t.equal(report.json().totals.net, all.paid - all.refunded);
  t.equal(report.json().totals.net - spent, 123_456, 'the report and the customers differ by exactly the guest order');

  // A second refund moves the figure at once (the trigger, not a nightly job).
  await refundOrder(db, ada1.orderId, 100_000);
  const after = await get(`/api/v1/admin/customers/${ada.id}`);
  t.equal(after.json().totalSpent.amount, 3_500_000);
  // The profile rows agree with a recomputation from the rows.
  const before = await db.selectFrom('customerProfiles').selectAll().orderBy('userId').execute();
  await sql`SELECT customer_profile_refresh(id) FROM users`.execute(db);
  t.same(await db.selectFrom('customerProfiles').selectAll().orderBy('userId').execute(), before, 'deltas = recomputation');
});

t.test('sorts and the cursor walk every customer once, in order', async (t) => {
  const extra = [];
  for (let i = 0; i < 7; i++) extra.push(await createUser(db, { email: `walk${i}@example.test`, name: `Walker ${i}` }));
  for (const sort of ['recent', 'spent', 'orders'] as const) {
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/api/v1/admin/customers?sort=${sort}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      t.equal(res.statusCode, 200);
      seen.push(...res.json().items);
      cursor = res.json().nextCursor;
    } while (cursor);
    const ids = seen.map((c) => c.id);
    t.equal(new Set(ids).size, ids.length, `${sort}: nobody twice`);
    const total = await db.selectFrom('users').select(sql<number>`count(*)::int`.as('n')).where('role', '=', 'customer').executeTakeFirstOrThrow();
    t.equal(ids.length, total.n, `${sort}: everybody`);
    if (sort === 'spent') {
      const amounts = seen.map((c) => c.totalSpent.amount);
      t.same(amounts, [...amounts].sort((a, b) => b - a), 'spent: most first');
      t.same(ids.slice(0, 2), [ada.id, bola.id]);
    }
    if (sort === 'orders') {
      t.same(ids.slice(0, 3), [bola.id, ada.id, chidi.id]);
    }
    if (sort === 'recent') {
      t.equal(ids[0], extra[6].id, 'recent: the newest activity first (a sign-up counts)');
    }
  }
  assertProblem(t, await get('/api/v1/admin/customers?cursor=bm90LWEtY3Vyc29y'), 400, 'invalid_cursor');
  assertProblem(t, await get('/api/v1/admin/customers?sort=name'), 400, 'validation_failed');
});

t.test('search by email, name, phone (local form too) and order number', async (t) => {
  const ids = async (q: string) => (await get(`/api/v1/admin/customers?q=${encodeURIComponent(q)}`)).json().items.map((c: any) => c.id);
  t.same(await ids('ada.obi@'), [ada.id], 'email');
  t.same(await ids('tinubu'), [bola.id], 'name, any case');
  t.same(await ids('08031234567'), [chidi.id], 'phone in local form');
  t.same(await ids('+234 803 123'), [chidi.id], 'phone in part');
  const number = (await db.selectFrom('orders').select('number').where('id', '=', chidi1.orderId).executeTakeFirstOrThrow()).number;
  t.same(await ids(number.toLowerCase()), [chidi.id], 'order number');
  t.same(await ids('nobody-like-this'), []);
  t.same(await ids('100%_'), [], 'LIKE wildcards are literal');
});

t.test('a search is walked page by page in the sort order; a customer who matches two ways appears once', async (t) => {
  // 'example.test' is in every email; chidi's phone holds 8031234, and so does one more email.
  const twice = await createUser(db, { email: 'p8031234@example.test', name: 'Phone Twin' });
  await db.updateTable('users').set({ phone: '+2348031234000' }).where('id', '=', twice.id).execute();
  for (const [q, sort] of [['example.test', 'spent'], ['example.test', 'orders'], ['8031234', 'recent']] as const) {
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/api/v1/admin/customers?q=${q}&sort=${sort}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      t.equal(res.statusCode, 200);
      seen.push(...res.json().items);
      cursor = res.json().nextCursor;
    } while (cursor);
    const all = (await get(`/api/v1/admin/customers?sort=${sort}&limit=100`)).json().items.filter(
      (c: any) => `${c.email} ${c.name}`.toLowerCase().includes(q) || (c.phone ?? '').includes(q),
    );
    t.same(seen.map((c) => c.id), all.map((c: any) => c.id), `${q} by ${sort}: every match once, in the order of the whole list`);
  }
});

t.test('tags: lowercase, deduplicated, at most 20, audited; the tag filter', async (t) => {
  const put = (id: string, tags: unknown) => app.inject({ method: 'PUT', url: `/api/v1/admin/customers/${id}/tags`, headers: as(manager), payload: { tags } });
  const res = await put(ada.id, ['VIP', ' vip ', 'Lagos Island']);
  t.equal(res.statusCode, 200);
  t.same(res.json().tags, ['lagos island', 'vip']);
  await put(bola.id, ['wholesale']);
  const vip = await get('/api/v1/admin/customers?tag=VIP');
  t.same(vip.json().items.map((c: any) => c.id), [ada.id]);
  t.same(vip.json().items[0].tags, ['lagos island', 'vip']);
  assertProblem(t, await put(ada.id, Array.from({ length: 21 }, (_, i) => `t${i}`)), 400, 'validation_failed');
  assertProblem(t, await put(ada.id, ['no<script>']), 400, 'validation_failed');
  const audit = await db.selectFrom('auditLog').selectAll().where('action', '=', 'customer.tags_set').where('targetId', '=', ada.id).execute();
  t.equal(audit.length, 1, 'one audit row per change, none for refused ones');
  t.same(audit[0].after, { tags: ['lagos island', 'vip'] });
  t.equal(audit[0].actorId, manager.id);
});

t.test('notes are staff-only, audited without their text; the profile shows the whole relationship', async (t) => {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/admin/customers/${ada.id}/notes`,
    headers: as(manager),
    payload: { body: 'Prefers delivery after 5pm; husband collects.' },
  });
  t.equal(res.statusCode, 201);
  t.match(res.json(), { body: 'Prefers delivery after 5pm; husband collects.', author: { id: manager.id, name: 'Mgr Nkem' } });
  const audit = await db.selectFrom('auditLog').selectAll().where('action', '=', 'customer.note_added').executeTakeFirstOrThrow();
  t.equal(audit.targetId, ada.id);
  t.notMatch(JSON.stringify(audit), /husband/, 'the audit row names the note, not what it says');

  await db
    .insertInto('userAddresses')
    .values({ userId: ada.id, name: 'Ada Obi', line1: '1 Marina', city: 'Lagos', state: 'Lagos', country: 'NG', phone: '+2348000000001', isDefault: true })
    .execute();
  await db.insertInto('supportConversations').values({ customerId: ada.id, subject: 'Where is my order?' }).execute();
  await db.insertInto('creditAccounts').values({ userId: ada.id, balance: 0 }).execute();

  const profile = await get(`/api/v1/admin/customers/${ada.id}`, support);
  t.equal(profile.statusCode, 200);
  const p = profile.json();
  t.equal(p.email, 'ada.obi@example.test');
  t.equal(p.addresses.length, 1);
  t.equal(p.recentOrders.length, 2);
  t.ok(p.recentOrders.every((o: any) => o.status && o.number && o.currency === 'NGN'));
  t.same(p.conversations.map((c: any) => c.subject), ['Where is my order?']);
  t.same(p.credit, { balance: { amount: 0, currency: 'NGN' } });
  t.same(p.notes.map((n: any) => n.body), ['Prefers delivery after 5pm; husband collects.']);
  t.same(p.returns, [], 'no returns (or no returns table yet)');
  assertProblem(
    t,
    await app.inject({ method: 'POST', url: `/api/v1/admin/customers/${ada.id}/notes`, headers: as(manager), payload: { body: '   ' } }),
    400,
    'validation_failed',
  );
});

t.test('twelve payments and refunds of one customer committing at once all count (deltas, not snapshots)', async (t) => {
  const buyer = await createUser(db);
  const orders = [];
  for (let i = 0; i < 12; i++) orders.push(await createPendingOrder(db, { userId: buyer.id, price: 100_000 + i, quantity: 1 }));
  await Promise.all(orders.map((o) => payOrder(db, o, '2026-06-01T10:00:00Z')));
  await Promise.all(orders.slice(0, 6).map((o) => refundOrder(db, o.orderId, 1_000)));
  const paid = orders.reduce((s, o) => s + o.total, 0);
  const res = await get(`/api/v1/admin/customers/${buyer.id}`);
  t.equal(res.json().ordersCount, 12);
  t.equal(res.json().totalSpent.amount, paid - 6_000);
  const before = await db.selectFrom('customerProfiles').selectAll().where('userId', '=', buyer.id).executeTakeFirstOrThrow();
  await sql`SELECT customer_profile_refresh(${buyer.id}::uuid)`.execute(db);
  t.same(await db.selectFrom('customerProfiles').selectAll().where('userId', '=', buyer.id).executeTakeFirstOrThrow(), before, 'equal to a recomputation');
});
