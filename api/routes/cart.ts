import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  addItem,
  applyCoupon,
  cartView,
  createGuestCart,
  lockCallerCart,
  MAX_QUANTITY,
  removeCoupon,
  removeItem,
  requireCallerCart,
  setItemQuantity,
  type CartCaller,
  type CartRow,
} from '../../shared/cart/index.js';
import type { Trx } from '../../shared/db/index.js';
import { retryAfterLazyExpiry } from '../../shared/payments/expiry.js';
import { problemResponses, Uuid } from '../schemas.js';
import { Cart, CartTokenHeaders } from '../../shared/cart/schemas.js';
import { addressLimit, cartCouponLimit } from './guest-limits.js';

/** Who is calling: the signed-in user (if any) and the guest cart token (if sent). */
export function cartCaller(request: FastifyRequest): CartCaller {
  const token = request.headers['x-cart-token'];
  return { userId: request.auth?.id ?? null, cartToken: typeof token === 'string' && token.length <= 200 ? token : undefined };
}

const ItemParams = Type.Object({ itemId: Uuid });
const Quantity = Type.Integer({ minimum: 1, maximum: MAX_QUANTITY });
const tags = ['cart'];
const security: { [k: string]: string[] }[] = [{}, { bearerAuth: [] }];

/**
 * Cart routes: guests by X-Cart-Token, signed-in users by their token (auth 'optional'); a signed-in call
 * carrying a guest token merges that cart into the user's first.
 */
const cartRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;

  async function who(trx: Trx, caller: CartCaller) {
    if (!caller.userId) return { userId: null, email: null };
    const user = await trx.selectFrom('users').select('email').where('id', '=', caller.userId).executeTakeFirst();
    return { userId: caller.userId, email: user?.email ?? null };
  }

  /** Runs a cart change under the cart's row lock and answers the cart as it is after it. */
  const mutate = (request: FastifyRequest, change: (trx: Trx, cart: CartRow, caller: CartCaller) => Promise<void>) =>
    db.transaction().execute(async (trx) => {
      const caller = cartCaller(request);
      const cart = await requireCallerCart(trx, caller, config.CURRENCY);
      await change(trx, cart, caller);
      const fresh = await trx.selectFrom('carts').select(['id', 'userId', 'couponId', 'currency', 'createdAt', 'updatedAt']).where('id', '=', cart.id).executeTakeFirstOrThrow();
      return cartView(trx, fresh, { vatRate: config.VAT_RATE, who: await who(trx, caller) });
    });

  // Stock held by a reservation that expired but is not released yet is not available; a buyer who needs it
  // gets those holds released (Paystack asked first), as at checkout, instead of waiting for the minute job.
  const expiry = { paystack: app.paystack, publicUrl: config.PUBLIC_URL, holdMinutes: config.PAYMENT_HOLD_MINUTES, log: app.log };
  const mutateStock = (request: FastifyRequest, change: (trx: Trx, cart: CartRow, caller: CartCaller) => Promise<void>) =>
    retryAfterLazyExpiry(db, expiry, () => mutate(request, change));

  app.post(
    '/cart',
    {
      config: { auth: 'optional', rateLimit: addressLimit('cart') },
      schema: {
        tags,
        operationId: 'createCart',
        summary: 'Create a cart (guests get a token), or get the signed-in user’s cart',
        security,
        headers: CartTokenHeaders,
        response: { 201: Cart, ...problemResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const caller = cartCaller(request);
      const view = await db.transaction().execute(async (trx) => {
        if (caller.userId) {
          const cart = (await lockCallerCart(trx, caller, config.CURRENCY))!;
          return cartView(trx, cart, { vatRate: config.VAT_RATE, who: await who(trx, caller) });
        }
        const { cart, token } = await createGuestCart(trx, config.CURRENCY);
        return cartView(trx, cart, { vatRate: config.VAT_RATE, token });
      });
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/cart',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        operationId: 'getCart',
        summary: 'The cart with current prices, totals and the coupon (and why it stopped applying)',
        security,
        headers: CartTokenHeaders,
        querystring: Type.Object({ shippingMethodId: Type.Optional(Uuid) }, { additionalProperties: false }),
        response: { 200: Cart, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) =>
      db.transaction().execute(async (trx) => {
        const caller = cartCaller(request);
        const cart = await requireCallerCart(trx, caller, config.CURRENCY);
        return cartView(trx, cart, { vatRate: config.VAT_RATE, shippingMethodId: request.query.shippingMethodId, who: await who(trx, caller) });
      }),
  );

  app.post(
    '/cart/items',
    {
      config: { auth: 'optional', rateLimit: addressLimit('addItem') },
      schema: {
        tags,
        operationId: 'addCartItem',
        summary: 'Add a variant (quantities add up; 409 insufficient_stock beyond what is available)',
        security,
        headers: CartTokenHeaders,
        body: Type.Object({ variantId: Uuid, quantity: Quantity }, { additionalProperties: false }),
        response: { 200: Cart, ...problemResponses(400, 401, 404, 409, 429) },
      },
    },
    async (request) => mutateStock(request, (trx, cart) => addItem(trx, cart, request.body.variantId, request.body.quantity)),
  );

  app.patch(
    '/cart/items/:itemId',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        operationId: 'updateCartItem',
        summary: 'Set a line’s quantity',
        security,
        headers: CartTokenHeaders,
        params: ItemParams,
        body: Type.Object({ quantity: Quantity }, { additionalProperties: false }),
        response: { 200: Cart, ...problemResponses(400, 401, 404, 409) },
      },
    },
    async (request) => mutateStock(request, (trx, cart) => setItemQuantity(trx, cart, request.params.itemId, request.body.quantity)),
  );

  app.delete(
    '/cart/items/:itemId',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        operationId: 'removeCartItem',
        summary: 'Remove a line',
        security,
        headers: CartTokenHeaders,
        params: ItemParams,
        response: { 200: Cart, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => mutate(request, (trx, cart) => removeItem(trx, cart, request.params.itemId)),
  );

  app.post(
    '/cart/coupon',
    {
      config: { auth: 'optional', rateLimit: addressLimit('coupon') },
      preHandler: cartCouponLimit(app),
      schema: {
        tags,
        operationId: 'applyCartCoupon',
        summary: 'Apply a coupon (400 invalid_coupon with a reason)',
        security,
        headers: CartTokenHeaders,
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: Cart, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => mutate(request, async (trx, cart, caller) => applyCoupon(trx, cart, request.body.code, await who(trx, caller))),
  );

  app.delete(
    '/cart/coupon',
    {
      config: { auth: 'optional' },
      schema: { tags, operationId: 'removeCartCoupon', summary: 'Remove the coupon', security, headers: CartTokenHeaders, response: { 200: Cart, ...problemResponses(401, 404) } },
    },
    async (request) => mutate(request, (trx, cart) => removeCoupon(trx, cart)),
  );
};
export default cartRoutes;
