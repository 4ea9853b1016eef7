import type { Test } from 'tap';
import t from 'tap';
import { availableOf, stockLevels } from '../../shared/inventory/index.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { eventually, testEnv } from '../support/harness.js';
import { address, createProduct, createShipping, createUser, expireReservationOf, newKey, startServer } from '../support/fixtures.js';

/**
 * "Available" has one meaning: on_hand − reserved, a hold counting until it is released. Every place that
 * shows or checks stock must agree, also in the window where a reservation has expired and the expiry job
 * has not released it yet.
 */
async function setup(t: Test) {
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_availability' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey });
  const server = await startServer(t, config);
  const ship = await createShipping(db);
  const manager = await createUser(db, { role: 'manager' });
  const staff = { authorization: server.bearer('manager', manager.id) };
  const { product, variants } = await createProduct(db, [{ onHand: 3, threshold: 1 }]);
  const variant = variants[0];

  const newCart = async () => ({ 'x-cart-token': (await server.call('POST', '/cart')).body.token as string });

  /** A guest order holding `quantity` units (reserved at checkout, unpaid). */
  async function holdingOrder(quantity: number) {
    const h = await newCart();
    const added = await server.call('POST', '/cart/items', { headers: h, body: { variantId: variant.id, quantity } });
    t.equal(added.status, 200, JSON.stringify(added.body));
    const res = await server.call('POST', '/checkout', {
      headers: { ...h, 'idempotency-key': newKey() },
      body: { email: 'guest@example.test', shippingAddress: address, shippingMethodId: ship.id },
    });
    t.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.order as { id: string };
  }

  /** What every reader says about the variant right now. */
  async function everyView(cart: Record<string, string>) {
    const inventory = (await server.call('GET', `/inventory?sku=${encodeURIComponent(variant.sku)}`, { headers: staff })).body.items[0];
    const lowStock = (await server.call('GET', `/inventory?lowStock=true&sku=${encodeURIComponent(variant.sku)}`, { headers: staff })).body.items;
    const alerts = (await server.call('GET', '/inventory/alerts?limit=100', { headers: staff })).body.items as { variantId: string; available: number }[];
    const detail = (await server.call('GET', `/products/${product.id}`)).body;
    const listing = (await server.call('GET', '/products?limit=100')).body.items.find((p: { id: string }) => p.id === product.id);
    const inStockFilter = (await server.call('GET', '/products?inStock=true&limit=100')).body.items.some((p: { id: string }) => p.id === product.id);
    const cartLine = (await server.call('GET', '/cart', { headers: cart })).body.items[0];
    const alert = alerts.find((a) => a.variantId === variant.id);
    return {
      inventory: inventory.available,
      domain: (await stockLevels(db, [variant.id])).get(variant.id)?.available,
      availableOf: await availableOf(db, variant.id),
      productDetail: detail.variants[0].available,
      cart: cartLine.available,
      alerts: alert ? alert.available : 'not alerted',
      lowStockFilter: lowStock.length === 1,
      detailInStock: detail.inStock,
      listingInStock: listing.inStock,
      inStockFilter,
    };
  }

  /** Every reader agrees on `available` (the listing and alerts derive from it with the threshold 1). */
  const expected = (available: number) => ({
    inventory: available,
    domain: available,
    availableOf: available,
    productDetail: available,
    cart: available,
    alerts: available <= 1 ? available : 'not alerted',
    lowStockFilter: available <= 1,
    detailInStock: available > 0,
    listingInStock: available > 0,
    inStockFilter: available > 0,
  });

  /** Caches (catalog listing/detail) follow NOTIFYs: give them their moment. */
  async function agree(t: Test, cart: Record<string, string>, available: number, message: string) {
    let last: unknown;
    try {
      await eventually(
        async () => {
          last = await everyView(cart);
          return JSON.stringify(last) === JSON.stringify(expected(available));
        },
        { timeoutMs: 5_000 },
      );
    } catch {
      // Fall through to the assertion, which shows who disagrees.
    }
    t.same(last, expected(available), message);
  }

  return { emu, db, server, variant, newCart, holdingOrder, agree };
}

t.test('an expired, unreleased hold is counted the same way by inventory, product detail, listing, alerts and cart', async (t) => {
  const { db, server, variant, newCart, holdingOrder, agree } = await setup(t);
  // A shopper with the variant in their cart (added while there was stock), watching it.
  const watcher = await newCart();
  t.equal((await server.call('POST', '/cart/items', { headers: watcher, body: { variantId: variant.id, quantity: 1 } })).status, 200);
  await agree(t, watcher, 3, 'before any order: 3 everywhere');

  const held = await holdingOrder(3);
  await agree(t, watcher, 0, 'held by an unpaid order: 0 everywhere');

  await expireReservationOf(db, held.id);
  await agree(t, watcher, 0, 'expired but not released yet: still held, 0 everywhere');

  // A buyer who needs the units does not wait for the minute job: adding to the cart releases the
  // expired hold (Paystack says it was never paid) and then finds the stock.
  const buyer = await newCart();
  const added = await server.call('POST', '/cart/items', { headers: buyer, body: { variantId: variant.id, quantity: 3 } });
  t.equal(added.status, 200, JSON.stringify(added.body));
  t.equal(added.body.items[0].available, 3);
  t.equal((await db.selectFrom('orders').select('status').where('id', '=', held.id).executeTakeFirstOrThrow()).status, 'cancelled');
  await agree(t, watcher, 3, 'released: 3 everywhere again');
});

t.test('a hold Paystack cannot vouch for stays held for every reader, and adding to the cart is refused', async (t) => {
  const { emu, db, server, variant, newCart, holdingOrder, agree } = await setup(t);
  const watcher = await newCart();
  t.equal((await server.call('POST', '/cart/items', { headers: watcher, body: { variantId: variant.id, quantity: 1 } })).status, 200);
  const held = await holdingOrder(3);
  await expireReservationOf(db, held.id);

  // The customer may have paid at the last second: with Paystack down, nothing releases the hold (the
  // order keeps it up to PAYMENT_HOLD_MINUTES), so nobody may call those units available.
  await emu.startOutage();
  const buyer = await newCart();
  const refused = await server.call('POST', '/cart/items', { headers: buyer, body: { variantId: variant.id, quantity: 1 } });
  t.equal(refused.status, 409, JSON.stringify(refused.body));
  t.equal(refused.body.code, 'insufficient_stock');
  t.equal((await db.selectFrom('orders').select('status').where('id', '=', held.id).executeTakeFirstOrThrow()).status, 'pending_payment');
  await agree(t, watcher, 0, 'kept for an unverifiable payment: 0 everywhere');

  await emu.endOutage();
  const added = await server.call('POST', '/cart/items', { headers: buyer, body: { variantId: variant.id, quantity: 1 } });
  t.equal(added.status, 200, JSON.stringify(added.body));
  await agree(t, watcher, 3, 'Paystack back, never paid: released, 3 everywhere');
});
