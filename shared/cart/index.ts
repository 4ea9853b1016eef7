import { randomBytes } from 'node:crypto';
import { tokenHash } from '../crypto.js';
import { sql } from 'kysely';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { ConflictError, InsufficientStockError, NotFoundError, ValidationError } from '../errors.js';
import { asPricingCoupon, checkCoupon, couponMessage, couponRejection, customerRedemptions, findCoupon, type CouponRow } from '../coupons/index.js';
import { stockLevels } from '../inventory/availability.js';
import { computeTotals } from '../pricing/index.js';
import { findActiveShippingMethod } from '../shipping/index.js';
import type { CartCoupon, CartLine, CartView } from './schemas.js';

export type { CartCoupon, CartLine, CartView } from './schemas.js';

/**
 * Carts live in Postgres. A guest cart is found by the hash of its `X-Cart-Token` (a random secret shown
 * once, at creation); a signed-in user has one cart (carts.user_id is unique). A signed-in call that also
 * carries a guest token merges the guest cart into the user's (quantities added, capped at what is
 * available) and empties the guest cart, which is kept so the token still opens orders it placed.
 *
 * Lines keep the unit price seen when added (`unitPrice`); the view shows the current `price` and
 * `priceChanged`. Totals and checkout use the current price: the snapshot is there to tell the customer.
 */

const MAX_LINES = 100;
export const MAX_QUANTITY = 99;

const newCartToken = () => randomBytes(32).toString('base64url');

export interface CartCaller {
  userId: string | null;
  /** The raw X-Cart-Token header, if any. */
  cartToken?: string;
}

export interface CartRow {
  id: string;
  userId: string | null;
  couponId: string | null;
  currency: string;
  createdAt: Date;
  updatedAt: Date;
}

const cartColumns = ['id', 'userId', 'couponId', 'currency', 'createdAt', 'updatedAt'] as const;

async function guestCartByToken(db: DbOrTrx, token: string | undefined, lock = false) {
  if (!token) return undefined;
  let q = db.selectFrom('carts').select(cartColumns).where('tokenHash', '=', tokenHash(token)).where('userId', 'is', null);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** Creates a guest cart; the token is returned once and only its hash is stored. */
export async function createGuestCart(db: DbOrTrx, currency: string): Promise<{ cart: CartRow; token: string }> {
  const token = newCartToken();
  const cart = await db.insertInto('carts').values({ tokenHash: tokenHash(token), currency }).returning(cartColumns).executeTakeFirstOrThrow();
  return { cart, token };
}

async function userCart(trx: Trx, userId: string, currency: string): Promise<CartRow> {
  await trx.insertInto('carts').values({ userId, currency }).onConflict((oc) => oc.column('userId').doNothing()).execute();
  return trx.selectFrom('carts').select(cartColumns).where('userId', '=', userId).forUpdate().executeTakeFirstOrThrow();
}

/**
 * Moves a guest cart's lines into the user's cart (both locked): quantities add up, capped at the
 * available stock and at 99; the guest's coupon is kept if the user's cart has none.
 */
async function mergeGuestCart(trx: Trx, guest: CartRow, target: CartRow): Promise<void> {
  const guestLines = await trx.selectFrom('cartItems').select(['variantId', 'quantity', 'unitPrice']).where('cartId', '=', guest.id).execute();
  if (guestLines.length) {
    const mine = await trx.selectFrom('cartItems').select(['id', 'variantId', 'quantity']).where('cartId', '=', target.id).execute();
    const stock = await stockLevels(trx, guestLines.map((l) => l.variantId));
    let lineCount = mine.length;
    for (const line of guestLines) {
      const existing = mine.find((m) => m.variantId === line.variantId);
      const available = stock.get(line.variantId)?.available ?? 0;
      const wanted = Math.min((existing?.quantity ?? 0) + line.quantity, available, MAX_QUANTITY);
      if (existing) {
        if (wanted > existing.quantity) await trx.updateTable('cartItems').set({ quantity: wanted }).where('id', '=', existing.id).execute();
      } else if (wanted >= 1 && lineCount < MAX_LINES) {
        await trx.insertInto('cartItems').values({ cartId: target.id, variantId: line.variantId, quantity: wanted, unitPrice: line.unitPrice }).execute();
        lineCount++;
      }
    }
    await trx.deleteFrom('cartItems').where('cartId', '=', guest.id).execute();
  }
  if (guest.couponId && !target.couponId) {
    await trx.updateTable('carts').set({ couponId: guest.couponId }).where('id', '=', target.id).execute();
    target.couponId = guest.couponId;
  }
  if (guest.couponId) await trx.updateTable('carts').set({ couponId: null }).where('id', '=', guest.id).execute();
  await trx.updateTable('carts').set({ updatedAt: sql`now()` }).where('id', '=', target.id).execute();
}

/**
 * The caller's cart inside a transaction, locked (FOR UPDATE): the user's (created on first use, merging
 * a guest token's cart) or the guest's. Undefined for a guest without a valid token.
 */
export async function lockCallerCart(trx: Trx, caller: CartCaller, currency: string): Promise<CartRow | undefined> {
  if (caller.userId) {
    const target = await userCart(trx, caller.userId, currency);
    const guest = await guestCartByToken(trx, caller.cartToken, true);
    if (guest) await mergeGuestCart(trx, guest, target);
    return target;
  }
  return guestCartByToken(trx, caller.cartToken, true);
}

export async function requireCallerCart(trx: Trx, caller: CartCaller, currency: string): Promise<CartRow> {
  const cart = await lockCallerCart(trx, caller, currency);
  if (!cart) throw new NotFoundError('Cart');
  return cart;
}

// ---- Lines ----

async function sellableVariant(db: DbOrTrx, variantId: string) {
  const v = await db
    .selectFrom('productVariants as v')
    .innerJoin('products as p', 'p.id', 'v.productId')
    .select(['v.id', 'v.sku', 'v.price', 'p.status'])
    .where('v.id', '=', variantId)
    .executeTakeFirst();
  if (!v || v.status !== 'active') throw new NotFoundError('Variant');
  return v;
}

async function assertAvailable(db: DbOrTrx, variantId: string, sku: string, quantity: number) {
  const available = (await stockLevels(db, [variantId])).get(variantId)?.available ?? 0;
  if (quantity > available) throw new InsufficientStockError([{ variantId, sku, requested: quantity, available }]);
}

const quantityError = (q: number) =>
  new ValidationError('The quantity is invalid', [{ path: '/quantity', message: `must be 1–${MAX_QUANTITY} per line (would be ${q})` }]);

/** Adds to the line of this variant (or creates it). The snapshot price is refreshed: the customer sees it now. */
export async function addItem(trx: Trx, cart: CartRow, variantId: string, quantity: number): Promise<void> {
  const variant = await sellableVariant(trx, variantId);
  const existing = await trx.selectFrom('cartItems').select(['id', 'quantity']).where('cartId', '=', cart.id).where('variantId', '=', variantId).executeTakeFirst();
  const next = (existing?.quantity ?? 0) + quantity;
  if (next > MAX_QUANTITY) throw quantityError(next);
  if (!existing) {
    const { n } = await trx.selectFrom('cartItems').select(sql<number>`count(*)::int`.as('n')).where('cartId', '=', cart.id).executeTakeFirstOrThrow();
    if (n >= MAX_LINES) throw new ConflictError('cart_full', `A cart holds at most ${MAX_LINES} lines`);
  }
  await assertAvailable(trx, variantId, variant.sku, next);
  if (existing) await trx.updateTable('cartItems').set({ quantity: next, unitPrice: variant.price }).where('id', '=', existing.id).execute();
  else await trx.insertInto('cartItems').values({ cartId: cart.id, variantId, quantity: next, unitPrice: variant.price, currency: cart.currency }).execute();
  await touch(trx, cart.id);
}

/**
 * addItem in one statement, cart lock included (cart_add_item): for a guest by token, or a signed-in caller
 * without a guest token to merge (the caller takes addItem's path for that). Refusals are the same errors,
 * checked in the same order, before anything is written.
 */
export async function addItemAtOnce(db: Db, caller: CartCaller, variantId: string, quantity: number, currency: string): Promise<CartState> {
  if (!caller.userId && !caller.cartToken) throw new NotFoundError('Cart');
  const { rows } = await sql<{ r: CartState | AddRefusal }>`SELECT cart_add_item(${JSON.stringify({
    user_id: caller.userId,
    token_hash: caller.userId ? null : tokenHash(caller.cartToken!),
    currency,
    variant_id: variantId,
    quantity,
    max_quantity: MAX_QUANTITY,
    max_lines: MAX_LINES,
  })}::jsonb) AS r`.execute(db);
  const r = rows[0].r;
  if (!('error' in r)) return r;
  switch (r.error) {
    case 'cart_not_found':
      throw new NotFoundError('Cart');
    case 'variant_not_found':
      throw new NotFoundError('Variant');
    case 'quantity':
      throw quantityError(r.quantity!);
    case 'cart_full':
      throw new ConflictError('cart_full', `A cart holds at most ${MAX_LINES} lines`);
    case 'insufficient_stock':
      throw new InsufficientStockError([{ variantId, sku: r.sku!, requested: r.requested!, available: r.available! }]);
  }
}

interface AddRefusal {
  error: 'cart_not_found' | 'variant_not_found' | 'quantity' | 'cart_full' | 'insufficient_stock';
  quantity?: number;
  sku?: string;
  requested?: number;
  available?: number;
}

export async function setItemQuantity(trx: Trx, cart: CartRow, itemId: string, quantity: number): Promise<void> {
  const item = await trx.selectFrom('cartItems').select(['id', 'variantId']).where('id', '=', itemId).where('cartId', '=', cart.id).executeTakeFirst();
  if (!item) throw new NotFoundError('Cart item');
  if (quantity > MAX_QUANTITY || quantity < 1) throw quantityError(quantity);
  const variant = await sellableVariant(trx, item.variantId);
  await assertAvailable(trx, item.variantId, variant.sku, quantity);
  await trx.updateTable('cartItems').set({ quantity, unitPrice: variant.price }).where('id', '=', itemId).execute();
  await touch(trx, cart.id);
}

export async function removeItem(trx: Trx, cart: CartRow, itemId: string): Promise<void> {
  const row = await trx.deleteFrom('cartItems').where('id', '=', itemId).where('cartId', '=', cart.id).returning('id').executeTakeFirst();
  if (!row) throw new NotFoundError('Cart item');
  await touch(trx, cart.id);
}

const touch = (trx: Trx, cartId: string) => trx.updateTable('carts').set({ updatedAt: sql`now()` }).where('id', '=', cartId).execute();

// ---- Coupon ----

export async function applyCoupon(trx: Trx, cart: CartRow, code: string, who: { userId: string | null; email: string | null }): Promise<void> {
  const lines = await cartLines(trx, cart.id);
  const { subtotal } = computeTotals({ lines: lines.map((l) => ({ unitPrice: l.price, quantity: l.quantity })), vatRate: 0 });
  const coupon = await checkCoupon(trx, code, subtotal, who);
  await trx.updateTable('carts').set({ couponId: coupon.id }).where('id', '=', cart.id).execute();
}

export async function removeCoupon(trx: Trx, cart: CartRow): Promise<void> {
  await trx.updateTable('carts').set({ couponId: null }).where('id', '=', cart.id).execute();
}

// ---- Reading ----

/** The cart's lines with current prices; `withStock: false` skips the availability read (checkout reserves instead). */
export async function cartLines(db: DbOrTrx, cartId: string, opts: { withStock?: boolean } = {}): Promise<CartLine[]> {
  const rows = await db
    .selectFrom('cartItems as ci')
    .innerJoin('productVariants as v', 'v.id', 'ci.variantId')
    .innerJoin('products as p', 'p.id', 'v.productId')
    .select([
      'ci.id',
      'ci.variantId',
      'v.productId',
      'p.slug as productSlug',
      'p.title',
      'v.title as variantTitle',
      'v.sku',
      'ci.quantity',
      'ci.unitPrice',
      'v.price',
      'p.status',
      'ci.currency',
    ])
    .where('ci.cartId', '=', cartId)
    .orderBy('ci.createdAt')
    .orderBy('ci.id')
    .execute();
  const stock = opts.withStock === false ? new Map<string, { available: number }>() : await stockLevels(db, rows.map((r) => r.variantId));
  return rows.map((r) => cartLineOf(r, stock.get(r.variantId)?.available ?? 0));
}

/** A line as the API shows it, from its row and the current stock. */
export function cartLineOf(r: Omit<CartLine, 'priceChanged' | 'lineTotal' | 'available' | 'purchasable'> & { status: string }, available: number): CartLine {
  const { status, ...line } = r;
  return { ...line, priceChanged: line.price !== line.unitPrice, lineTotal: line.price * line.quantity, available, purchasable: status === 'active' };
}

interface ViewParts {
  items: CartLine[];
  /** The cart's coupon row, if it still exists. */
  coupon: CouponRow | undefined;
  /** Redemptions the caller holds on it (only read for a coupon with a per-customer limit). */
  redemptions: () => Promise<number> | number;
  method: { id: string; name: string; price: number; freeOver: number | null; etaDays: number } | undefined;
}

/** The cart as every cart route answers it: totals checkout would charge now, and the coupon's status. */
async function buildCartView(cart: CartRow, parts: ViewParts, opts: { vatRate: number; token?: string | null }): Promise<CartView> {
  const { items, method } = parts;
  const priced = items.filter((l) => l.purchasable).map((l) => ({ unitPrice: l.price, quantity: l.quantity }));
  const base = computeTotals({ lines: priced, vatRate: 0 });
  let coupon: CartCoupon | null = null;
  let pricingCoupon = null;
  const row = parts.coupon;
  if (row) {
    let reason = couponRejection(row, base.subtotal, new Date());
    if (!reason && row.perCustomerLimit !== null && (await parts.redemptions()) >= row.perCustomerLimit) reason = 'used_up';
    coupon = { code: row.code, kind: row.kind, value: row.value, applied: !reason, reason, message: reason ? couponMessage(reason) : null };
    if (!reason) pricingCoupon = asPricingCoupon(row);
  }
  const totals = computeTotals({ lines: priced, coupon: pricingCoupon, shipping: method ?? null, vatRate: opts.vatRate });
  return {
    id: cart.id,
    token: opts.token ?? null,
    items,
    itemCount: items.reduce((n, l) => n + l.quantity, 0),
    ...totals,
    currency: cart.currency,
    coupon,
    shippingMethod: method ? { id: method.id, name: method.name, price: method.price, freeOver: method.freeOver, etaDays: method.etaDays } : null,
    createdAt: new Date(cart.createdAt).toISOString(),
    updatedAt: new Date(cart.updatedAt).toISOString(),
  };
}

export async function cartView(
  db: DbOrTrx,
  cart: CartRow,
  opts: { vatRate: number; shippingMethodId?: string; token?: string | null; who?: { userId: string | null; email: string | null } },
): Promise<CartView> {
  const items = await cartLines(db, cart.id);
  const coupon = cart.couponId ? await findCoupon(db, cart.couponId) : undefined;
  const redemptions = () => (opts.who && coupon ? customerRedemptions(db, coupon.id, opts.who) : 0);
  const method = opts.shippingMethodId ? await findActiveShippingMethod(db, opts.shippingMethodId) : undefined;
  return buildCartView(cart, { items, coupon, redemptions, method }, opts);
}

/** What cart_state answers (migrations/2026121001_cart_functions.ts): the cart, raw, in one round trip. */
export interface CartState {
  cart: Omit<CartRow, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string };
  items: (Omit<CartLine, 'priceChanged' | 'lineTotal' | 'purchasable'> & { status: string })[];
  coupon: (Omit<CouponRow, 'startsAt' | 'endsAt' | 'createdAt' | 'updatedAt'> & { startsAt: string | null; endsAt: string | null; createdAt: string; updatedAt: string }) | null;
  redemptions: number | null;
}

const date = (v: string | null) => (v === null ? null : new Date(v));

/** The cart view from a cart_state answer: no further statement. */
export function cartViewOfState(state: CartState, opts: { vatRate: number }): Promise<CartView> {
  const cart: CartRow = { ...state.cart, createdAt: new Date(state.cart.createdAt), updatedAt: new Date(state.cart.updatedAt) };
  const c = state.coupon;
  const coupon: CouponRow | undefined = c ? { ...c, startsAt: date(c.startsAt), endsAt: date(c.endsAt), createdAt: new Date(c.createdAt), updatedAt: new Date(c.updatedAt) } : undefined;
  const items = state.items.map(({ available, ...r }) => cartLineOf(r, available));
  return buildCartView(cart, { items, coupon, redemptions: () => state.redemptions ?? 0, method: undefined }, opts);
}
