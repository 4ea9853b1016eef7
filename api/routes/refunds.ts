import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { assertIdempotencyKey, saveProvisional, withIdempotency } from '../../shared/idempotency/index.js';
import { createRefund, type RefundView } from '../../shared/payments/refunds.js';
import { IdParams, problemResponses, Timestamp } from '../schemas.js';

export const RefundSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  orderId: Type.String({ format: 'uuid' }),
  amount: Type.Integer({ description: 'minor units (kobo)' }),
  currency: Type.String(),
  reason: Type.String(),
  restock: Type.Boolean(),
  status: Type.String({ enum: ['pending', 'processing', 'processed', 'failed'] }),
  providerRefundId: Type.Union([Type.String(), Type.Null()]),
  failureReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  settledAt: Type.Union([Timestamp, Type.Null()]),
});

const RefundBody = Type.Object(
  {
    amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1, description: 'kobo; default: everything still refundable' })),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    restock: Type.Optional(Type.Boolean({ default: false, description: 'put the order’s items back in stock once refunded' })),
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
        summary: 'Refund (part of) a paid order through Paystack',
        description:
          'Needs an `Idempotency-Key` header (same key + same body replays the first answer; other body → 422 ' +
          '`idempotency_conflict`; while the first is running → 409). Never more than was paid in total: 409 ' +
          '`refund_exceeds_paid` otherwise. 202: the refund is `pending`; the worker asks Paystack and it settles ' +
          'on Paystack’s webhook or by polling.',
        security: [{ bearerAuth: [] }],
        params: IdParams,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: RefundBody,
        response: { 202: RefundSchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const key = assertIdempotencyKey(request.headers['idempotency-key']);
      const actorId = request.auth!.id;
      const { id: orderId } = request.params;
      const body = request.body;
      const result = await withIdempotency(
        app.db,
        { scope: 'refund', owner: `user:${actorId}`, key, request: { orderId, body } },
        {
          run: (claimId) =>
            app.db.transaction().execute(async (trx) => {
              const refund = await createRefund(trx, { orderId, amount: body.amount, reason: body.reason, restock: body.restock, actorId });
              const answer = { status: 202, body: refund };
              // Committed with the refund: a retry after a crash replays it instead of refunding again.
              await saveProvisional(trx, claimId, answer);
              return answer;
            }),
        },
      );
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(result.body as RefundView);
    },
  );
};
export default refunds;
