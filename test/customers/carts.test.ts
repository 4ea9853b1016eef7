/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import t from 'tap';
import { purgeGuestCarts, sendCartReminders } from '../../shared/customers/carts.js';
import { unsubscribeUrl } from '../../shared/customers/links.js';
import type { Db } from '../../shared/db/index.js';
import { openData } from '../../shared/mail/render.js';
import { createProduct, createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { assertProblem } from '../support/problems.js';
import { paidOrder } from '../reports/helpers.js';
import { createPendingOrder } from '../support/payment-fixtures.js';

const { config, db } = await testEnv(t, { ABANDONED_CART_HOURS: '24', CART_TTL_DAYS: '30' });
const app = await buildTestApp(t, config);
// The carts' updated_at trigger stamps now() on every update: this file's own database lets the test
// age carts by hand.
await sql`ALTER TABLE carts DISABLE TRIGGER carts_updated_at`.execute(db);
const { variants } = await createProduct(db, [{ price: 250_000, onHand: 50 }, { price: 100_000, onHand: 50 }]);

async function cartOf(db: Db, userId: string | null, lines: [number, number][], hoursAgo: number) {
  const cart = await db.insertInto('carts').values({ userId, tokenHash: userId ? null : `guest-${Math.random()}` }).returning('id').executeTakeFirstOrThrow();
  await setLines(cart.id, lines, hoursAgo);
  return cart.id;
}
async function setLines(cartId: string, lines: [number, number][], hoursAgo: number) {
  await db.deleteFrom('cartItems').where('cartId', '=', cartId).execute();
  for (const [v, quantity] of lines) {
    await db.insertInto('cartItems').values({ cartId, variantId: variants[v].id, quantity, unitPrice: v === 0 ? 250_000 : 100_000 }).execute();
  }
  await db.updateTable('carts').set({ updatedAt: sql`now() - make_interval(hours => ${hoursAgo})` }).where('id', '=', cartId).execute();
}
const reminderMails = (to: string) =>
  db
    .selectFrom('outbox')
    .select(['id', 'payload'])
    .where('name', '=', 'email.send')
    .where(sql<boolean>`payload->>'template' = 'cart-reminder' AND payload->>'to' = ${to}`)
    .execute();

t.test('one reminder per cart contents, to signed-in customers who allow it, after ABANDONED_CART_HOURS', async (t) => {
  const amaka = await createUser(db, { name: 'Amaka' });
  const quiet = await createUser(db);
  const fresh = await createUser(db);
  const amakaCart = await cartOf(db, amaka.id, [[0, 2], [1, 1]], 25);
  await cartOf(db, quiet.id, [[0, 1]], 30);
  await db.insertInto('notificationPreferences').values({ userId: quiet.id, kind: 'cart.reminder', email: false }).execute();
  await cartOf(db, fresh.id, [[0, 1]], 2);
  await cartOf(db, null, [[0, 1]], 48);
  const empty = await createUser(db);
  await cartOf(db, empty.id, [], 48);

  t.equal(await sendCartReminders(db, config), 1, 'only Amaka’s cart is due');
  const mails = await reminderMails(amaka.email);
  t.equal(mails.length, 1);
  const data = openData(config, (mails[0].payload as any).data);
  t.match(data, { name: 'Amaka', itemCount: 3 });
  t.equal(data.unsubscribeUrl, unsubscribeUrl(config, amaka.id, 'cart.reminder'), 'the sealed unsubscribe link');
  t.notMatch(JSON.stringify(mails[0].payload), /token=/, 'no token readable in the outbox');
  const fanout = await db.selectFrom('outbox').select('payload').where('name', '=', 'notify.fanout').execute();
  t.equal(fanout.filter((f: any) => f.payload.kind === 'cart.reminder').length, 1, 'in-app and push through the fan-out');
  const reminder = await db.selectFrom('cartReminders').selectAll().where('cartId', '=', amakaCart).executeTakeFirstOrThrow();
  t.equal(reminder.cartValue, 600_000);

  t.equal(await sendCartReminders(db, config), 0, 'never twice for the same contents');
  // The same contents put back in another order of lines: still the same contents.
  await setLines(amakaCart, [[1, 1], [0, 2]], 26);
  t.equal(await sendCartReminders(db, config), 0);
  // Different contents, left again: one more reminder.
  await setLines(amakaCart, [[0, 3]], 26);
  t.equal(await sendCartReminders(db, config), 1);
  t.equal((await reminderMails(amaka.email)).length, 2);

  // Two runs at once (two workers): one reminder between them.
  await setLines(amakaCart, [[1, 4]], 26);
  const [a, b] = await Promise.all([sendCartReminders(db, config), sendCartReminders(db, config)]);
  t.equal(a + b, 1, 'the unique (cart, contents) decides');
});

t.test('the unsubscribe link works without signing in, and stops the next reminder', async (t) => {
  const user = await createUser(db);
  const link = new URL(unsubscribeUrl(config, user.id, 'cart.reminder'));
  const bad = new URL(link);
  bad.searchParams.set('token', 'x'.repeat(43));
  assertProblem(t, await app.inject({ method: 'GET', url: bad.pathname + bad.search }), 400, 'invalid_token');
  const other = await createUser(db);
  const foreign = new URL(link);
  foreign.searchParams.set('user', other.id);
  assertProblem(t, await app.inject({ method: 'GET', url: foreign.pathname + foreign.search }), 400, 'invalid_token');
  t.equal((await db.selectFrom('notificationPreferences').selectAll().where('userId', 'in', [user.id, other.id]).execute()).length, 0, 'nothing changed');

  const res = await app.inject({ method: 'GET', url: link.pathname + link.search });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { kind: 'cart.reminder', email: false });
  const again = await app.inject({ method: 'POST', url: link.pathname + link.search });
  t.equal(again.statusCode, 200, 'one-click POST, repeatable');
  const prefs = await app.inject({ method: 'GET', url: '/api/v1/me/notification-preferences', headers: { authorization: tokenFor(app, 'customer', user.id) } });
  t.same(prefs.json()['cart.reminder'], { email: false, push: true, inApp: true });

  await cartOf(db, user.id, [[0, 1]], 30);
  t.equal(await sendCartReminders(db, config), 0);
  t.equal((await reminderMails(user.email)).length, 0);
});

t.test('recovery: a paid checkout within 7 days of the reminder, in the abandoned-carts report', async (t) => {
  const manager = await createUser(db, { role: 'manager' });
  const [u1, u2, u3] = [await createUser(db), await createUser(db), await createUser(db)];
  const sent = async (userId: string, at: string) =>
    db.insertInto('cartReminders').values({ cartId: crypto.randomUUID(), userId, contentsHash: crypto.randomUUID(), cartValue: 500_000, sentAt: new Date(at) }).execute();
  await sent(u1.id, '2026-05-10T09:00:00Z');
  await sent(u2.id, '2026-05-10T09:00:00Z');
  await sent(u3.id, '2026-05-11T09:00:00Z');
  const placedAt = async (orderId: string, at: string) => db.updateTable('orders').set({ createdAt: new Date(at) }).where('id', '=', orderId).execute();
  // u1 checks out 3 days later and pays: recovered.
  const o1 = await paidOrder(db, '2026-05-13T10:05:00Z', { userId: u1.id, price: 800_000, quantity: 1 });
  await placedAt(o1.orderId, '2026-05-13T10:00:00Z');
  // u2 checks out after 8 days: not recovered.
  const o2 = await paidOrder(db, '2026-05-18T10:05:00Z', { userId: u2.id, price: 300_000, quantity: 1 });
  await placedAt(o2.orderId, '2026-05-18T10:00:00Z');
  // u3 checks out within the week but never pays: not recovered.
  const o3 = await createPendingOrder(db, { userId: u3.id });
  await placedAt(o3.orderId, '2026-05-12T10:00:00Z');

  const res = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/reports/abandoned-carts?from=2026-05-01&to=2026-05-31',
    headers: { authorization: tokenFor(app, 'manager', manager.id) },
  });
  t.equal(res.statusCode, 200);
  t.match(res.json(), {
    from: '2026-05-01',
    to: '2026-05-31',
    reminded: 3,
    recovered: 1,
    recoveryRate: 0.3333,
    remindedValue: { amount: 1_500_000, currency: 'NGN' },
    revenue: { amount: 800_000, currency: 'NGN' },
    source: 'primary',
  });
  const day = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/reports/abandoned-carts?from=2026-05-11&to=2026-05-11',
    headers: { authorization: tokenFor(app, 'manager', manager.id) },
  });
  t.match(day.json(), { reminded: 1, recovered: 0 }, 'reminders count on the shop day they were sent');
  const reversed = await app.inject({
    method: 'GET',
    url: '/api/v1/admin/reports/abandoned-carts?from=2026-05-11&to=2026-05-01',
    headers: { authorization: tokenFor(app, 'manager', manager.id) },
  });
  assertProblem(t, reversed, 400, 'validation_failed');
});

t.test('stale guest carts are deleted in batches, never one that is checking out', async (t) => {
  const stale = [];
  for (let i = 0; i < 5; i++) stale.push(await cartOf(db, null, [[0, 1]], 31 * 24));
  const recent = await cartOf(db, null, [[0, 1]], 29 * 24);
  const customer = await createUser(db);
  const customersOld = await cartOf(db, customer.id, [[0, 1]], 60 * 24);
  // Checking out: its order waits for payment.
  const paying = await cartOf(db, null, [[0, 1]], 31 * 24);
  const order = await createPendingOrder(db);
  await db.updateTable('orders').set({ cartId: paying }).where('id', '=', order.orderId).execute();
  // Checking out: the request is still running (its idempotency key).
  const running = await cartOf(db, null, [[0, 1]], 31 * 24);
  const { tokenHash: runningToken } = await db.selectFrom('carts').select('tokenHash').where('id', '=', running).executeTakeFirstOrThrow();
  await db.insertInto('idempotencyKeys').values({ scope: 'checkout', owner: `cart-token:${runningToken}`, key: 'k1', requestHash: 'h', state: 'running' }).execute();
  // Checking out this instant: a checkout transaction holds the cart's row.
  const locked = await cartOf(db, null, [[0, 1]], 31 * 24);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let lockTaken!: () => void;
  const taken = new Promise<void>((r) => (lockTaken = r));
  const holder = db.transaction().execute(async (trx) => {
    await trx.selectFrom('carts').select('id').where('id', '=', locked).forUpdate().execute();
    lockTaken();
    await held;
  });
  await taken;

  const deleted = await purgeGuestCarts(db, config.CART_TTL_DAYS, 2);
  release();
  await holder;
  t.equal(deleted, 5, 'five stale carts, in batches of two');
  const left = new Set((await db.selectFrom('carts').select('id').execute()).map((c) => c.id));
  t.ok(stale.every((id) => !left.has(id)), 'the stale ones are gone');
  t.equal((await db.selectFrom('cartItems').select('id').where('cartId', 'in', stale).execute()).length, 0, 'their lines too');
  for (const [name, id] of Object.entries({ recent, customersOld, paying, running, locked })) t.ok(left.has(id), `${name} is spared`);
});
