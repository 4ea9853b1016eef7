import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** OpenAPI 3 generated from the route schemas; UI at /docs, document at /docs/json. */
export default fp(
  async function docs(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Agape Commerce API',
          version: '1.0.0',
          description: 'REST API of the store: catalog, cart, checkout, orders and payments (NGN, Paystack).',
        },
        servers: [{ url: app.config.PUBLIC_URL }],
        // Every operation names one of these (the OpenAPI lint checks it): a new area adds its tag here.
        tags: [
          { name: 'operations', description: 'Health, keys and operator endpoints' },
          { name: 'auth', description: 'Accounts, sign-in, sessions, passwords and two-factor' },
          { name: 'users', description: 'Staff management of accounts' },
          { name: 'catalog', description: 'Products, variants, categories, images, search, imports and exports' },
          { name: 'inventory', description: 'Stock per variant and low-stock alerts' },
          { name: 'cart', description: 'Guest (X-Cart-Token) and signed-in carts, coupons applied to them' },
          { name: 'coupons', description: 'Staff management of coupons' },
          { name: 'shipping', description: 'Shipping methods' },
          { name: 'checkout', description: 'Placing an order and starting its payment' },
          { name: 'orders', description: 'Orders, their payment retries, cancellation and invoices' },
          { name: 'payments', description: 'Payment verification, Paystack webhooks, refunds and reconciliation' },
          { name: 'reports', description: 'Sales, best sellers, stock, the dashboard and exports, from the payment ledger' },
          { name: 'audit', description: 'Who changed what: the audit log of staff mutations' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            // Paystack's webhook calls: hex HMAC-SHA512 of the raw body with the secret key.
            paystackSignature: { type: 'apiKey', in: 'header', name: 'x-paystack-signature' },
          },
        },
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  },
  { name: 'docs', dependencies: ['infra'] },
);
