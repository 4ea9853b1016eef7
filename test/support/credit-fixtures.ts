/** Store credit tests' stack: the payment stack (no worker), a customer, a product, free shipping, HTTP helpers. */
import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import type { Db } from '../../shared/db/index.js';
import { address, createProduct, createShipping, createUser } from './fixtures.js';
import { tokenFor } from './harness.js';
import { startPaymentStack } from './payment-fixtures.js';

export async function creditSetup(t: Test) {
  const stack = await startPaymentStack(t, {
    worker: false,
    // Many checkouts of one customer from this test's one address: not what the per-client caps are for.
    // Twenty connections: racing checkouts of one customer hold theirs while they queue on the cart lock.
    env: { RATE_LIMIT_ALLOWLIST: '127.0.0.1', MAX_OPEN_ORDERS_PER_CLIENT: '1000', DATABASE_POOL_SIZE: '20' },
  });
  const { db, app } = stack;
  const base = `${stack.url}/api/v1`;
  async function call(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }
  const customer = await createUser(db, { role: 'customer' });
  const auth = (id = customer.id) => ({ authorization: tokenFor(app, 'customer', id) });
  const ship = await createShipping(db, { price: 0 });
  const { variants } = await createProduct(db, [{ price: 1_000_000, onHand: 500 }]);
  const variantId = variants[0].id;

  const grant = async (amount: number, userId = customer.id) => {
    const res = await call('POST', `/admin/users/${userId}/credit`, {
      headers: { authorization: tokenFor(app, 'admin'), 'idempotency-key': randomUUID() },
      body: { amount, reason: 'test grant' },
    });
    if (res.status !== 201) throw new Error(`grant: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  /** A guest cart holding `quantity` of the variant; a signed-in checkout with its token checks it out. */
  const cartOf = async (quantity = 1) => {
    const token = (await call('POST', '/cart')).body.token as string;
    const added = await call('POST', '/cart/items', { headers: { 'x-cart-token': token }, body: { variantId, quantity } });
    if (added.status !== 200) throw new Error(`cart: ${added.status}`);
    return token;
  };
  const checkout = async (
    storeCredit: number | 'max' | undefined,
    o: { key?: string; token?: string; userId?: string | null; email?: string } = {},
  ) => {
    const token = o.token ?? (await cartOf());
    const signedIn = o.userId === null ? {} : auth(o.userId ?? customer.id);
    return call('POST', '/checkout', {
      headers: { ...signedIn, 'x-cart-token': token, 'idempotency-key': o.key ?? randomUUID() },
      body: {
        shippingAddress: address,
        shippingMethodId: ship.id,
        ...(o.email ? { email: o.email } : {}),
        ...(storeCredit === undefined ? {} : { storeCredit }),
      },
    });
  };
  const balance = async (userId = customer.id) =>
    (await db.selectFrom('creditAccounts').select('balance').where('userId', '=', userId).executeTakeFirst())?.balance ?? 0;
  const entries = (userId = customer.id) =>
    db.selectFrom('creditEntries').selectAll().where('accountId', '=', userId).orderBy('seq').execute();
  const refund = (orderId: string, body: Record<string, unknown>) =>
    call('POST', `/admin/orders/${orderId}/refunds`, {
      headers: { authorization: tokenFor(app, 'manager'), 'idempotency-key': randomUUID() },
      body,
    });
  const payAtPaystack = async (reference: string, amount: number) => {
    await stack.emu.pay(reference, { webhook: false, amount });
    return call('POST', `/payments/${reference}/verify`);
  };
  return { ...stack, call, customer, auth, ship, variantId, grant, cartOf, checkout, balance, entries, refund, payAtPaystack };
}

/** The ledger's invariants for one account: seq 1..n, each balanceAfter the running sum (never < 0), balance = Σ. */
export async function assertLedger(t: Test, db: Db, userId: string) {
  const rows = await db.selectFrom('creditEntries').select(['seq', 'amount', 'balanceAfter']).where('accountId', '=', userId).orderBy('seq').execute();
  t.same(
    rows.map((e) => e.seq),
    rows.map((_, i) => i + 1),
    'seq is 1..n without a gap',
  );
  let running = 0;
  let ok = true;
  for (const e of rows) {
    running += e.amount;
    if (e.balanceAfter !== running || running < 0) ok = false;
  }
  t.ok(ok, 'every balanceAfter is the running sum and never negative');
  const account = await db.selectFrom('creditAccounts').select('balance').where('userId', '=', userId).executeTakeFirstOrThrow();
  t.equal(account.balance, running, 'balance = Σ entries = the last balanceAfter');
  return rows;
}

export const TOTAL = 1_075_000; // 1 000 000 + 7.5% VAT, free shipping
