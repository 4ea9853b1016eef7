import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DomainError, NotFoundError } from '../../shared/errors.js';
import { PaystackError } from '../../shared/integrations/paystack/client.js';
import { applyVerification } from '../../shared/payments/verify.js';
import { problemResponses } from '../schemas.js';
import { addressLimit } from './guest-limits.js';

const Reference = Type.String({
  pattern: '^[A-Za-z0-9._=-]{1,100}$',
  description: 'the payment reference (Paystack transaction reference)',
});

const VerificationAnswer = Type.Object({
  reference: Type.String(),
  outcome: Type.String({
    description:
      'paid | already_applied | not_paid | mismatch | paid_but_cancelled | paid_twice | not_found: what this call found and did',
  }),
  orderId: Type.String({ format: 'uuid' }),
  orderStatus: Type.String(),
  paymentStatus: Type.String(),
  providerStatus: Type.Union([Type.String(), Type.Null()]),
});

const payments: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/payments/:reference/verify',
    {
      config: { rateLimit: addressLimit('verify') },
      schema: {
        tags: ['payments'],
        operationId: 'verifyPayment',
        security: [],
        summary: 'Ask Paystack about a payment and apply the result (safe to call many times)',
        params: Type.Object({ reference: Reference }),
        response: { 200: VerificationAnswer, ...problemResponses(400, 404, 429, 502) },
      },
    },
    async (request) => {
      try {
        const r = await applyVerification(app.db, request.params.reference, {
          paystack: app.paystack,
          publicUrl: app.config.PUBLIC_URL,
          source: 'verify',
        });
        if (r.outcome === 'unknown_reference' || !r.orderId) throw new NotFoundError('Payment');
        return {
          ...r,
          orderId: r.orderId,
          orderStatus: r.orderStatus ?? 'unknown',
          paymentStatus: r.paymentStatus ?? 'unknown',
        };
      } catch (err) {
        if (err instanceof PaystackError) {
          request.log.warn({ status: err.status, code: err.code }, 'paystack verify failed');
          throw new DomainError(
            502,
            'payment_provider_unavailable',
            'Paystack could not be asked right now; try again shortly',
          );
        }
        throw err;
      }
    },
  );
};
export default payments;
