import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { MAX_QUANTITY, type CartCaller } from '../../shared/cart/index.js';
import {
  addCartItem,
  applyCartCoupon,
  openCart,
  readCart,
  removeCartCoupon,
  removeCartItem,
  setCartItemQuantity,
  type CartDeps,
} from '../../shared/cart/service.js';
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
  const { config } = app;
  const deps: CartDeps = {
    db: app.db,
    config,
    expiry: { paystack: app.paystack, publicUrl: config.PUBLIC_URL, holdMinutes: config.PAYMENT_HOLD_MINUTES, log: app.log },
  };

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
    async (request, reply) => reply.code(201).send(await openCart(deps, cartCaller(request))),
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
    async (request) => readCart(deps, cartCaller(request), request.query.shippingMethodId),
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
    async (request) => addCartItem(deps, cartCaller(request), request.body.variantId, request.body.quantity),
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
    async (request) => setCartItemQuantity(deps, cartCaller(request), request.params.itemId, request.body.quantity),
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
    async (request) => removeCartItem(deps, cartCaller(request), request.params.itemId),
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
    async (request) => applyCartCoupon(deps, cartCaller(request), request.body.code),
  );

  app.delete(
    '/cart/coupon',
    {
      config: { auth: 'optional' },
      schema: { tags, operationId: 'removeCartCoupon', summary: 'Remove the coupon', security, headers: CartTokenHeaders, response: { 200: Cart, ...problemResponses(401, 404) } },
    },
    async (request) => removeCartCoupon(deps, cartCaller(request)),
  );
};
export default cartRoutes;
