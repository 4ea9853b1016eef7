import t from 'tap';
import { buildTestApp, testEnv } from '../support/harness.js';
import { createProduct, createUser } from '../support/fixtures.js';

/**
 * Round trips per add-to-cart (issue 10): 12 statements (BEGIN, cart lock, variant, line, line count,
 * stock, write, touch, cart, lines, stock, COMMIT) became one: cart_add_item locks, checks, upserts and
 * returns the cart. Refusals cost the same one statement and write nothing.
 */
t.test('add-to-cart is one statement, for a guest and a signed-in customer, refused or not', async (t) => {
  const { config, db } = await testEnv(t);
  const queries: string[] = [];
  const app = await buildTestApp(t, config, { onQuery: (q) => queries.push(q) });
  const { variants } = await createProduct(db, [{ price: 1_000, onHand: 5 }, { price: 2_000, onHand: 5 }]);
  const user = await createUser(db);
  const bearer = `Bearer ${app.signAccessToken({ id: user.id, role: 'customer' })}`;
  const token = (await app.inject({ method: 'POST', url: '/api/v1/cart' })).json().token as string;

  async function add(headers: Record<string, string>, variantId: string, quantity: number, status: number) {
    queries.length = 0;
    const res = await app.inject({ method: 'POST', url: '/api/v1/cart/items', headers, payload: { variantId, quantity } });
    t.equal(res.statusCode, status, res.body.slice(0, 200));
    const cartStatements = queries.filter((q) => !/revocat|token_revocations|users/i.test(q) || q.includes('cart_add_item'));
    return { res, n: queries.length, cartStatements };
  }

  const first = await add({ 'x-cart-token': token }, variants[0].id, 2, 200);
  t.equal(first.n, 1, `a guest's add: one statement (${queries.join(' | ')})`);
  t.match(first.res.json(), { itemCount: 2, subtotal: 2_000, items: [{ variantId: variants[0].id, quantity: 2, available: 5, priceChanged: false }] });
  const second = await add({ 'x-cart-token': token }, variants[1].id, 1, 200);
  t.equal(second.n, 1, 'a second line: one statement');
  t.equal(second.res.json().items.length, 2);
  const short = await add({ 'x-cart-token': token }, variants[0].id, 4, 409);
  t.equal(short.res.json().code, 'insufficient_stock');
  t.match(short.res.json().lines, [{ variantId: variants[0].id, requested: 6, available: 5 }]);
  t.equal((await db.selectFrom('cartItems').select('quantity').where('variantId', '=', variants[0].id).executeTakeFirstOrThrow()).quantity, 2, 'a refusal writes nothing');

  const signedIn = await add({ authorization: bearer }, variants[0].id, 1, 200);
  t.equal(signedIn.cartStatements.length, 1, `signed in: one cart statement (${queries.join(' | ')})`);
  t.equal(signedIn.res.json().itemCount, 1, 'the signed-in customer’s own cart, created on first use');
});
