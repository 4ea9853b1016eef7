import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import { merchantNoteOf } from '../../shared/payments/refund-binding.js';
import { registerPaymentSweep } from '../../worker/schedules.js';
import { address, createProduct, createShipping } from '../support/fixtures.js';
import { startTestWorker, tokenFor } from '../support/harness.js';
import { startPaymentStack } from '../support/payment-fixtures.js';
import type { EmulatedRefund, PaystackEmulator, RefundWebhookMode } from '../support/paystack-emulator.js';
import type { Db } from '../../shared/db/index.js';

/**
 * Issue 18, "done when": a bad day at Paystack, end to end. N orders (CHAOS_ORDERS, default 200) are
 * placed through the real API; then, all at once, customers pay (webhook at once, late, or only their
 * own verify call), staff refund in part and in full (two same-amount refunds at once too), customers
 * cancel (some pay anyway), reservations expire (some of them paid meanwhile) and staff cancel paid
 * orders, while Paystack answers 503 and then refuses connections for a while, answers some refund
 * creations late, after creating them late, or never, and sends refund webhooks late, held back and
 * reversed, or not at all. Real workers (two) run every job, with the sweep and short retries; the test
 * only plays Paystack's side (its customers paying, its refunds being processed). When the outage is
 * over and everything settled, reconciliation runs, and then, for every order:
 *  - paid minus refunded in our books equals what Paystack's ledger says moved;
 *  - no provider refund was made twice for one of our refunds (parts), nor one that is not ours;
 *  - no refund is left pending or processing;
 *  - a paid order that ended cancelled or expired was refunded in full.
 */

const N = Math.max(10, Number(process.env.CHAOS_ORDERS ?? 200) || 200);
/** When the scenarios start, relative to the first one (ms): Paystack down from OUTAGE_FROM to OUTAGE_TO. */
const SPREAD_MS = 5_000;
const OUTAGE_FROM = 1_000;
const OUTAGE_SWITCH = 3_500; // 503 before, connection refused after
const OUTAGE_TO = 6_000;
const SETTLE_TIMEOUT_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)];

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T, R>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<R>) {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/**
 * Orders `from`..`to`-1 as checkout leaves them (customers' orders this time): stock reserved, the order
 * `pending_payment` with two lines and its first history row, a payment attempt initialized at Paystack.
 */
async function placeOrders(
  db: Db,
  emu: PaystackEmulator,
  pairOf: (i: number) => readonly { id: string; price: number; sku: string; title: string }[],
  shipping: number,
  from: number,
  to: number,
) {
  const n = to - from;
  if (n <= 0) return [];
  const index = Array.from({ length: n }, (_, k) => from + k);
  const users = await db
    .insertInto('users')
    .values(
      index.map((i) => ({
        email: `chaos-${i}@example.test`,
        name: `Customer ${i}`,
        passwordHash: 'x',
        role: 'customer',
      })),
    )
    .returning(['id', 'email'])
    .execute();
  const userOf = new Map(users.map((u) => [u.email, u.id]));
  const [a, b] = pairOf(from);
  // Every pair is priced the same: one dress (twice) and one gele.
  const subtotal = a.price * 2 + b.price;
  const total = subtotal + shipping;
  const rows = await db
    .insertInto('orders')
    .values(
      index.map((i) => ({
        userId: userOf.get(`chaos-${i}@example.test`)!,
        email: `chaos-${i}@example.test`,
        customerName: address.name,
        currency: 'NGN',
        subtotal,
        shipping,
        total,
        shippingAddress: JSON.stringify(address),
        shippingMethodName: 'Standard',
        reservationExpiresAt: sql<Date>`now() + interval '15 minutes'`,
      })),
    )
    .returning(['id', 'email'])
    .execute();
  const variantIds = [...new Set(index.flatMap((i) => pairOf(i).map((v) => v.id)))];
  const product = await db
    .selectFrom('productVariants')
    .select(['id', 'productId'])
    .where('id', 'in', variantIds)
    .execute();
  const productOf = new Map(product.map((p) => [p.id, p.productId]));
  const indexOf = (email: string) => Number(/chaos-(\d+)@/.exec(email)![1]);
  const lines = rows.flatMap((o) => {
    const [dress, gele] = pairOf(indexOf(o.email));
    return [
      { v: dress, quantity: 2 },
      { v: gele, quantity: 1 },
    ].map(({ v, quantity }) => ({
      orderId: o.id,
      variantId: v.id,
      productId: productOf.get(v.id)!,
      title: 'Chaos dress',
      variantTitle: v.title,
      sku: v.sku,
      unitPrice: v.price,
      quantity,
      lineTotal: v.price * quantity,
      currency: 'NGN',
    }));
  });
  await db.insertInto('orderItems').values(lines).execute();
  await db
    .insertInto('inventoryMovements')
    .values(
      lines.map((l) => ({
        variantId: l.variantId,
        deltaReserved: l.quantity,
        reason: 'reserve',
        orderId: l.orderId,
      })),
    )
    .execute();
  for (const id of variantIds) {
    const units = lines.filter((l) => l.variantId === id).reduce((sum, l) => sum + l.quantity, 0);
    await sql`UPDATE inventory SET reserved = reserved + ${units} WHERE variant_id = ${id}`.execute(db);
  }
  await db
    .insertInto('orderStatusHistory')
    .values(rows.map((o) => ({ orderId: o.id, toStatus: 'pending_payment', note: 'checkout' })))
    .execute();
  const placed = rows.map((o) => {
    const i = indexOf(o.email);
    const reference = `CHAOS-${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    emu.createTransaction({ reference, amount: total, email: o.email, status: 'abandoned' });
    return { i, fate: i % 10, id: o.id, total, reference, userId: userOf.get(o.email)! };
  });
  await db
    .insertInto('payments')
    .values(
      placed.map((o) => ({
        orderId: o.id,
        reference: o.reference,
        amount: total,
        currency: 'NGN',
        status: 'initialized',
        authorizationUrl: `${emu.url}/pay/${o.reference}`,
      })),
    )
    .execute();
  return placed.sort((x, y) => x.i - y.i);
}

t.test(
  `chaos: ${N} orders paid, refunded, cancelled and expired while Paystack is down for part of the run; the books match Paystack's afterwards`,
  async (t) => {
    const timings: Record<string, number> = {};
    let mark = Date.now();
    let cpuMark = process.cpuUsage();
    const lap = (name: string) => {
      timings[name] = Date.now() - mark;
      mark = Date.now();
      const cpu = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      t.comment(
        `${name}: ${timings[name]} ms (this process's CPU: ${Math.round((cpu.user + cpu.system) / 1000)} ms)`,
      );
    };

    const stack = await startPaymentStack(t, {
      worker: false,
      // Paystack re-sends a webhook we did not take for days; here, every half second for a minute.
      webhookRetryMs: 500,
      webhookMaxAttempts: 120,
      env: {
        RATE_LIMIT_ALLOWLIST: '127.0.0.1',
        LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'silent',
        MAX_OPEN_ORDERS_PER_CLIENT: '10000',
        PAYSTACK_TIMEOUT_MS: '2000',
        PAYSTACK_RETRY_MAX_DELAY_MS: '400',
        PAYSTACK_RETRY_HOURS: '0.5',
        PAYMENT_SWEEP_MS: '1000',
        REFUND_POLL_MS: '500',
        REFUND_RECREATE_AFTER_MS: '2500',
        // An expired order Paystack cannot confirm keeps its stock 3 s, then is cancelled anyway.
        PAYMENT_HOLD_MINUTES: '0.05',
      },
    });
    const { db, emu, app, config } = stack;
    const workers = [
      await startTestWorker(t, config, {
        queues: ['payment', 'refund', 'inventory', 'reconciliation'],
        relay: { pollMs: 200 },
      }),
      await startTestWorker(t, config, { queues: ['payment', 'refund'], relay: { pollMs: 200 } }),
    ];
    const queues = workers[0].deps.queues;
    await registerPaymentSweep(queues, config);
    lap('stack');

    // ----- the shop: a catalogue, and N orders placed through cart and checkout -----
    // Eight dresses with a gele each; ten orders in a row buy the same pair (stock rows are shared, not all hot).
    const pairs = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { variants } = await createProduct(db, [
          { price: 1_000_000, onHand: 100_000 },
          { price: 450_000, onHand: 100_000 },
        ]);
        return variants;
      }),
    );
    const pairOf = (i: number) => pairs[Math.floor(i / 10) % pairs.length];
    const ship = await createShipping(db, { price: 250_000 });
    const manager = tokenFor(app, 'manager');
    const api = async (
      method: 'GET' | 'POST',
      url: string,
      opts: { headers?: Record<string, string>; body?: unknown } = {},
    ) => {
      const res = await app.inject({
        method,
        url: `/api/v1${url}`,
        headers: opts.headers,
        ...(opts.body === undefined ? {} : { payload: opts.body as Record<string, unknown> }),
      });
      return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
    };
    /**
     * A client's patience: a 5xx (an overloaded API answers 500 when no database connection frees up in
     * time) is tried again after a pause, with the same Idempotency-Key, as a browser or the staff app would;
     * so is a 409 `idempotency_in_progress`, which such a retry meets while the first attempt still runs.
     */
    const patient = async (
      method: 'GET' | 'POST',
      url: string,
      opts: { headers?: Record<string, string>; body?: unknown } = {},
    ) => {
      for (let attempt = 1; ; attempt++) {
        const res = await api(method, url, opts);
        const running = res.status === 409 && res.body.code === 'idempotency_in_progress';
        if ((res.status < 500 && !running) || attempt >= 8) return { ...res, attempts: attempt };
        await sleep(500 * attempt);
      }
    };
    const expectStatus = <R extends { status: number; body: unknown }>(
      what: string,
      res: R,
      ...ok: number[]
    ) => {
      if (!ok.includes(res.status)) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
      return res;
    };

    type Placed = {
      i: number;
      fate: number;
      id: string;
      total: number;
      reference: string;
      /** How this order's customer proves it is theirs: the guest's cart token or a customer's token. */
      access: Record<string, string>;
    };
    // A tenth of the orders (at least 10) go through cart and checkout as a guest's browser does;
    // the rest are written as checkout leaves them, in a few statements (checkout is not what this
    // test is about, and 200 checkouts would cost the run a minute of CPU on a loaded machine).
    const viaCheckout = Math.min(N, Math.max(10, Math.round(N / 10)));
    const checkedOut = await pool(
      Array.from({ length: viaCheckout }, (_, i) => i),
      4,
      async (i): Promise<Placed> => {
        const cart = expectStatus('cart', await api('POST', '/cart'), 201, 200);
        const h = { 'x-cart-token': String(cart.body.token) };
        expectStatus(
          'add',
          await api('POST', '/cart/items', { headers: h, body: { variantId: pairOf(i)[0].id, quantity: 2 } }),
          200,
        );
        expectStatus(
          'add',
          await api('POST', '/cart/items', { headers: h, body: { variantId: pairOf(i)[1].id, quantity: 1 } }),
          200,
        );
        const co = expectStatus(
          'checkout',
          await api('POST', '/checkout', {
            headers: { ...h, 'idempotency-key': randomUUID() },
            body: {
              email: `chaos-${i}@example.test`,
              shippingAddress: address,
              shippingMethodId: ship.id,
            },
          }),
          201,
        );
        const { order, payment } = co.body as {
          order: { id: string; total: number };
          payment: { reference: string };
        };
        return { i, fate: i % 10, id: order.id, total: order.total, reference: payment.reference, access: h };
      },
    );
    const orders = [...checkedOut, ...(await placeOrders(db, emu, pairOf, ship.price, viaCheckout, N))].map(
      (o) => ({
        ...o,
        access: 'userId' in o ? { authorization: tokenFor(app, 'customer', o.userId) } : o.access,
      }),
    );
    lap('checkout');
    const items = await db
      .selectFrom('orderItems')
      .select(['id', 'orderId', 'unitPrice', 'variantId'])
      .execute();
    const geles = new Set(pairs.map((p) => p[1].id));
    const lineB = new Map(
      items.filter((l) => l.variantId !== null && geles.has(l.variantId)).map((l) => [l.orderId, l]),
    );

    // ----- Paystack's side: refunds get processed (a few fail), their webhooks misbehave -----
    const refundIdOfNote = (note: string | null) => note?.replace(/^agape refund /, '') ?? '';
    /** Our refunds that may fail at Paystack: partial refunds of orders the customer keeps. */
    const failable = new Set<string>();
    const scheduled = new Set<number>();
    let stopBank = false;
    const settleLater = (r: EmulatedRefund) => {
      scheduled.add(r.id);
      const outcome =
        failable.has(refundIdOfNote(r.merchantNote)) && Math.random() < 0.5 ? 'failed' : 'processed';
      const webhook: RefundWebhookMode = pick(['send', 'send', 'send', 'hold', 'hold', 'none']);
      const delayed = webhook === 'send' && Math.random() < 0.4;
      setTimeout(
        () =>
          void (async () => {
            if (Math.random() < 0.3)
              await emu.settleRefund(r.id, 'processing', { webhook: pick(['send', 'hold', 'none']) });
            await emu.settleRefund(r.id, outcome, {
              webhook,
              delayMs: delayed ? Math.random() * 2_000 : undefined,
            });
          })().catch((err: unknown) => t.fail(`bank: ${String(err)}`)),
        100 + Math.random() * 1_200,
      ).unref();
    };
    const bank = (async () => {
      let round = 0;
      while (!stopBank) {
        for (const r of emu.refunds.values())
          if (r.status === 'pending' && !scheduled.has(r.id)) settleLater(r);
        // Held refund events go out now and then, newest first.
        if (++round % 10 === 0 && emu.heldRefundWebhooks.length)
          await emu.releaseRefundWebhooks({ reverse: true });
        await sleep(150);
      }
    })();
    // The expiry, as its minute scheduler would run it, every second.
    const expiryTicker = setInterval(() => {
      void queues.inventory
        .add('inventory.expire-reservations', { payload: {} }, { removeOnComplete: true, removeOnFail: true })
        .catch(() => undefined);
    }, 1_000);
    t.teardown(() => {
      stopBank = true;
      clearInterval(expiryTicker);
    });

    // Some refund creations misbehave whenever they come: answered late (after the client gave up),
    // made late (after the retry listed), or cut off.
    emu.faultNextRefundCreate(
      { answer: 'late', delayMs: 2_500 },
      {},
      { createAfterMs: 3_000 },
      {},
      { answer: 'drop' },
      {},
      { answer: 'late', delayMs: 2_500 },
      { createAfterMs: 3_300 },
    );

    // ----- the customers and the staff, all at once, with Paystack going down in the middle -----
    const isPaid = async (orderId: string) => {
      const o = await db
        .selectFrom('orders')
        .select('status')
        .where('id', '=', orderId)
        .executeTakeFirstOrThrow();
      return o.status !== 'pending_payment' && o.status !== 'cancelled';
    };
    const waitPaid = async (orderId: string) => {
      const until = Date.now() + 120_000;
      while (!(await isPaid(orderId))) {
        if (Date.now() > until) throw new Error(`order ${orderId} never paid`);
        await sleep(500);
      }
    };
    type Pay = 'webhook' | 'late' | 'verify';
    const pay = async (reference: string, how: Pay) => {
      await emu.pay(reference, { webhook: how === 'webhook' });
      // Paystack always sends charge.success; `late` and `verify` get it some seconds on.
      if (how !== 'webhook') {
        setTimeout(
          () =>
            void emu.sendWebhook('charge.success', { reference, status: 'success' }).catch(() => undefined),
          Math.random() * 3_000,
        ).unref();
      }
      if (how === 'verify') {
        // The customer's browser comes back and asks; during the outage that fails (the sweep asks again).
        await api('POST', `/payments/${reference}/verify`);
        // (no retry: a failed verify is the sweep's to repeat)
      }
    };
    const refund = async (orderId: string, body: Record<string, unknown>) =>
      expectStatus(
        'refund',
        await patient('POST', `/admin/orders/${orderId}/refunds`, {
          headers: { authorization: manager, 'idempotency-key': randomUUID() },
          body,
        }),
        202,
      ).body as { id: string };
    const expire = (orderId: string) =>
      sql`UPDATE orders SET reservation_expires_at = now() - interval '1 second'
          WHERE id = ${orderId} AND status = 'pending_payment'`.execute(db);
    /** The customer's cancel; a retry after a 5xx may find it done (409 on a cancelled order). */
    const customerCancel = async (o: (typeof orders)[number]) => {
      const res = await patient('POST', `/orders/${o.id}/cancel`, { headers: o.access });
      if (res.status === 409 && res.attempts > 1) {
        const { status } = await db
          .selectFrom('orders')
          .select('status')
          .where('id', '=', o.id)
          .executeTakeFirstOrThrow();
        if (status === 'cancelled') return { ...res, status: 200 };
      }
      return res;
    };
    const unexpected: string[] = [];

    const scenario = async (o: (typeof orders)[number]) => {
      await sleep(Math.random() * SPREAD_MS);
      switch (o.fate) {
        case 0: // pays; keeps the order
          await pay(o.reference, pick(['webhook', 'late', 'verify'] as const));
          break;
        case 1: {
          // pays; two partial refunds, the second restocking the line it names (the first may fail at Paystack)
          await pay(o.reference, 'late');
          await waitPaid(o.id);
          const first = await refund(o.id, { amount: Math.floor(o.total / 3), reason: 'goodwill' });
          failable.add(first.id);
          const line = lineB.get(o.id)!;
          await refund(o.id, {
            amount: line.unitPrice,
            reason: 'gele returned',
            restock: true,
            items: [{ orderItemId: line.id, quantity: 1 }],
          });
          break;
        }
        case 2: // pays; refunded in full with restock
          await pay(o.reference, 'webhook');
          await waitPaid(o.id);
          await refund(o.id, { reason: 'changed mind', restock: true });
          break;
        case 3: {
          // pays; staff cancel the paid order (the remainder is refunded)
          await pay(o.reference, 'verify');
          await waitPaid(o.id);
          const r = await patient('POST', `/orders/${o.id}/cancel`, { headers: { authorization: manager } });
          // A retry after a 5xx may find the order cancelled already.
          if (!(r.status === 409 && r.attempts > 1)) expectStatus('staff cancel', r, 200);
          break;
        }
        case 4: {
          const r = await customerCancel(o);
          expectStatus('customer cancel', r, 200);
          break;
        }
        case 5: {
          // cancels, then pays anyway through the still-open Paystack page
          expectStatus('customer cancel', await customerCancel(o), 200);
          await pay(o.reference, pick(['webhook', 'late'] as const));
          break;
        }
        case 6: // never pays; the reservation runs out
          await expire(o.id);
          break;
        case 7: // pays just as the reservation runs out
          await Promise.all([pay(o.reference, pick(['webhook', 'late', 'verify'] as const)), expire(o.id)]);
          break;
        case 8: {
          // pays; two refunds of the same amount at once
          await pay(o.reference, 'verify');
          await waitPaid(o.id);
          const half = Math.floor(o.total / 2);
          await Promise.all([
            refund(o.id, { amount: half, reason: 'first half' }),
            refund(o.id, { amount: half, reason: 'second half' }),
          ]);
          break;
        }
        case 9: {
          // pays; tries to cancel (refused: paid), then partial and remaining refunds
          await pay(o.reference, 'webhook');
          await waitPaid(o.id);
          const c = await customerCancel(o);
          if (c.status !== 409) unexpected.push(`customer cancel of paid order ${o.id}: ${c.status}`);
          await refund(o.id, { amount: 100_000, reason: 'late delivery' });
          await refund(o.id, { reason: 'returned' });
          break;
        }
      }
    };

    const outage = (async () => {
      await sleep(OUTAGE_FROM);
      await emu.startOutage({ mode: 'error', status: 503 });
      await sleep(OUTAGE_SWITCH - OUTAGE_FROM);
      await emu.startOutage({ mode: 'refuse' });
      await sleep(OUTAGE_TO - OUTAGE_SWITCH);
      await emu.endOutage();
    })();
    const results = await Promise.allSettled([...orders.map(scenario), outage]);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    t.same(failures, [], 'every customer and staff action went through');
    t.same(unexpected, [], 'customers could not cancel paid orders');
    lap('scenarios');

    // ----- Paystack is back: everything settles by itself -----
    const openWork = async () => {
      const [row] = (
        await sql<{ refunds: number; orders: number; unverified: number; webhooks: number }>`
          SELECT
            (SELECT count(*) FROM refunds WHERE status IN ('pending', 'processing'))::int AS refunds,
            (SELECT count(*) FROM orders WHERE status = 'pending_payment')::int AS orders,
            (SELECT count(*) FROM payments WHERE unverified_since IS NOT NULL)::int AS unverified,
            (SELECT count(*) FROM webhook_events WHERE processed_at IS NULL)::int AS webhooks
        `.execute(db)
      ).rows;
      const atPaystack = [...emu.refunds.values()].filter(
        (r) => r.status === 'pending' || r.status === 'processing',
      ).length;
      return { ...row, atPaystack, held: emu.heldRefundWebhooks.length };
    };
    const settle = async (what: string) => {
      const until = Date.now() + SETTLE_TIMEOUT_MS;
      let open = await openWork();
      while (Object.values(open).some((n) => n > 0)) {
        if (Date.now() > until) {
          t.fail(`${what}: still open after ${SETTLE_TIMEOUT_MS} ms: ${JSON.stringify(open)}`);
          return;
        }
        if (emu.heldRefundWebhooks.length) await emu.releaseRefundWebhooks({ reverse: true });
        await sleep(250);
        open = await openWork();
      }
    };
    await settle('after the outage');
    lap('settle');

    // ----- reconciliation over the whole run -----
    const run = expectStatus(
      'reconciliation',
      await api('POST', '/admin/reconciliation/run', { headers: { authorization: manager }, body: {} }),
      202,
    ).body as { runId: string };
    const until = Date.now() + 60_000;
    let finished: { status: string; counts: unknown; error: string | null } | undefined;
    while (Date.now() < until) {
      finished = await db
        .selectFrom('reconciliationRuns')
        .select(['status', 'counts', 'error'])
        .where('id', '=', run.runId)
        .executeTakeFirstOrThrow();
      if (finished.status === 'completed' || finished.status === 'failed') break;
      await sleep(250);
    }
    t.equal(finished?.status, 'completed', `reconciliation ran: ${finished?.error ?? ''}`);
    t.match(finished?.counts, { applied: 0 }, 'nothing paid was missed by the time it ran');
    await settle('after reconciliation');
    stopBank = true;
    clearInterval(expiryTicker);
    await bank;
    lap('reconcile');

    // ----- the books -----
    const ours = await db
      .selectFrom('orders')
      .select(['id', 'status', 'amountPaid', 'amountRefunded', 'needsRefund'])
      .execute();
    const payments = await db
      .selectFrom('payments')
      .select(['orderId', 'reference', 'status', 'paidAmount'])
      .execute();
    const parts = await db
      .selectFrom('refundParts')
      .innerJoin('payments', 'payments.id', 'refundParts.paymentId')
      .innerJoin('refunds', 'refunds.id', 'refundParts.refundId')
      .select([
        'refundParts.id',
        'refundParts.refundId',
        'refundParts.status',
        'refundParts.amount',
        'refundParts.providerRefundId',
        'payments.reference',
        'payments.status as paymentStatus',
        'refunds.orderId',
        'refunds.status as refundStatus',
      ])
      .execute();
    const txByRef = emu.transactions;
    const emuRefunds = [...emu.refunds.values()];

    // 1. Paid minus refunded, per order: ours against Paystack's ledger.
    const ledger: string[] = [];
    for (const o of ours) {
      const refs = payments.filter((p) => p.orderId === o.id).map((p) => p.reference);
      const theirsPaid = refs
        .map((r) => txByRef.get(r))
        .filter((x) => x && (x.status === 'success' || x.status === 'reversed'))
        .reduce((s, x) => s + x!.amount, 0);
      const theirsRefunded = emuRefunds
        .filter((r) => refs.includes(r.transactionReference) && r.status === 'processed')
        .reduce((s, r) => s + r.amount, 0);
      const booksPaid = payments
        .filter((p) => p.orderId === o.id && p.status === 'success')
        .reduce((s, p) => s + (p.paidAmount ?? 0), 0);
      const booksRefunded = parts
        .filter((p) => p.orderId === o.id && p.status === 'processed')
        .reduce((s, p) => s + p.amount, 0);
      if (
        o.amountPaid - o.amountRefunded !== theirsPaid - theirsRefunded ||
        booksPaid - booksRefunded !== theirsPaid - theirsRefunded
      ) {
        ledger.push(
          `order ${o.id} (${o.status}): books ${o.amountPaid}-${o.amountRefunded}, payments ${booksPaid}-${booksRefunded}, Paystack ${theirsPaid}-${theirsRefunded}`,
        );
      }
    }
    t.same(ledger, [], 'for every order, paid minus refunded matches Paystack');

    // 2. One provider refund per part at most; every provider refund is one of ours, bound to its part.
    const twice: string[] = [];
    for (const p of parts) {
      const made = emuRefunds.filter(
        (r) => r.merchantNote === merchantNoteOf(p.refundId) && r.transactionReference === p.reference,
      );
      if (made.length > 1)
        twice.push(`part ${p.id}: ${made.length} provider refunds ${made.map((m) => m.id).join(',')}`);
      if (made.length === 1 && p.providerRefundId !== made[0].id)
        twice.push(`part ${p.id} bound to ${p.providerRefundId}, Paystack made ${made[0].id}`);
      if (p.status === 'processed' && made.length !== 1)
        twice.push(`part ${p.id} processed without its provider refund`);
    }
    const orphans = emuRefunds.filter((r) => !parts.some((p) => p.providerRefundId === r.id));
    t.same(twice, [], 'no refund of ours was made twice at Paystack');
    t.same(
      orphans.map((r) => `${r.id} ${r.merchantNote} ${r.status}`),
      [],
      'every provider refund is bound to a part of ours',
    );

    // 3. Nothing left pending or processing.
    t.same(
      parts.filter(
        (p) =>
          !['processed', 'failed'].includes(p.status) || !['processed', 'failed'].includes(p.refundStatus),
      ),
      [],
      'no refund left pending or processing',
    );

    // 4. No customer paid for an order they do not get.
    const unpaidBack = ours.filter(
      (o) => o.status === 'cancelled' && (o.amountRefunded !== o.amountPaid || o.needsRefund),
    );
    t.same(unpaidBack, [], 'every paid order that was cancelled or expired was refunded in full');

    // The run went where it should: an outage, refunds of every kind, payments landing on cancelled orders.
    const count = (status: string) => ours.filter((o) => o.status === status).length;
    t.ok(emu.stats.failedByOutage > 0, `calls failed during the outage: ${emu.stats.failedByOutage}`);
    t.ok(
      parts.some((p) => p.status === 'failed'),
      'some refunds failed at Paystack',
    );
    t.ok(
      ours.some((o) => o.status === 'cancelled' && o.amountPaid > 0),
      'some payments landed on cancelled orders (and were refunded)',
    );
    t.ok(count('refunded') > 0 && count('partially_refunded') > 0 && count('paid') > 0);
    t.comment(
      `orders by status ${JSON.stringify(Object.fromEntries(['paid', 'partially_refunded', 'refunded', 'cancelled'].map((s) => [s, count(s)])))}; ` +
        `${parts.length} refund parts, ${emuRefunds.length} provider refunds, ${emu.stats.calls} Paystack calls (${emu.stats.failedByOutage} failed by the outage)`,
    );
    t.comment(`timings (ms): ${JSON.stringify(timings)}`);
  },
);
