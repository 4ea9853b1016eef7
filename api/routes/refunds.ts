import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { assertIdempotencyKey } from '../../shared/idempotency/index.js';
import { requestRefund } from '../../shared/payments/refund-request.js';
import { Refund, RefundInput } from '../../shared/payments/schemas.js';
import { IdParams, problemResponses } from '../schemas.js';

const refunds: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/admin/orders/:id/refunds',
    {
      config: { permission: 'refund:create' },
      schema: {
        tags: ['payments'],
        operationId: 'adminCreateRefund',
        summary: 'Refund (part of) a paid order through Paystack or to store credit',
        description:
          'Needs an `Idempotency-Key` header (same key + same body replays the first answer; other body → 422 ' +
          '`idempotency_conflict`; while the first is running → 409). Never more than was paid in total, nor than ' +
          'each payment’s own amount: 409 `refund_exceeds_paid` otherwise; a refund spanning payments is one Paystack ' +
          'refund per payment (`parts`). `items` naming another order’s lines: 400 `unknown_order_item`; more units ' +
          'than bought (or, to restock, than are left to restock): 409 `refund_quantity_exceeded`; `restock` on a ' +
          'partial refund without `items`: 400 `restock_items_required`. 202: the refund is `pending`; the worker asks ' +
          'Paystack and it settles on Paystack’s webhook or by polling. `to: store_credit` pays it all back as store credit, ' +
          'settled at once (`processed` in the answer; 409 `no_customer_account` for a guest order); `to: original` (default) ' +
          'refunds what was paid through Paystack first, then what was paid with store credit, which goes back as credit at once.',
        security: [{ bearerAuth: [] }],
        params: IdParams,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: RefundInput,
        response: { 202: Refund, ...problemResponses(400, 401, 403, 404, 409, 422) },
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
