import { sql } from 'kysely';
import { rm } from 'node:fs/promises';
import t from 'tap';
import { multipartBody } from '../support/multipart.js';
import { startPaymentStack, until } from '../support/payment-fixtures.js';
import { assertProblem } from '../support/problems.js';
import { processAtPaystack, refundRequest } from '../support/refund-fixtures.js';
import { auditCount, deliveredOrder, get, post, returnRow, staff, stock } from './helpers.js';

/**
 * Returns end to end: the customer asks, staff approve and receive, the resolution runs once. Prices: two
 * units at ₦10,000 and one at ₦5,000, ₦2,500 discount, ₦1,687.50 VAT, ₦1,500 shipping: each ₦10,000 unit paid
 * 967,500 kobo (price − 100,000 discount share + 67,500 VAT).
 */
const totals = { discount: 250_000, tax: 168_750, shipping: 150_000 };

t.test('a refund return: requested, approved with shipping, received twice at once: one restock, one refund, then completed', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
  const { db, emu } = stack;
  const order = await deliveredOrder(stack, { quantity: 2, totals, extraLines: [{ price: 500_000, quantity: 1 }] });
  t.equal(order.total, 2_568_750);
  const manager = await staff(stack);

  const asked = await post(stack, `/orders/${order.orderId}/returns`, order.as, {
    items: [{ orderItemId: order.main.id, quantity: 2, reason: 'wrong_size', note: 'too small' }],
    resolution: 'refund',
  });
  t.equal(asked.statusCode, 201, asked.body);
  const ret = asked.json();
  t.match(ret, { status: 'requested', resolution: 'refund', refundEstimate: { amount: 1_935_000, currency: 'NGN' }, refundStatus: null });
  t.match(ret.items, [{ orderItemId: order.main.id, quantity: 2, reason: 'wrong_size', note: 'too small', refund: 1_935_000 }]);
  const outbox = await db.selectFrom('outbox').select(['name', 'payload']).execute();
  t.ok(
    outbox.some((o) => o.name === 'system.notify' && (o.payload as { type: string }).type === 'return.requested'),
    'staff sockets hear of the request',
  );
  t.ok(
    outbox.some((o) => o.name === 'notify.fanout' && (o.payload as { kind: string; permission?: string }).kind === 'return.requested'),
    'staff are notified (in-app, push, mail)',
  );

  const approved = await post(stack, `/admin/returns/${ret.id}/approve`, manager.auth, { refundShipping: true });
  t.equal(approved.statusCode, 200, approved.body);
  t.match(approved.json(), { status: 'approved', refundShipping: true, refundEstimate: { amount: 2_085_000 } });
  t.ok(approved.json().expiresAt, 'the customer has RETURN_SHIP_DAYS to send it');
  t.equal((await stock(db, order.variantId)).onHand, 8, 'two sold');

  const body = {
    items: [
      { orderItemId: order.main.id, quantity: 1, condition: 'resellable' },
      { orderItemId: order.main.id, quantity: 1, condition: 'damaged' },
    ],
  };
  const both = await Promise.all([1, 2].map(() => post(stack, `/admin/returns/${ret.id}/receive`, manager.auth, body)));
  t.same(both.map((r) => r.statusCode).sort(), [200, 409], 'one receive wins');
  assertProblem(t, both.find((r) => r.statusCode === 409)!, 409, 'invalid_transition');
  const received = both.find((r) => r.statusCode === 200)!.json();
  t.match(received, { status: 'received', refundStatus: 'pending', items: [{ resellableQuantity: 1, damagedQuantity: 1 }] });
  t.equal((await stock(db, order.variantId)).onHand, 9, 'the resellable unit restocked once, the damaged one not');
  const refunds = await db.selectFrom('refunds').selectAll().where('orderId', '=', order.orderId).execute();
  t.equal(refunds.length, 1, 'one refund');
  t.match(refunds[0], { amount: 2_085_000, returnId: ret.id, returnAttempt: 1, restock: false });
  t.equal(await auditCount(db, 'return.received', ret.id), 1);
  t.equal(await auditCount(db, 'return.approved', ret.id), 1);

  await processAtPaystack(db, emu, refunds[0].id);
  const done = await until(async () => {
    const r = await returnRow(db, ret.id);
    return r.status === 'completed' && r;
  });
  t.equal(done.refundStatus, 'processed');
  const view = await get(stack, `/returns/${ret.id}`, order.as);
  t.match(view.json(), { status: 'completed', refundStatus: 'processed', refundId: refunds[0].id });
  const o = await db.selectFrom('orders').select(['status', 'amountRefunded']).where('id', '=', order.orderId).executeTakeFirstOrThrow();
  t.same(o, { status: 'partially_refunded', amountRefunded: 2_085_000 });
  const kinds = await db
    .selectFrom('outbox')
    .select(sql<string>`payload->>'key'`.as('key'))
    .where('name', '=', 'notify.fanout')
    .where(sql<string>`payload->>'kind'`, '=', 'return.status_changed')
    .execute();
  t.same(
    kinds.map((k) => k.key.split(':').at(-1)).sort(),
    ['approved', 'completed', 'received', 'requested'],
    'the customer hears of every step, once',
  );

  // The units are in a completed return: asking for them again is over the quantity.
  const again = await post(stack, `/orders/${order.orderId}/returns`, order.as, {
    items: [{ orderItemId: order.main.id, quantity: 1, reason: 'other' }],
    resolution: 'refund',
  });
  assertProblem(t, again, 409, 'return_quantity_exceeded');
});

t.test('two requests for the last unit: 201 and 409; cancelling frees it', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const order = await deliveredOrder(stack, { quantity: 1 });
  const body = { items: [{ orderItemId: order.main.id, quantity: 1, reason: 'changed_mind' }], resolution: 'refund' };
  const both = await Promise.all([1, 2].map(() => post(stack, `/orders/${order.orderId}/returns`, order.as, body)));
  t.same(both.map((r) => r.statusCode).sort(), [201, 409]);
  const lost = assertProblem(t, both.find((r) => r.statusCode === 409)!, 409, 'return_quantity_exceeded');
  t.match(lost.items, [{ orderItemId: order.main.id, requested: 1, returnable: 0 }]);
  const won = both.find((r) => r.statusCode === 201)!.json();

  const cancelled = await post(stack, `/returns/${won.id}/cancel`, order.as);
  t.equal(cancelled.statusCode, 200);
  t.equal(cancelled.json().status, 'cancelled');
  assertProblem(t, await post(stack, `/returns/${won.id}/cancel`, order.as), 409, 'invalid_transition');
  const anew = await post(stack, `/orders/${order.orderId}/returns`, order.as, body);
  t.equal(anew.statusCode, 201, 'the unit is free again');

  // A replayed Idempotency-Key answers the first return and makes no second one.
  const order2 = await deliveredOrder(stack, { quantity: 2 });
  const b2 = { items: [{ orderItemId: order2.main.id, quantity: 1, reason: 'changed_mind' }], resolution: 'refund' };
  const first = await post(stack, `/orders/${order2.orderId}/returns`, order2.as, b2, { 'idempotency-key': 'ret-1' });
  const replay = await post(stack, `/orders/${order2.orderId}/returns`, order2.as, b2, { 'idempotency-key': 'ret-1' });
  t.equal(first.statusCode, 201);
  t.equal(replay.statusCode, 201);
  t.equal(replay.headers['idempotent-replayed'], 'true');
  t.equal(replay.json().id, first.json().id);
  const count = await stack.db.selectFrom('returns').select('id').where('orderId', '=', order2.orderId).execute();
  t.equal(count.length, 1);
});

t.test('the window, undelivered orders, other customers’ orders and bad lines', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db } = stack;
  const late = await deliveredOrder(stack, { deliveredAt: new Date(Date.now() - 8 * 86_400_000) });
  const body = (id: string) => ({ items: [{ orderItemId: id, quantity: 1, reason: 'defective' }], resolution: 'refund' });
  assertProblem(t, await post(stack, `/orders/${late.orderId}/returns`, late.as, body(late.main.id)), 409, 'return_window_closed');

  const inside = await deliveredOrder(stack, { deliveredAt: new Date(Date.now() - 6 * 86_400_000) });
  t.equal((await post(stack, `/orders/${inside.orderId}/returns`, inside.as, body(inside.main.id))).statusCode, 201, 'six days after delivery: open');

  const shipped = await deliveredOrder(stack);
  await db.updateTable('orders').set({ status: 'shipped' }).where('id', '=', shipped.orderId).execute();
  await db.deleteFrom('orderStatusHistory').where('orderId', '=', shipped.orderId).where('toStatus', '=', 'delivered').execute();
  assertProblem(t, await post(stack, `/orders/${shipped.orderId}/returns`, shipped.as, body(shipped.main.id)), 409, 'not_returnable');

  const mine = await deliveredOrder(stack);
  assertProblem(t, await post(stack, `/orders/${mine.orderId}/returns`, inside.as, body(mine.main.id)), 404, 'not_found');
  t.equal((await stack.app.inject({ method: 'POST', url: `/api/v1/orders/${mine.orderId}/returns`, payload: {} })).statusCode, 401);
  assertProblem(t, await post(stack, `/orders/${mine.orderId}/returns`, mine.as, body(inside.main.id)), 400, 'validation_failed');
  assertProblem(
    t,
    await post(stack, `/orders/${mine.orderId}/returns`, mine.as, { ...body(mine.main.id), items: [{ orderItemId: mine.main.id, quantity: 3, reason: 'other' }] }),
    409,
    'return_quantity_exceeded',
  );
  t.equal((await db.selectFrom('returns').select('id').where('orderId', '=', mine.orderId).execute()).length, 0, 'nothing was made');
});

t.test('store credit: received, a refund entry on the ledger in the same transaction, completed at once', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db } = stack;
  const order = await deliveredOrder(stack, { quantity: 2, totals, extraLines: [{ price: 500_000, quantity: 1 }] });
  const manager = await staff(stack);
  const ret = (
    await post(stack, `/orders/${order.orderId}/returns`, order.as, {
      items: [{ orderItemId: order.items.find((i) => i.id !== order.main.id)!.id, quantity: 1, reason: 'not_as_described' }],
      resolution: 'store_credit',
    })
  ).json();
  t.equal(ret.refundEstimate.amount, 483_750);
  t.equal((await post(stack, `/admin/returns/${ret.id}/approve`, manager.auth, {})).statusCode, 200);
  const line = order.items.find((i) => i.id !== order.main.id)!;
  const received = await post(stack, `/admin/returns/${ret.id}/receive`, manager.auth, {
    items: [{ orderItemId: line.id, quantity: 1, condition: 'resellable' }],
  });
  t.equal(received.statusCode, 200, received.body);
  t.match(received.json(), { status: 'completed', creditEntryId: String, refundId: String });
  const entries = await db.selectFrom('creditEntries').selectAll().where('accountId', '=', order.customer.id).execute();
  t.match(entries, [{ kind: 'refund', amount: 483_750, balanceAfter: 483_750, orderId: order.orderId, seq: 1 }]);
  const credit = await get(stack, '/me/credit', order.as);
  t.same(credit.json(), { balance: { amount: 483_750, currency: 'NGN' } });
  t.match(
    await db.selectFrom('refunds').select(['destination', 'status']).where('orderId', '=', order.orderId).execute(),
    [{ destination: 'store_credit', status: 'processed' }],
    'one refund, to store credit, settled at once: it counts toward what the order can still give back',
  );
});

t.test('credit given by a return counts toward what was paid: a later manual refund of everything is refused', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db } = stack;
  const order = await deliveredOrder(stack, { quantity: 2, totals, extraLines: [{ price: 500_000, quantity: 1 }] });
  const manager = await staff(stack);
  const ret = (
    await post(stack, `/orders/${order.orderId}/returns`, order.as, {
      items: [{ orderItemId: order.items.find((i) => i.id !== order.main.id)!.id, quantity: 1, reason: 'not_as_described' }],
      resolution: 'store_credit',
    })
  ).json();
  t.equal((await post(stack, `/admin/returns/${ret.id}/approve`, manager.auth, {})).statusCode, 200);
  const line = order.items.find((i) => i.id !== order.main.id)!;
  const received = await post(stack, `/admin/returns/${ret.id}/receive`, manager.auth, { items: [{ orderItemId: line.id, quantity: 1, condition: 'damaged' }] });
  t.equal(received.statusCode, 200, received.body);
  const all = await refundRequest(stack, order.orderId, { amount: order.total, reason: 'goodwill: all of it' });
  t.equal(all.statusCode, 409, all.body);
  t.equal(all.json().code, 'refund_exceeds_paid');
  const rest = await refundRequest(stack, order.orderId, { amount: order.total - ret.refundEstimate.amount, reason: 'goodwill: the rest' });
  t.equal(rest.statusCode, 202, 'what is left can still be refunded');
  const held = await db.selectFrom('refunds').select(sql<number>`sum(amount)::int8`.as('sum')).where('orderId', '=', order.orderId).where('status', '<>', 'failed').executeTakeFirstOrThrow();
  t.equal(Number(held.sum), order.total, 'refunds and credit together are exactly what was paid');
});

t.test('permissions: customers own their returns; support reads; managers decide; every decision audited', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db } = stack;
  const order = await deliveredOrder(stack, { quantity: 2 });
  const stranger = await deliveredOrder(stack, { quantity: 1 });
  const support = await staff(stack, 'support');
  const manager = await staff(stack, 'manager');
  const admin = await staff(stack, 'admin');
  const ret = (
    await post(stack, `/orders/${order.orderId}/returns`, order.as, {
      items: [{ orderItemId: order.main.id, quantity: 1, reason: 'wrong_item' }],
      resolution: 'refund',
    })
  ).json();
  const missing = '00000000-0000-4000-8000-00000000abcd';
  const callers = { anonymous: undefined, owner: order.as, stranger: stranger.as, support: support.auth, manager: manager.auth, admin: admin.auth };
  const reads: [string, Record<keyof typeof callers, number>][] = [
    [`/returns/${ret.id}`, { anonymous: 401, owner: 200, stranger: 404, support: 200, manager: 200, admin: 200 }],
    [`/orders/${order.orderId}/returns`, { anonymous: 401, owner: 200, stranger: 404, support: 200, manager: 200, admin: 200 }],
    ['/admin/returns?status=requested', { anonymous: 401, owner: 403, stranger: 403, support: 200, manager: 200, admin: 200 }],
  ];
  for (const [url, expected] of reads) {
    for (const [who, auth] of Object.entries(callers)) {
      t.equal((await get(stack, url, auth)).statusCode, expected[who as keyof typeof callers], `GET ${url} as ${who}`);
    }
  }
  for (const action of ['approve', 'reject', 'receive', 'retry-refund']) {
    const url = `/api/v1/admin/returns/${missing}/${action}`;
    const expected = { anonymous: 401, owner: 403, stranger: 403, support: 403, manager: 404, admin: 404 };
    for (const [who, auth] of Object.entries(callers)) {
      const payload = action === 'reject' ? { note: 'no' } : action === 'receive' ? { items: [{ orderItemId: missing, quantity: 1, condition: 'damaged' }] } : {};
      const res = await stack.app.inject({ method: 'POST', url, headers: auth ? { authorization: auth } : {}, payload });
      t.equal(res.statusCode, expected[who as keyof typeof callers], `POST ${action} as ${who}`);
    }
  }
  assertProblem(t, await post(stack, `/returns/${ret.id}/cancel`, stranger.as), 404, 'not_found');
  const list = await get(stack, '/admin/returns?status=requested&limit=1', support.auth);
  t.match(list.json(), { items: [{ id: ret.id }], nextCursor: null });

  assertProblem(t, await post(stack, `/admin/returns/${ret.id}/reject`, manager.auth, { note: '' }), 400, 'validation_failed');
  const rejected = await post(stack, `/admin/returns/${ret.id}/reject`, admin.auth, { note: 'worn' });
  t.match(rejected.json(), { status: 'rejected', note: 'worn' });
  const audit = await db.selectFrom('auditLog').select(['action', 'actorId', 'after']).where('targetId', '=', ret.id).execute();
  t.match(audit, [{ action: 'return.rejected', actorId: admin.id, after: { status: 'rejected', note: 'worn' } }]);
  assertProblem(t, await post(stack, `/admin/returns/${ret.id}/approve`, manager.auth, {}), 409, 'invalid_transition');
  t.equal(await auditCount(db, 'return.approved', ret.id), 0, 'a refused mutation leaves no audit row');
});

const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

t.test('photos: images only (by their bytes), private, bound once to the uploader’s return', async (t) => {
  const dir = `/tmp/returns-media-${process.pid}`;
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const stack = await startPaymentStack(t, { worker: false, env: { MEDIA_DIR: dir } });
  const order = await deliveredOrder(stack, { quantity: 1 });
  const stranger = await deliveredOrder(stack, { quantity: 1 });
  const support = await staff(stack, 'support');
  // One body per request: the boundary is random, so build it once.
  const send = (auth: string, bytes: Buffer, type: string) => {
    const body = multipartBody(bytes, 'torn-seam.png', type);
    return stack.app.inject({ method: 'POST', url: '/api/v1/return-attachments', headers: { authorization: auth, ...body.headers }, payload: body.payload });
  };
  const photo = await send(order.as, png, 'image/png');
  t.equal(photo.statusCode, 201, photo.body);
  t.match(photo.json(), { id: String, mime: 'image/png', filename: 'torn-seam.png' });
  assertProblem(t, await send(order.as, Buffer.from('not an image at all'), 'image/png'), 415, 'unsupported_media_type');

  const id = photo.json<{ id: string }>().id;
  t.equal((await get(stack, `/return-attachments/${id}`, support.auth)).statusCode, 404, 'staff see it once a return carries it');
  assertProblem(
    t,
    await post(stack, `/orders/${stranger.orderId}/returns`, stranger.as, {
      items: [{ orderItemId: stranger.main.id, quantity: 1, reason: 'damaged' }],
      resolution: 'refund',
      attachmentIds: [id],
    }),
    400,
    'validation_failed',
  );
  const ret = await post(stack, `/orders/${order.orderId}/returns`, order.as, {
    items: [{ orderItemId: order.main.id, quantity: 1, reason: 'damaged' }],
    resolution: 'refund',
    attachmentIds: [id],
  });
  t.equal(ret.statusCode, 201, ret.body);
  t.match(ret.json().attachments, [{ id, mime: 'image/png' }]);
  const served = await get(stack, `/return-attachments/${id}`, support.auth);
  t.equal(served.statusCode, 200);
  t.same(served.rawPayload, png);
  t.equal((await get(stack, `/return-attachments/${id}`, order.as)).statusCode, 200);
  t.equal((await get(stack, `/return-attachments/${id}`, stranger.as)).statusCode, 404);
});
