import t from 'tap';
import { address, createProduct, createShipping, newKey, stockOf } from '../support/fixtures.js';
import { startPaymentStack, until } from '../support/payment-fixtures.js';

/** The whole purchase as a guest's browser does it: cart → checkout → Paystack's page → back; the order is paid by the webhook. */
t.test(
  'a guest buys through checkout and the Paystack pay page; the order is paid only after verification',
  async (t) => {
    const s = await startPaymentStack(t, { queues: ['payment'] });
    const { variants } = await createProduct(s.db, [{ price: 1_500_000, onHand: 5 }]);
    const ship = await createShipping(s.db, { price: 250_000 });
    const api = async (
      method: string,
      path: string,
      opts: { headers?: Record<string, string>; body?: unknown } = {},
    ) => {
      const res = await fetch(`${s.url}/api/v1${path}`, {
        method,
        headers: {
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const cart = await api('POST', '/cart');
    const h = { 'x-cart-token': String(cart.body.token) };
    t.equal(
      (await api('POST', '/cart/items', { headers: h, body: { variantId: variants[0].id, quantity: 2 } }))
        .status,
      200,
    );
    const checkout = await api('POST', '/checkout', {
      headers: { ...h, 'idempotency-key': newKey() },
      body: { email: 'guest@example.test', shippingAddress: address, shippingMethodId: ship.id },
    });
    t.equal(checkout.status, 201, JSON.stringify(checkout.body));
    const { order, payment } = checkout.body as unknown as {
      order: { id: string; total: number };
      payment: { reference: string; authorizationUrl: string };
    };
    t.match(await stockOf(s.db, variants[0].id), { onHand: 5, reserved: 2 });

    // The customer's browser: the pay page, the Pay button, the redirect back to the shop.
    const page = await fetch(payment.authorizationUrl);
    t.equal(page.status, 200);
    const back = await fetch(payment.authorizationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=success',
      redirect: 'manual',
    });
    t.equal(back.status, 302);
    t.equal(
      new URL(back.headers.get('location')!).searchParams.get('reference'),
      payment.reference,
      'callback carries the reference',
    );

    const paid = await until(async () => {
      const o = await s.db
        .selectFrom('orders')
        .selectAll()
        .where('id', '=', order.id)
        .executeTakeFirstOrThrow();
      return o.status === 'paid' ? o : undefined;
    });
    t.equal(paid.amountPaid, order.total);
    t.match(await stockOf(s.db, variants[0].id), { onHand: 3, reserved: 0 });

    // The shop's callback page asks too: the payment is already applied.
    const verified = await api('POST', `/payments/${payment.reference}/verify`);
    t.match(verified.body, { outcome: 'already_applied', orderStatus: 'paid', paymentStatus: 'success' });
    const view = await api('GET', `/orders/${order.id}`, { headers: h });
    t.equal(view.body.status, 'paid');
    const mails = await s.db
      .selectFrom('outbox')
      .select('payload')
      .where('name', '=', 'email.send')
      .execute();
    t.ok(
      mails.some(
        (m) =>
          (m.payload as { template: string; to: string }).template === 'order-confirmation' &&
          (m.payload as { to: string }).to === 'guest@example.test',
      ),
    );
  },
);
