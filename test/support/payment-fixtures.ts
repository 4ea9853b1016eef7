import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Test } from 'tap';
import type { Db } from '../../shared/db/index.js';
import { createPaystackClient, type PaystackClient } from '../../shared/integrations/paystack/client.js';
import type { QueueName } from '../../shared/queues.js';
import { createProduct } from './fixtures.js';
import { buildTestApp, eventually, startTestWorker, testEnv } from './harness.js';
import { startPaystackEmulator } from './paystack-emulator.js';

/**
 * Orders waiting for payment, written straight into the tables the way checkout leaves them
 * (stock reserved, order pending_payment with items and its first history row, a payment attempt with
 * a reference), so payment tests do not depend on the checkout route.
 */
export interface PendingOrderOptions {
  price?: number;
  quantity?: number;
  onHand?: number;
  currency?: string;
  userId?: string | null;
  email?: string;
  /** Also initialize the transaction at Paystack (the emulator), as checkout does after its commit. */
  paystack?: Pick<PaystackClient, 'initializeTransaction'>;
  /** More lines, each its own product and variant (stock 10, reserved for this order). */
  extraLines?: { price: number; quantity: number }[];
}

export async function createPendingOrder(db: Db, o: PendingOrderOptions = {}) {
  const price = o.price ?? 1_250_000;
  const quantity = o.quantity ?? 2;
  const currency = o.currency ?? 'NGN';
  const tag = randomUUID().slice(0, 8);
  const {
    product,
    variants: [variant],
  } = await createProduct(
    db,
    [{ sku: `ANK-${tag}`, title: 'M', price, onHand: o.onHand ?? 10, reserved: quantity }],
    { slug: `ankara-${tag}`, title: `Ankara dress ${tag}`, currency },
  );
  const subtotal = price * quantity;
  const order = await db
    .insertInto('orders')
    .values({
      userId: o.userId ?? null,
      email: o.email ?? `buyer-${tag}@example.com`,
      customerName: 'Ada Obi',
      currency,
      subtotal,
      total: subtotal,
      shippingAddress: JSON.stringify({ line1: '1 Marina', city: 'Lagos', country: 'NG' }),
      reservationExpiresAt: sql<Date>`now() + interval '15 minutes'`,
    })
    .returning(['id', 'number', 'total', 'currency', 'email'])
    .executeTakeFirstOrThrow();
  await db
    .insertInto('orderItems')
    .values({
      orderId: order.id,
      variantId: variant.id,
      productId: product.id,
      title: `Ankara dress ${tag}`,
      variantTitle: 'M',
      sku: `ANK-${tag}`,
      unitPrice: price,
      quantity,
      lineTotal: subtotal,
      currency,
    })
    .execute();
  await db
    .insertInto('inventoryMovements')
    .values({ variantId: variant.id, deltaReserved: quantity, reason: 'reserve', orderId: order.id })
    .execute();
  const extraLines: { variantId: string; quantity: number }[] = [];
  for (const [i, line] of (o.extraLines ?? []).entries()) {
    const {
      product: extra,
      variants: [v],
    } = await createProduct(
      db,
      [{ sku: `GEL-${tag}-${i}`, title: 'One size', price: line.price, reserved: line.quantity }],
      { slug: `gele-${tag}-${i}`, title: `Gele ${tag} ${i}`, currency },
    );
    await db
      .insertInto('orderItems')
      .values({
        orderId: order.id,
        variantId: v.id,
        productId: extra.id,
        title: `Gele ${tag} ${i}`,
        variantTitle: 'One size',
        sku: `GEL-${tag}-${i}`,
        unitPrice: line.price,
        quantity: line.quantity,
        lineTotal: line.price * line.quantity,
        currency,
      })
      .execute();
    await db
      .insertInto('inventoryMovements')
      .values({ variantId: v.id, deltaReserved: line.quantity, reason: 'reserve', orderId: order.id })
      .execute();
    extraLines.push({ variantId: v.id, quantity: line.quantity });
  }
  if (extraLines.length) {
    const extraTotal = (o.extraLines ?? []).reduce((sum, l) => sum + l.price * l.quantity, 0);
    await db
      .updateTable('orders')
      .set({ subtotal: subtotal + extraTotal, total: subtotal + extraTotal })
      .where('id', '=', order.id)
      .execute();
    order.total = subtotal + extraTotal;
  }
  await db
    .insertInto('orderStatusHistory')
    .values({ orderId: order.id, toStatus: 'pending_payment', note: 'fixture' })
    .execute();
  const reference = `${order.number}-1`;
  let authorizationUrl: string | null = null;
  if (o.paystack) {
    const init = await o.paystack.initializeTransaction({
      email: order.email,
      amount: order.total,
      currency,
      reference,
    });
    authorizationUrl = init.authorizationUrl;
  }
  await db
    .insertInto('payments')
    .values({
      orderId: order.id,
      reference,
      amount: order.total,
      currency,
      status: authorizationUrl ? 'initialized' : 'initializing',
      authorizationUrl,
    })
    .execute();
  return {
    orderId: order.id,
    number: order.number,
    total: order.total,
    currency,
    reference,
    variantId: variant.id,
    quantity,
    email: order.email,
    extraLines,
  };
}

/** What a test usually asserts after a payment: the order, its payments, stock, history, jobs. */
export async function paymentState(db: Db, orderId: string, variantId: string) {
  const order = await db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirstOrThrow();
  const payments = await db.selectFrom('payments').selectAll().where('orderId', '=', orderId).execute();
  const stock = await db
    .selectFrom('inventory')
    .select(['onHand', 'reserved'])
    .where('variantId', '=', variantId)
    .executeTakeFirstOrThrow();
  const history = await db
    .selectFrom('orderStatusHistory')
    .select(['fromStatus', 'toStatus'])
    .where('orderId', '=', orderId)
    .orderBy('id')
    .execute();
  const sales = await db
    .selectFrom('inventoryMovements')
    .selectAll()
    .where('orderId', '=', orderId)
    .where('reason', '=', 'sale')
    .execute();
  const outbox = await db.selectFrom('outbox').select(['name', 'payload']).orderBy('createdAt').execute();
  const discrepancies = await db
    .selectFrom('paymentDiscrepancies')
    .selectAll()
    .where('orderId', '=', orderId)
    .execute();
  return { order, payments, stock, history, sales, outbox, discrepancies };
}

/**
 * The whole payment path for a test: the Paystack emulator, the API listening on a real port (the
 * emulator posts webhooks to it), and optionally a worker running the payment queue.
 */
export async function startPaymentStack(
  t: Test,
  opts: {
    worker?: boolean;
    queues?: QueueName[];
    env?: Record<string, string>;
    webhookRetryMs?: number;
    /** How often the emulator re-sends a webhook not answered 200 (default 5). */
    webhookMaxAttempts?: number;
  } = {},
) {
  const secretKey = `sk_test_${randomUUID().replace(/-/g, '')}`;
  const emu = await startPaystackEmulator({
    secretKey,
    webhookRetryMs: opts.webhookRetryMs ?? 50,
    webhookMaxAttempts: opts.webhookMaxAttempts,
  });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, {
    PAYSTACK_SECRET_KEY: secretKey,
    PAYSTACK_BASE_URL: emu.url,
    ...opts.env,
  });
  const app = await buildTestApp(t, config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  emu.setWebhookUrl(`${url}/api/v1/webhooks/paystack`);
  const paystack = createPaystackClient({ secretKey, baseUrl: emu.url, retryBaseMs: 5 });
  const worker =
    opts.worker === false
      ? undefined
      : await startTestWorker(t, config, { queues: opts.queues ?? ['payment'] });
  return { secretKey, emu, config, db, app, url, paystack, worker };
}

/** `eventually` for a value: polls until `fn` returns one (not undefined/false) and returns it, typed. */
export async function until<T>(
  fn: () => Promise<T | undefined | false | null>,
  timeoutMs = 15_000,
): Promise<T> {
  return (await eventually(fn, { timeoutMs })) as T;
}

/** The Paystack refunds a refund's parts are bound to (one per payment it draws on), in part order. */
export async function providerIdsOf(db: Db, refundId: string): Promise<number[]> {
  const parts = await db
    .selectFrom('refundParts')
    .select('providerRefundId')
    .where('refundId', '=', refundId)
    .where('providerRefundId', 'is not', null)
    .orderBy('createdAt')
    .orderBy('id')
    .execute();
  return parts.map((p) => p.providerRefundId!);
}
