import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { assertIdempotencyKey } from '../../shared/idempotency/index.js';
import { requestRefund } from '../../shared/payments/refund-request.js';
import { IdParams, problemResponses, Timestamp } from '../schemas.js';

export const RefundSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  orderId: Type.String({ format: 'uuid' }),
  amount: Type.Integer({ description: 'minor units (kobo)' }),
  currency: Type.String(),
  reason: Type.String(),
  restock: Type.Boolean(),
  status: Type.String({ enum: ['pending', 'processing', 'processed', 'failed'] }),
  providerRefundId: Type.Union([Type.String(), Type.Null()], {
    description: 'Paystack’s refund when the refund has one part; each part carries its own',
  }),
  failureReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  settledAt: Type.Union([Timestamp, Type.Null()]),
  items: Type.Array(Type.Object({ orderItemId: Type.String({ format: 'uuid' }), quantity: Type.Integer() })),
  parts: Type.Array(
    Type.Object({
      id: Type.String({ format: 'uuid' }),
      paymentReference: Type.String(),
      amount: Type.Integer({ description: 'minor units, at most what this payment can still give back' }),
      currency: Type.String(),
      status: Type.String({ enum: ['pending', 'processing', 'processed', 'failed'] }),
      providerRefundId: Type.Union([Type.String(), Type.Null()]),
      failureReason: Type.Union([Type.String(), Type.Null()]),
      settledAt: Type.Union([Timestamp, Type.Null()]),
    }),
    { description: 'one Paystack refund per payment the refund draws on (an order paid twice is refunded from each)' },
  ),
});

const RefundBody = Type.Object(
  {
    amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1, description: 'kobo; default: everything still refundable' })),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    restock: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'once refunded, put the `items` named back in stock (every line not yet restocked when the refund is full and names none)',
      }),
    ),
    items: Type.Optional(
      Type.Array(
        Type.Object(
          { orderItemId: Type.String({ format: 'uuid' }), quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
          { additionalProperties: false },
        ),
        { maxItems: 500, description: 'the order lines (and units) this refund is for' },
      ),
    ),
    paymentReference: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description: 'refund only this payment of the order: how a flagged payment (wrong amount or currency, never applied) is refunded',
      }),
    ),
  },
  { additionalProperties: false },
);

const refunds: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/admin/orders/:id/refunds',
    {
      config: { permission: 'refund:create' },
      schema: {
        tags: ['payments'],
        operationId: 'adminCreateRefund',
        summary: 'Refund (part of) a paid order through Paystack',
        description:
          'Needs an `Idempotency-Key` header (same key + same body replays the first answer; other body → 422 ' +
          '`idempotency_conflict`; while the first is running → 409). Never more than was paid in total, nor than ' +
          'each payment’s own amount: 409 `refund_exceeds_paid` otherwise; a refund spanning payments is one Paystack ' +
          'refund per payment (`parts`). `items` naming another order’s lines: 400 `unknown_order_item`; more units ' +
          'than bought (or, to restock, than are left to restock): 409 `refund_quantity_exceeded`; `restock` on a ' +
          'partial refund without `items`: 400 `restock_items_required`. 202: the refund is `pending`; the worker asks ' +
          'Paystack and it settles on Paystack’s webhook or by polling.',
        security: [{ bearerAuth: [] }],
        params: IdParams,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: RefundBody,
        response: { 202: RefundSchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const { refund, replayed } = await requestRefund(app.db, {
        ...request.body,
        orderId: request.params.id,
        actorId: request.auth!.id,
        idempotencyKey: assertIdempotencyKey(request.headers['idempotency-key']),
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(refund);
    },
  );
};
export default refunds;
