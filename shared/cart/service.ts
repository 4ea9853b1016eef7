import type { Config } from '../config.js';
import type { Db, Trx } from '../db/index.js';
import { retryAfterLazyExpiry, type ExpiryDeps } from '../payments/expiry.js';
import {
  addItem,
  addItemAtOnce,
  cartViewOfState,
  applyCoupon,
  cartView,
  createGuestCart,
  lockCallerCart,
  removeCoupon,
  removeItem,
  requireCallerCart,
  setItemQuantity,
  type CartCaller,
  type CartRow,
  type CartView,
} from './index.js';

/**
 * What the cart routes do, one function per route. Each runs in one transaction under the cart's row lock
 * and answers the cart as it is after the change.
 */

export interface CartDeps {
  db: Db;
  config: Pick<Config, 'CURRENCY' | 'VAT_RATE'>;
  /** Releases expired holds when an add comes up short, as checkout does (shared/payments/expiry.ts). */
  expiry: ExpiryDeps;
}

type Who = { userId: string | null; email: string | null };

/** A signed-in caller's email: per-customer coupon limits count redemptions by user and by email. */
async function who(trx: Trx, caller: CartCaller): Promise<Who> {
  if (!caller.userId) return { userId: null, email: null };
  const user = await trx.selectFrom('users').select('email').where('id', '=', caller.userId).executeTakeFirst();
  return { userId: caller.userId, email: user?.email ?? null };
}

function change(deps: CartDeps, caller: CartCaller, apply: (trx: Trx, cart: CartRow, who: () => Promise<Who>) => Promise<void>): Promise<CartView> {
  const { db, config } = deps;
  return db.transaction().execute(async (trx) => {
    const cart = await requireCallerCart(trx, caller, config.CURRENCY);
    await apply(trx, cart, () => who(trx, caller));
    const fresh = await trx.selectFrom('carts').select(['id', 'userId', 'couponId', 'currency', 'createdAt', 'updatedAt']).where('id', '=', cart.id).executeTakeFirstOrThrow();
    return cartView(trx, fresh, { vatRate: config.VAT_RATE, who: await who(trx, caller) });
  });
}

/**
 * Stock held by a reservation that expired but is not released yet is not available; a buyer who needs it
 * gets those holds released (Paystack asked first), as at checkout, instead of waiting for the minute job.
 */
const changeStock = (deps: CartDeps, caller: CartCaller, apply: (trx: Trx, cart: CartRow) => Promise<void>) =>
  retryAfterLazyExpiry(deps.db, deps.expiry, () => change(deps, caller, apply));

/** A new guest cart (its token shown once), or the signed-in user's cart (merging a guest token's). */
export function openCart(deps: CartDeps, caller: CartCaller): Promise<CartView> {
  const { db, config } = deps;
  return db.transaction().execute(async (trx) => {
    if (caller.userId) {
      const cart = (await lockCallerCart(trx, caller, config.CURRENCY))!;
      return cartView(trx, cart, { vatRate: config.VAT_RATE, who: await who(trx, caller) });
    }
    const { cart, token } = await createGuestCart(trx, config.CURRENCY);
    return cartView(trx, cart, { vatRate: config.VAT_RATE, token });
  });
}

/** Locks like a change: reading a signed-in caller's cart may merge the guest cart its token opens. */
export function readCart(deps: CartDeps, caller: CartCaller, shippingMethodId?: string): Promise<CartView> {
  const { db, config } = deps;
  return db.transaction().execute(async (trx) => {
    const cart = await requireCallerCart(trx, caller, config.CURRENCY);
    return cartView(trx, cart, { vatRate: config.VAT_RATE, shippingMethodId, who: await who(trx, caller) });
  });
}

/**
 * One statement (cart_add_item: lock, checks, upsert, the cart read back), no transaction around it; a
 * signed-in caller carrying a guest token to merge takes the transaction path.
 */
export const addCartItem = (deps: CartDeps, caller: CartCaller, variantId: string, quantity: number) =>
  caller.userId && caller.cartToken
    ? changeStock(deps, caller, (trx, cart) => addItem(trx, cart, variantId, quantity))
    : retryAfterLazyExpiry(deps.db, deps.expiry, async () =>
        cartViewOfState(await addItemAtOnce(deps.db, caller, variantId, quantity, deps.config.CURRENCY), { vatRate: deps.config.VAT_RATE }),
      );

export const setCartItemQuantity = (deps: CartDeps, caller: CartCaller, itemId: string, quantity: number) =>
  changeStock(deps, caller, (trx, cart) => setItemQuantity(trx, cart, itemId, quantity));

export const removeCartItem = (deps: CartDeps, caller: CartCaller, itemId: string) => change(deps, caller, (trx, cart) => removeItem(trx, cart, itemId));

export const applyCartCoupon = (deps: CartDeps, caller: CartCaller, code: string) =>
  change(deps, caller, async (trx, cart, whoCalls) => applyCoupon(trx, cart, code, await whoCalls()));

export const removeCartCoupon = (deps: CartDeps, caller: CartCaller) => change(deps, caller, (trx, cart) => removeCoupon(trx, cart));
