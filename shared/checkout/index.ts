import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import { currentRequestId } from '../context.js';
import type { Orders } from '../db/types.js';
import { jobs, type JobName, type JobPayload } from '../queues.js';
import type { Config } from '../config.js';
import type { Trx } from '../db/index.js';
import { ConflictError, InsufficientStockError, NotFoundError, PgCode, pgErrorCode, ValidationError } from '../errors.js';
import { lockCallerCart, type CartCaller, type CartLine } from '../cart/index.js';
import { tokenHash } from '../crypto.js';
import { spendAtCheckout } from '../credit/tender.js';
import type { StoreCreditRequest } from '../credit/schemas.js';
import { asPricingCoupon, couponRejection, InvalidCouponError, type CouponRow } from '../coupons/index.js';
import { completeKey, completion, withIdempotency, saveProvisional, type StoredAnswer } from '../idempotency/index.js';
import { alertLowStock, type StockAfterChange } from '../inventory/alerts.js';
import type { Shortfall } from '../inventory/reservations.js';
import { shippingAddressFromBook } from '../identity/addresses.js';
import { buildOrderView, orderView, orderViewColumns, type OrderView, type OrderViewParts, type ShippingAddress } from '../orders/read.js';
import { assertJobPayload, enqueue } from '../outbox.js';
import { retryAfterLazyExpiry } from '../payments/expiry.js';
import { markOrderPaid } from '../payments/paid.js';
import { computeTotals } from '../pricing/index.js';
import { TooManyOpenOrdersError, type CheckoutClient } from './open-orders.js';
import { initializeAttempt, latestAttempt, newPaymentReference, type InitializedOutcome, type PaymentDeps, type PaymentStart } from './payment.js';

/**
 * Checkout: Idempotency-Key → one transaction (lock cart, reserve every line with a conditional UPDATE,
 * redeem the coupon with a conditional UPDATE, order + items + history + first payment attempt + outbox,
 * empty the cart) → after the commit, initialize the Paystack transaction.
 *
 * Split tender (`storeCredit`): the credit is spent in the same transaction (the ledger's conditional
 * update, as a `store_credit` payment row), and the Paystack attempt asks only for `total − credit`. Credit
 * covering the whole total pays the order at once, by the same path as a verified payment (markOrderPaid),
 * and no Paystack transaction is started (`payment: null`).
 *
 * The transaction is two calls of SQL functions (migrations/2026121000_checkout_functions.ts):
 * checkout_open (the reads, the cart lock and the open-order count) and, after pricing here,
 * checkout_place (every write); the rules are theirs, stated there. Checkouts of one owner take their turn
 * in this process before they take a pool connection (oneAtATime).
 *
 * Expired reservations hold their units until released (shared/inventory/availability.ts: one rule for
 * "available", the same as the reserve statement's). When a line comes up short, checkout expires the
 * unpaid, expired orders holding those variants (each in its own short transaction, exactly what the minute
 * job does, Paystack asked first) and tries once more. The fast path pays nothing.
 */

export type { ShippingAddress };

export interface CheckoutInput {
  email?: string;
  /** Exactly one of these: an address, or the id of one in the signed-in customer's address book. */
  shippingAddress?: ShippingAddress;
  shippingAddressId?: string;
  shippingMethodId: string;
  /** Store credit to spend: kobo, or "max" (as much as the balance and the total allow). */
  storeCredit?: StoreCreditRequest;
}

/** The address the order ships to, read in the checkout transaction; another user's saved address is 404. */
async function shippingAddressOf(trx: Trx, caller: CartCaller, input: CheckoutInput): Promise<ShippingAddress> {
  if (input.shippingAddress) return input.shippingAddress;
  return shippingAddressFromBook(trx, caller.userId, input.shippingAddressId!);
}

export interface CheckoutDeps extends PaymentDeps {
  config: Pick<
    Config,
    'PUBLIC_URL' | 'ENCRYPTION_KEY' | 'ORDER_LINK_TTL_DAYS' | 'VAT_RATE' | 'CURRENCY' | 'RESERVATION_TTL_MINUTES' | 'PAYMENT_HOLD_MINUTES' | 'MAX_OPEN_ORDERS_PER_CLIENT'
  >;
}

export interface CheckoutAnswerBody {
  order: OrderView;
  payment: PaymentStart | null;
}
type CheckoutAnswer = StoredAnswer<CheckoutAnswerBody, 201>;
/** What the order's transaction commits with, so a retry after a crash can finish the answer. */
type CheckoutProvisional = StoredAnswer<{ orderId: string; paymentId: string | null; reference: string | null }, 201>;

interface Placed {
  orderId: string;
  /** The Paystack attempt; null when store credit paid the whole total. */
  paymentId: string | null;
  reference: string | null;
  /** What the transaction wrote, to answer without reading it back. */
  view: { order: Parameters<typeof buildOrderView>[0]; parts: OrderViewParts };
}

/**
 * The caller's idempotency owner: the user, or the guest cart the token opens, named by the token's hash
 * (unique, like the cart's id) so that finding it costs no statement. A token that opens no guest cart
 * gets its 404 from the checkout's own first statement, and a failed request's key is dropped.
 * purgeGuestCarts (shared/customers/carts.ts) reads the same form to spare a cart that is checking out.
 */
function ownerOf(caller: CartCaller): string {
  if (caller.userId) return `user:${caller.userId}`;
  if (!caller.cartToken) throw new NotFoundError('Cart');
  return `cart-token:${tokenHash(caller.cartToken)}`;
}

/** What checkout_open answers (migrations/2026121000_checkout_functions.ts). */
interface Opened {
  cart: { id: string; couponId: string | null; currency: string } | null;
  lines: (Omit<CartLine, 'priceChanged' | 'lineTotal' | 'available'> & { purchasable: boolean })[];
  userId: string | null;
  userEmail: string | null;
  open: { n: number; wait: number | null } | null;
  method: { id: string; name: string; price: number; freeOver: number | null } | null;
  coupon: Json<CouponRow> | null;
}

/** What checkout_place answers: the rows it wrote, or why it refused (the caller throws, the transaction rolls back). */
interface PlacedRows {
  shortfalls?: Shortfall[];
  couponRefused?: Json<CouponRow> | null;
  couponUsedUp?: true;
  order: Record<string, unknown>;
  items: OrderViewParts['items'];
  history: Json<OrderViewParts['history'][number]>;
  payment: Json<OrderViewParts['payments'][number]> | null;
  changed: StockAfterChange[];
}

/** A row as JSON carries its timestamps as strings. */
type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };
const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : (v as Date | null));
const couponFromJson = (c: Json<CouponRow>): CouponRow => ({
  ...c,
  startsAt: date(c.startsAt),
  endsAt: date(c.endsAt),
  createdAt: date(c.createdAt)!,
  updatedAt: date(c.updatedAt)!,
});
/** to_jsonb(orders row) → the row as Kysely reads it (camelCase keys, timestamps as Date). */
function orderFromJson(o: Record<string, unknown>): Selectable<Orders> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = k.endsWith('_at') ? date(v) : v;
  return out as unknown as Selectable<Orders>;
}

/** An outbox row for checkout_place: what shared/outbox.ts `enqueue` writes, checked the same way. */
function outboxRow<N extends JobName>(name: N, payload: JobPayload<N>, setNumber = false) {
  assertJobPayload(name, payload);
  return { queue: jobs[name].queue, name, payload, requestId: currentRequestId() ?? null, setNumber };
}

const byVariant = <L extends { variantId: string }>(a: L, b: L) => (a.variantId < b.variantId ? -1 : a.variantId > b.variantId ? 1 : 0);

/**
 * The order's transaction: two function calls (checkout_open, checkout_place) between BEGIN and COMMIT,
 * plus statements only on rare paths (merging a guest cart at sign-in, an address from the book, store
 * credit, a low-stock crossing).
 */
async function placeOrder(trx: Trx, deps: CheckoutDeps, caller: CartCaller, input: CheckoutInput, claimId: string, client: CheckoutClient | undefined): Promise<Placed> {
  const { config } = deps;
  // Signing in with a guest token merges that cart first (locked, in TypeScript: a rare path).
  if (caller.userId && caller.cartToken) await lockCallerCart(trx, caller, config.CURRENCY);
  const inputEmail = input.email?.trim();
  const clientAddress = client && !client.exempt ? client.address : null;
  const { rows: openRows } = await sql<{ r: Opened }>`SELECT checkout_open(${JSON.stringify({
    user_id: caller.userId,
    token_hash: caller.userId || !caller.cartToken ? null : tokenHash(caller.cartToken),
    currency: config.CURRENCY,
    email: inputEmail ?? null,
    client_address: clientAddress,
    shipping_method_id: input.shippingMethodId,
  })}::jsonb) AS r`.execute(trx);
  const opened = openRows[0].r;
  const cart = opened.cart;
  if (!cart) throw new NotFoundError('Cart');
  const lines = opened.lines;
  if (lines.length === 0) throw new ConflictError('cart_empty', 'The cart is empty');
  const gone = lines.filter((l) => !l.purchasable);
  if (gone.length) throw new InsufficientStockError(gone.map((l) => ({ variantId: l.variantId, sku: l.sku, requested: l.quantity, available: 0 })));

  const customerUserId = opened.userId;
  const email = inputEmail ?? opened.userEmail ?? undefined;
  if (!email) throw new ValidationError('An email is required to check out as a guest', [{ path: '/email', message: 'is required for guests' }]);
  // checkout_open counted under the advisory locks, held until this transaction ends (open-orders.ts).
  if (opened.open && opened.open.n >= config.MAX_OPEN_ORDERS_PER_CLIENT) throw new TooManyOpenOrdersError(config.MAX_OPEN_ORDERS_PER_CLIENT, opened.open.wait ?? 60);

  const shippingAddress = await shippingAddressOf(trx, caller, input);
  const method = opened.method;
  if (!method) throw new ValidationError('The shipping method is invalid', [{ path: '/shippingMethodId', message: 'is not an available shipping method' }]);

  const priced = lines.map((l) => ({ unitPrice: l.price, quantity: l.quantity }));
  const subtotal = computeTotals({ lines: priced, vatRate: 0 }).subtotal;
  const coupon = opened.coupon ? couponFromJson(opened.coupon) : undefined;
  if (coupon) {
    const rejection = couponRejection(coupon, subtotal, new Date());
    if (rejection) throw new InvalidCouponError(rejection);
  }
  const totals = computeTotals({ lines: priced, coupon: coupon ? asPricingCoupon(coupon) : null, shipping: method, vatRate: config.VAT_RATE });

  const orderId = randomUUID();
  // Store credit: the tail (credit, payment, outbox, emptied cart, provisional answer) stays in TypeScript.
  const withCredit = input.storeCredit !== undefined && input.storeCredit !== 0;
  const reference = withCredit ? null : newPaymentReference();
  const paymentId = withCredit ? null : randomUUID();
  const itemCount = lines.reduce((n, l) => n + l.quantity, 0);
  const notice = { type: 'order.created', staff: true, data: { orderId, number: '', total: totals.total, currency: cart.currency, email, itemCount } } as const;
  const { rows } = await sql<{ r: PlacedRows }>`SELECT checkout_place(${JSON.stringify({
    order_id: orderId,
    lines: lines.map((l) => ({ variantId: l.variantId, quantity: l.quantity, sku: l.sku })).sort(byVariant),
    coupon: coupon ? { id: coupon.id, subtotal, user_id: customerUserId, email } : null,
    order: {
      user_id: customerUserId,
      cart_id: cart.id,
      email,
      customer_name: shippingAddress.name,
      currency: cart.currency,
      ...Object.fromEntries(Object.entries(totals)),
      coupon_id: coupon?.id ?? null,
      coupon_code: coupon?.code ?? null,
      client_address: client?.address ?? null,
      shipping_method_id: method.id,
      shipping_method_name: method.name,
      shipping_address: shippingAddress,
    },
    reservation_minutes: config.RESERVATION_TTL_MINUTES,
    items: lines.map((l) => ({
      variant_id: l.variantId,
      product_id: l.productId,
      title: l.title,
      variant_title: l.variantTitle,
      sku: l.sku,
      unit_price: l.price,
      quantity: l.quantity,
      line_total: l.price * l.quantity,
      currency: l.currency,
    })),
    actor_id: caller.userId,
    finish: !withCredit,
    payment: paymentId ? { id: paymentId, reference } : null,
    outbox: withCredit ? [] : [outboxRow('system.notify', notice, true)],
    clear_coupon: cart.couponId !== null,
    claim_id: claimId,
    provisional: { status: 201, body: { orderId, paymentId, reference } } satisfies CheckoutProvisional,
  })}::jsonb) AS r`.execute(trx);
  const placed = rows[0].r;
  if (placed.shortfalls) throw new InsufficientStockError(placed.shortfalls);
  if (placed.couponUsedUp) throw new InvalidCouponError('used_up', 'You have already used this coupon as often as allowed');
  if ('couponRefused' in placed) {
    const current = placed.couponRefused ? couponFromJson(placed.couponRefused) : undefined;
    throw new InvalidCouponError((current && couponRejection(current, subtotal, new Date())) || (current ? 'used_up' : 'not_found'));
  }
  await alertLowStock(trx, placed.changed, config.PUBLIC_URL);
  const order = orderFromJson(placed.order);
  const items = placed.items;
  const history = [{ ...placed.history, createdAt: date(placed.history.createdAt)! }];
  if (!withCredit) {
    const payment = { ...placed.payment!, paidAt: date(placed.payment!.paidAt), createdAt: date(placed.payment!.createdAt)! };
    return { orderId, paymentId, reference, view: { order, parts: { items, history, payments: [payment], refunds: [], invoice: undefined } } };
  }

  // Late in the transaction: the account's row lock is held only from here to the commit.
  const credit = await spendAtCheckout(trx, {
    userId: customerUserId,
    orderId,
    orderNumber: order.number,
    total: totals.total,
    currency: cart.currency,
    want: input.storeCredit,
  });
  const payable = totals.total - (credit?.amount ?? 0);
  // Paystack for the rest; only credit that covers everything means no Paystack transaction at all.
  const creditReference = payable > 0 || !credit ? newPaymentReference() : null;
  const payment = creditReference
    ? await trx
        .insertInto('payments')
        .values({ orderId, reference: creditReference, attempt: 1, amount: payable, currency: cart.currency, status: 'initializing' })
        .returning(orderViewColumns.payments)
        .executeTakeFirstOrThrow()
    : null;
  await enqueue(trx, 'system.notify', { ...notice, data: { ...notice.data, number: order.number } });
  if (!payment) {
    await markOrderPaid(trx, order, { amount: totals.total, paidAt: new Date(), note: `paid with store credit (${totals.total})` });
  }
  await trx.deleteFrom('cartItems').where('cartId', '=', cart.id).execute();
  if (cart.couponId) await trx.updateTable('carts').set({ couponId: null }).where('id', '=', cart.id).execute();
  // If this process dies before answering, a retry with the same key finishes from here.
  const creditPaymentId = payment?.id ?? null;
  await saveProvisional<CheckoutProvisional>(trx, claimId, { status: 201, body: { orderId, paymentId: creditPaymentId, reference: creditReference } });
  const payments = [credit, payment].filter((p) => p !== null);
  return { orderId, paymentId: creditPaymentId, reference: creditReference, view: { order, parts: { items, history, payments, refunds: [], invoice: undefined } } };
}

async function answer(deps: CheckoutDeps, orderId: string, payment: PaymentStart | null): Promise<CheckoutAnswer> {
  const order = await orderView(deps.db, orderId);
  return { status: 201, body: { order, payment } };
}

/**
 * Inventory rows are locked in variant order, but the catalog's stock triggers lock product rows when a
 * variant sells out, in another order: a rare deadlock is possible. Postgres aborts one side; the whole
 * transaction rolled back, so running it again is safe.
 */
async function retryOnDeadlock<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const code = pgErrorCode(err);
      if (i >= attempts || (code !== PgCode.deadlockDetected && code !== PgCode.serializationFailure)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * i));
    }
  }
}

/** The tail of each owner's queue of order transactions in this process. */
const turns = new Map<string, Promise<void>>();

/**
 * Runs the order transactions of one owner (a user, a guest cart) one after the other in this process,
 * before they take a pool connection. They would serialize on the cart's row lock anyway; waiting there
 * holds a connection each, and 50 checkouts of one customer took the whole pool (and answered 500 to
 * everyone once the pool's wait ran out). Other processes still meet at the row lock, which stays the rule.
 */
async function oneAtATime<T>(owner: string, fn: () => Promise<T>): Promise<T> {
  const before = turns.get(owner) ?? Promise.resolve();
  let done!: () => void;
  const gate = new Promise<void>((resolve) => (done = resolve));
  const mine = before.then(() => gate);
  turns.set(owner, mine);
  await before;
  try {
    return await fn();
  } finally {
    done();
    if (turns.get(owner) === mine) turns.delete(owner);
  }
}

/** `client`: the caller's address, for MAX_OPEN_ORDERS_PER_CLIENT (the API always passes it). */
export async function checkout(deps: CheckoutDeps, caller: CartCaller, input: CheckoutInput, idempotencyKey: string, client?: CheckoutClient) {
  if ((input.shippingAddress === undefined) === (input.shippingAddressId === undefined)) {
    throw new ValidationError('Send either shippingAddress or shippingAddressId', [
      { path: input.shippingAddress ? '/shippingAddressId' : '/shippingAddress', message: 'exactly one of shippingAddress and shippingAddressId is required' },
    ]);
  }
  const owner = ownerOf(caller);
  let initialized: InitializedOutcome | undefined;
  return withIdempotency<CheckoutAnswer, CheckoutProvisional>(
    deps.db,
    { scope: 'checkout', owner, key: idempotencyKey, request: input },
    {
      run: async (claimId) => {
        // Lazy expiry: a line short only because of holds the minute job has not released yet gets them
        // released (Paystack asked first: an order paid at the last second is not cancelled) and one more try.
        const placed: Placed = await oneAtATime(owner, () =>
          retryAfterLazyExpiry(
            deps.db,
            { paystack: deps.paystack(), publicUrl: deps.config.PUBLIC_URL, holdMinutes: deps.config.PAYMENT_HOLD_MINUTES },
            () => retryOnDeadlock(() => deps.db.transaction().execute((trx) => placeOrder(trx, deps, caller, input, claimId, client))),
          ),
        );
        // Paid with store credit alone: already paid in that transaction, nothing to start at Paystack.
        if (!placed.paymentId) return answer(deps, placed.orderId, null);
        const { order, parts } = placed.view;
        const p = parts.payments.find((x) => x.id === placed.paymentId)!;
        const payment = await initializeAttempt(
          deps,
          placed.paymentId,
          { ...p, accessCode: null, orderId: order.id, number: order.number, email: order.email },
          (outcome) => (initialized = outcome),
        );
        const payments = parts.payments.map((x) => (x.id === p.id ? { ...x, status: payment.status, authorizationUrl: payment.authorizationUrl } : x));
        return { status: 201, body: { order: buildOrderView(order, { ...parts, payments }), payment } };
      },
      // The Paystack outcome and the key's final answer in one statement (a crash before it: the provisional
      // answer recovers, and the attempt row still says `initializing`, as when the crash came before the call).
      complete: async (claimId, result) => {
        const outcome = initialized;
        if (!outcome) return completeKey(deps.db, claimId, result);
        await deps.db
          .with('attempt', (db) => db.updateTable('payments').set(outcome.set).where('id', '=', outcome.paymentId).where('status', '=', 'initializing'))
          .updateTable('idempotencyKeys')
          .set(completion(result))
          .where('id', '=', claimId)
          .execute();
      },
      recover: async (provisional) => {
        const { orderId, paymentId } = provisional.body;
        if (!paymentId) return answer(deps, orderId, null);
        // The crash may have come before the Paystack call: start it now if the attempt never got one.
        const payment = await initializeAttempt(deps, paymentId).catch(() => latestAttempt(deps.db, orderId));
        return answer(deps, orderId, payment);
      },
    },
  );
}

export { TooManyOpenOrdersError, type CheckoutClient } from './open-orders.js';
export { newPaymentReference, initializeAttempt, latestAttempt, retryPayment, PAYSTACK_INIT_TIMEOUT_MS, type PaymentStart, type PaystackFactory } from './payment.js';
