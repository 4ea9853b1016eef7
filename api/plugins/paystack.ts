import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { paystackFromConfig, type PaystackClient } from '../../shared/integrations/paystack/client.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Paystack API client (PAYSTACK_BASE_URL, PAYSTACK_SECRET_KEY). */
    paystack: PaystackClient;
  }
}

/** One Paystack client per app, for checkout (initialize) and on-demand verification. */
export default fp(
  async function paystack(app: FastifyInstance) {
    app.decorate('paystack', paystackFromConfig(app.config));
    // Its keep-alive sockets are unref'd, so this only makes closing prompt and tidy.
    app.addHook('onClose', () => app.paystack.close());
  },
  { name: 'paystack', dependencies: ['infra'] },
);
