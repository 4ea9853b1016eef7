import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { checkout } from '../../shared/checkout/index.js';
import { assertIdempotencyKey } from '../../shared/idempotency/index.js';
import { problemResponses, Uuid } from '../schemas.js';
import { cartCaller } from './cart.js';
import { CartTokenHeaders } from '../../shared/cart/schemas.js';
import { PaymentStart } from '../../shared/checkout/schemas.js';
import { StoreCreditRequestSchema } from '../../shared/credit/schemas.js';
import { Address, Order } from '../../shared/orders/schemas.js';
import { addressLimit, isAllowlisted } from './guest-limits.js';

/**
 * POST /checkout. The answer of the first call with a key is stored and replayed (header
 * `idempotent-replayed: true`); the Paystack call happens after the order is committed, so a Paystack
 * failure still answers 201 with `payment.authorizationUrl: null` and `payment.status: 'init_failed'`.
 */
const checkoutRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = { db: app.db, config: app.config, paystack: () => app.paystack };

  app.post(
    '/checkout',
    {
      config: { auth: 'optional', rateLimit: addressLimit('checkout') },
      schema: {
        tags: ['checkout'],
        operationId: 'createCheckout',
        summary: 'Place the cart as an order (reserves stock) and start the Paystack payment',
        description:
          '`storeCredit` (signed-in customers) spends store credit in the same transaction: Paystack is asked for the ' +
          'total less the credit; credit covering the total pays the order at once and answers `payment: null`. ' +
          '409 `insufficient_credit` when the balance is smaller than the amount asked for.',
        security: [{}, { bearerAuth: [] }],
        headers: Type.Object({
          'idempotency-key': Type.String({ minLength: 1, maxLength: 255, description: 'one per checkout attempt; replays its first answer' }),
          ...CartTokenHeaders.properties,
        }),
        body: Type.Object(
          {
            email: Type.Optional(Type.String({ format: 'email', maxLength: 254, description: 'required for guests' })),
            shippingAddress: Type.Optional(Address),
            shippingAddressId: Type.Optional(Type.String({ format: 'uuid', description: "one of the signed-in customer's saved addresses (GET /me/addresses), instead of shippingAddress" })),
            shippingMethodId: Uuid,
            storeCredit: Type.Optional(StoreCreditRequestSchema),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ order: Order, payment: Type.Union([Type.Null(), PaymentStart]) }),
          ...problemResponses(400, 401, 404, 409, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const key = assertIdempotencyKey(request.headers['idempotency-key']);
      const client = { address: request.ip, exempt: isAllowlisted(app.config.RATE_LIMIT_ALLOWLIST, request.ip) };
      const result = await checkout(deps, cartCaller(request), request.body, key, client);
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(result.status).send(result.body);
    },
  );
};
export default checkoutRoutes;
