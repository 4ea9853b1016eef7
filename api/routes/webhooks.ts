import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { receivePaystackWebhook } from '../../shared/payments/webhooks.js';
import { problemResponses } from '../schemas.js';

/** Paystack's bodies are small; a larger one is not from Paystack. */
const WEBHOOK_BODY_LIMIT = 256 * 1024;

/**
 * `POST /webhooks/paystack` in its own encapsulated scope: the content-type parser here keeps the raw
 * bytes (the signature is an HMAC of exactly those bytes), without changing JSON parsing anywhere else.
 * The handler only checks the signature and stores the event with its job; the worker does the rest.
 */
const webhooks: FastifyPluginAsyncTypebox = async (app) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );

  app.post(
    '/webhooks/paystack',
    {
      bodyLimit: WEBHOOK_BODY_LIMIT,
      config: {
        // Paystack sends from three addresses; generous, but a flood from elsewhere is cut off.
        rateLimit: { max: 6_000, timeWindow: '1 minute' },
      },
      schema: {
        tags: ['payments'],
        operationId: 'receivePaystackWebhook',
        security: [{ paystackSignature: [] }],
        summary: 'Paystack webhook: signature-checked, stored once, processed in the worker',
        description:
          'The raw body must carry `x-paystack-signature` = hex HMAC-SHA512 of the body with the secret key. ' +
          'Answers 200 as soon as the event is stored; a repeated event answers 200 and changes nothing.',
        headers: Type.Object({ 'x-paystack-signature': Type.Optional(Type.String()) }),
        response: {
          200: Type.Object({ received: Type.Boolean(), duplicate: Type.Boolean() }),
          ...problemResponses(400, 401, 413, 429),
        },
      },
    },
    async (request) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const signature = request.headers['x-paystack-signature'];
      const stored = await receivePaystackWebhook(
        app.db,
        raw,
        typeof signature === 'string' ? signature : undefined,
        app.config.PAYSTACK_SECRET_KEY,
      );
      request.log.info(
        { event: stored.event, duplicate: stored.duplicate, eventId: stored.eventId },
        'paystack webhook stored',
      );
      return { received: true, duplicate: stored.duplicate };
    },
  );
};
export default webhooks;
