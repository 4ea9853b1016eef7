/* eslint-disable @typescript-eslint/no-explicit-any -- walking the OpenAPI document as JSON */
/**
 * The TypeScript client in clients/typescript/ as a client developer uses it: a checkout driven through
 * the generated types against a real API on a socket (Paystack is the emulator), and a check that the
 * committed generated file is what the running API's /docs/json generates today.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Test } from 'tap';
import { createAgapeClient } from '../../clients/typescript/index.js';
import { clientSchema, clientSchemaFile } from '../../scripts/openapi.js';
import { createProduct, createShipping, newKey, startServer, stockOf } from '../support/fixtures.js';
import { testEnv } from '../support/harness.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';

async function setup(t: Test) {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_client' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey });
  const server = await startServer(t, config);
  const origin = new URL(server.base).origin;
  return { emu, db, origin, api: createAgapeClient({ baseUrl: origin }) };
}

t.test(
  'a guest buys through the generated client: catalog, cart, checkout, Paystack, verify, order',
  async (t) => {
    const { emu, db, api } = await setup(t);
    const { product, variants } = await createProduct(db, [{ price: 1_500_000, onHand: 5 }]);
    const ship = await createShipping(db, { price: 250_000 });

    // `limit` has a default, so the generated type lets a client leave it out.
    const listing = await api.GET('/api/v1/products', { params: { query: { inStock: true } } });
    t.equal(listing.response.status, 200);
    t.ok(
      listing.data?.items.some((p) => p.id === product.id),
      'the product is listed',
    );
    const detail = await api.GET('/api/v1/products/{id}', { params: { path: { id: product.id } } });
    const variant = detail.data?.variants.find((v) => v.id === variants[0].id);
    t.equal(variant?.price, 1_500_000);
    const methods = await api.GET('/api/v1/shipping-methods');
    t.ok(
      methods.data?.items.some((m) => m.id === ship.id),
      'the shipping method is offered',
    );

    const cart = await api.POST('/api/v1/cart');
    t.equal(cart.response.status, 201);
    const token = cart.data!.token!;
    const header = { 'x-cart-token': token };

    // An error answer arrives as `error`, typed as the problem body.
    const unknown = await api.POST('/api/v1/cart/items', {
      params: { header },
      body: { variantId: randomUUID(), quantity: 1 },
    });
    t.equal(unknown.data, undefined);
    t.equal(unknown.response.status, 404);
    t.equal(unknown.error?.status, 404);
    t.type(unknown.error?.code, 'string');

    const added = await api.POST('/api/v1/cart/items', {
      params: { header },
      body: { variantId: variant!.id, quantity: 2 },
    });
    t.equal(added.data?.items.length, 1);
    const priced = await api.GET('/api/v1/cart', {
      params: { header, query: { shippingMethodId: ship.id } },
    });
    const total = priced.data!.total;
    t.equal(priced.data?.subtotal, 3_000_000);

    // `country` defaults to NG on the server, so the client may leave it out too.
    const checkout = await api.POST('/api/v1/checkout', {
      params: { header: { ...header, 'idempotency-key': newKey() } },
      body: {
        email: 'client@example.test',
        shippingAddress: {
          name: 'Ada Obi',
          phone: '+234 803 000 0000',
          line1: '12 Broad Street',
          city: 'Lagos',
          state: 'Lagos',
        },
        shippingMethodId: ship.id,
      },
    });
    t.equal(checkout.response.status, 201, JSON.stringify(checkout.error));
    const { order } = checkout.data!;
    // null when Paystack could not be reached (the order stays payable); here it answers.
    const payment = checkout.data!.payment!;
    t.ok(payment.authorizationUrl, 'an authorization URL from Paystack');
    t.equal(order.status, 'pending_payment');
    t.equal(order.total, total);
    t.equal(order.shippingAddress.country, 'NG', 'the server filled the default');
    t.equal(
      emu.transactions.get(payment.reference)?.amount,
      total,
      'Paystack was asked for the total in kobo',
    );
    t.match(await stockOf(db, variant!.id), { onHand: 5, reserved: 2 });

    // The customer pays on Paystack's page; the shop's callback page then asks the API to verify.
    const paid = await fetch(payment.authorizationUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=success',
      redirect: 'manual',
    });
    t.equal(paid.status, 302);
    const verified = await api.POST('/api/v1/payments/{reference}/verify', {
      params: { path: { reference: payment.reference } },
    });
    t.match(verified.data, {
      reference: payment.reference,
      outcome: 'paid',
      orderId: order.id,
      orderStatus: 'paid',
      paymentStatus: 'success',
    });

    const view = await api.GET('/api/v1/orders/{id}', { params: { path: { id: order.id }, header } });
    t.match(view.data, { id: order.id, status: 'paid', amountPaid: total });
    t.match(await stockOf(db, variant!.id), { onHand: 3, reserved: 0 });
  },
);

t.test(
  'clients/typescript/schema.ts is what the running API documents (else: npm run client:generate)',
  async (t) => {
    const { origin } = await setup(t);
    const live = (await (await fetch(`${origin}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const committed = readFileSync(clientSchemaFile, 'utf8');
    const generated = await clientSchema(live);
    const [ours, theirs] = [generated.split('\n'), committed.split('\n')];
    const at = ours.findIndex((line, i) => line !== theirs[i]);
    const where =
      at === -1
        ? { lines: [ours.length, theirs.length] }
        : { line: at + 1, generated: ours[at], committed: theirs[at] };
    t.ok(
      generated === committed,
      'the committed file is current; if not, run npm run client:generate and commit it',
      { diagnostic: generated !== committed, ...where },
    );

    // A request value with a default is optional in the document (the server fills it in); answers
    // keep their required lists.
    const doc = live as any;
    const limit = doc.paths['/api/v1/products'].get.parameters.find((p: any) => p.name === 'limit');
    t.match(limit, { required: false, schema: { default: 20 } });
    const body = doc.paths['/api/v1/checkout'].post.requestBody.content['application/json'].schema;
    t.notOk(
      body.properties.shippingAddress.required.includes('country'),
      'country (default NG) is optional to send',
    );
    t.ok(body.required.includes('shippingMethodId'), 'what has no default stays required');
    const answer = doc.paths['/api/v1/checkout'].post.responses['201'].content['application/json'].schema;
    t.ok(
      answer.properties.order.properties.shippingAddress.required.includes('country'),
      'answers keep theirs',
    );

    // The comparison sees a change a route would make.
    const changed = structuredClone(live);
    changed.paths['/api/v1/checkout'].post.operationId = 'placeOrder';
    t.not(await clientSchema(changed), committed, 'a renamed operation makes the file stale');
  },
);
