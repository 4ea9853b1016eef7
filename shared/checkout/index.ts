import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db, Trx } from '../db/index.js';
import { ConflictError, InsufficientStockError, NotFoundError, PgCode, pgErrorCode, ValidationError } from '../errors.js';
import { cartLines, lockCallerCart, type CartCaller } from '../cart/index.js';
import { tokenHash } from '../crypto.js';
import { spendAtCheckout } from '../credit/tender.js';
import type { StoreCreditRequest } from '../credit/schemas.js';
import { asPricingCoupon, couponRejection, findCoupon, InvalidCouponError, recordRedemption, redeemCoupon } from '../coupons/index.js';
import { withIdempotency, saveProvisional, type StoredAnswer } from '../idempotency/index.js';
import { reserveLines } from '../inventory/reservations.js';
import { shippingAddressFromBook } from '../identity/addresses.js';
import { buildOrderView, orderView, orderViewColumns, type OrderView, type OrderViewParts, type ShippingAddress } from '../orders/read.js';
import { enqueue } from '../outbox.js';
import { retryAfterLazyExpiry } from '../payments/expiry.js';
import { markOrderPaid } from '../payments/paid.js';
import { computeTotals } from '../pricing/index.js';
import { findActiveShippingMethod } from '../shipping/index.js';
import { claimOpenOrderSlot, type CheckoutClient } from './open-orders.js';
import { initializeAttempt, latestAttempt, newPaymentReference, type PaymentDeps, type PaymentStart } from './payment.js';

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

/** The caller's idempotency owner: the user, or the guest cart the token opens. */
async function ownerOf(db: Db, caller: CartCaller): Promise<string> {
  if (caller.userId) return `user:${caller.userId}`;
  const cart = caller.cartToken
    ? await db.selectFrom('carts').select('id').where('tokenHash', '=', tokenHash(caller.cartToken)).where('userId', 'is', null).executeTakeFirst()
    : undefined;
  if (!cart) throw new NotFoundError('Cart');
  return `cart:${cart.id}`;
}

async function placeOrder(trx: Trx, deps: CheckoutDeps, caller: CartCaller, input: CheckoutInput, claimId: string, client: CheckoutClient | undefined): Promise<Placed> {
  const { config } = deps;
  const cart = await lockCallerCart(trx, caller, config.CURRENCY);
  if (!cart) throw new NotFoundError('Cart');
  const lines = await cartLines(trx, cart.id, { withStock: false });
  if (lines.length === 0) throw new ConflictError('cart_empty', 'The cart is empty');
  const gone = lines.filter((l) => !l.purchasable);
  if (gone.length) throw new InsufficientStockError(gone.map((l) => ({ variantId: l.variantId, sku: l.sku, requested: l.quantity, available: 0 })));

  let email = input.email?.trim();
  let customerUserId: string | null = null;
  if (caller.userId) {
    const user = await trx.selectFrom('users').select(['id', 'email']).where('id', '=', caller.userId).executeTakeFirst();
    customerUserId = user?.id ?? null;
    email ??= user?.email;
  }
  if (!email) throw new ValidationError('An email is required to check out as a guest', [{ path: '/email', message: 'is required for guests' }]);
  // Held until this transaction ends: parallel checkouts of one client count one after the other.
  await claimOpenOrderSlot(trx, client, email, config.MAX_OPEN_ORDERS_PER_CLIENT);

  const shippingAddress = await shippingAddressOf(trx, caller, input);
  const method = await findActiveShippingMethod(trx, input.shippingMethodId);
  if (!method) throw new ValidationError('The shipping method is invalid', [{ path: '/shippingMethodId', message: 'is not an available shipping method' }]);

  const priced = lines.map((l) => ({ unitPrice: l.price, quantity: l.quantity }));
  const subtotal = computeTotals({ lines: priced, vatRate: 0 }).subtotal;
  const coupon = cart.couponId ? await findCoupon(trx, cart.couponId) : undefined;
  if (coupon) {
    const rejection = couponRejection(coupon, subtotal, new Date());
    if (rejection) throw new InvalidCouponError(rejection);
  }
  const totals = computeTotals({ lines: priced, coupon: coupon ? asPricingCoupon(coupon) : null, shipping: method, vatRate: config.VAT_RATE });

  const orderId = randomUUID();
  const shortfalls = await reserveLines(trx, orderId, lines, config.PUBLIC_URL);
  if (shortfalls.length) throw new InsufficientStockError(shortfalls);
  if (coupon) await redeemCoupon(trx, { couponId: coupon.id, subtotal, userId: customerUserId, email });

  const order = await trx
    .insertInto('orders')
    .values({
      id: orderId,
      userId: customerUserId,
      cartId: cart.id,
      email,
      customerName: shippingAddress.name,
      status: 'pending_payment',
      currency: cart.currency,
      ...totals,
      couponId: coupon?.id ?? null,
      couponCode: coupon?.code ?? null,
      clientAddress: client?.address ?? null,
      shippingMethodId: method.id,
      shippingMethodName: method.name,
      shippingAddress: JSON.stringify(shippingAddress),
      reservationExpiresAt: sql`now() + make_interval(mins => ${config.RESERVATION_TTL_MINUTES})`,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const items = await trx
    .insertInto('orderItems')
    .values(
      lines.map((l) => ({
        orderId,
        variantId: l.variantId,
        productId: l.productId,
        title: l.title,
        variantTitle: l.variantTitle,
        sku: l.sku,
        unitPrice: l.price,
        quantity: l.quantity,
        lineTotal: l.lineTotal,
        currency: l.currency,
      })),
    )
    .returning(orderViewColumns.items)
    .execute();
  if (coupon) await recordRedemption(trx, { couponId: coupon.id, orderId, userId: customerUserId, email });
  const history = await trx
    .insertInto('orderStatusHistory')
    .values({ orderId, fromStatus: null, toStatus: 'pending_payment', actorId: caller.userId })
    .returning(orderViewColumns.history)
    .execute();
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
  const reference = payable > 0 || !credit ? newPaymentReference() : null;
  const payment = reference
    ? await trx
        .insertInto('payments')
        .values({ orderId, reference, attempt: 1, amount: payable, currency: cart.currency, status: 'initializing' })
        .returning(orderViewColumns.payments)
        .executeTakeFirstOrThrow()
    : null;
  await enqueue(trx, 'system.notify', {
    type: 'order.created',
    staff: true,
    data: { orderId, number: order.number, total: totals.total, currency: cart.currency, email, itemCount: lines.reduce((n, l) => n + l.quantity, 0) },
  });
  if (!payment) {
    await markOrderPaid(trx, order, { amount: totals.total, paidAt: new Date(), note: `paid with store credit (${totals.total})` });
  }
  await trx.deleteFrom('cartItems').where('cartId', '=', cart.id).execute();
  if (cart.couponId) await trx.updateTable('carts').set({ couponId: null }).where('id', '=', cart.id).execute();
  // If this process dies before answering, a retry with the same key finishes from here.
  const paymentId = payment?.id ?? null;
  await saveProvisional<CheckoutProvisional>(trx, claimId, { status: 201, body: { orderId, paymentId, reference } });
  const payments = [credit, payment].filter((p) => p !== null);
  return { orderId, paymentId, reference, view: { order, parts: { items, history, payments, refunds: [], invoice: undefined } } };
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

/** `client`: the caller's address, for MAX_OPEN_ORDERS_PER_CLIENT (the API always passes it). */
export async function checkout(deps: CheckoutDeps, caller: CartCaller, input: CheckoutInput, idempotencyKey: string, client?: CheckoutClient) {
  if ((input.shippingAddress === undefined) === (input.shippingAddressId === undefined)) {
    throw new ValidationError('Send either shippingAddress or shippingAddressId', [
      { path: input.shippingAddress ? '/shippingAddressId' : '/shippingAddress', message: 'exactly one of shippingAddress and shippingAddressId is required' },
    ]);
  }
  const owner = await ownerOf(deps.db, caller);
  return withIdempotency<CheckoutAnswer, CheckoutProvisional>(
    deps.db,
    { scope: 'checkout', owner, key: idempotencyKey, request: input },
    {
      run: async (claimId) => {
        // Lazy expiry: a line short only because of holds the minute job has not released yet gets them
        // released (Paystack asked first: an order paid at the last second is not cancelled) and one more try.
        const placed: Placed = await retryAfterLazyExpiry(
          deps.db,
          { paystack: deps.paystack(), publicUrl: deps.config.PUBLIC_URL, holdMinutes: deps.config.PAYMENT_HOLD_MINUTES },
          () => retryOnDeadlock(() => deps.db.transaction().execute((trx) => placeOrder(trx, deps, caller, input, claimId, client))),
        );
        // Paid with store credit alone: already paid in that transaction, nothing to start at Paystack.
        if (!placed.paymentId) return answer(deps, placed.orderId, null);
        const { order, parts } = placed.view;
        const p = parts.payments.find((x) => x.id === placed.paymentId)!;
        const payment = await initializeAttempt(deps, placed.paymentId, {
          ...p,
          accessCode: null,
          orderId: order.id,
          number: order.number,
          email: order.email,
        });
        const payments = parts.payments.map((x) => (x.id === p.id ? { ...x, status: payment.status, authorizationUrl: payment.authorizationUrl } : x));
        return { status: 201, body: { order: buildOrderView(order, { ...parts, payments }), payment } };
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

export { claimOpenOrderSlot, TooManyOpenOrdersError, type CheckoutClient } from './open-orders.js';
export { newPaymentReference, initializeAttempt, latestAttempt, retryPayment, PAYSTACK_INIT_TIMEOUT_MS, type PaymentStart, type PaystackFactory } from './payment.js';
