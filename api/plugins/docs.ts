import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

type JsonSchema = { properties?: Record<string, JsonSchema>; required?: string[]; items?: JsonSchema; default?: unknown } & Record<string, unknown>;
type Operation = { parameters?: { in: string; required?: boolean; schema?: JsonSchema }[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } };

/**
 * Properties with a default leave `required`, at every depth ajv fills defaults in: properties, items
 * and allOf. Not inside anyOf/oneOf/not: ajv ignores defaults there, so the client must send them.
 */
function relaxDefaults(schema: JsonSchema | undefined) {
  if (!schema || typeof schema !== 'object') return;
  const { properties } = schema;
  if (properties) {
    if (schema.required) {
      schema.required = schema.required.filter((key) => properties[key]?.default === undefined);
      if (!schema.required.length) delete schema.required;
    }
    for (const child of Object.values(properties)) relaxDefaults(child);
  }
  relaxDefaults(schema.items);
  for (const child of (schema.allOf as JsonSchema[] | undefined) ?? []) relaxDefaults(child);
}

/**
 * A request value with a default is optional to clients: validation fills it in (ajv useDefaults).
 * TypeBox lists such fields as required, because handlers always see them, so without this every
 * generated client would have to send `limit` or `country`. Responses keep theirs: there it holds.
 * Works on a copy: the route schemas that validate requests stay as they are.
 */
function optionalRequestDefaults<T>(document: T): T {
  const copy = structuredClone(document) as T & { paths?: Record<string, Record<string, Operation>> };
  for (const item of Object.values(copy.paths ?? {})) {
    for (const operation of Object.values(item)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in !== 'path' && parameter.schema?.default !== undefined) parameter.required = false;
      }
      for (const media of Object.values(operation.requestBody?.content ?? {})) relaxDefaults(media.schema);
    }
  }
  return copy;
}

/** OpenAPI 3 generated from the route schemas; UI at /docs, document at /docs/json. */
export default fp(
  async function docs(app: FastifyInstance) {
    await app.register(swagger, {
      // The permission a staff route needs (config.permission, enforced in plugins/auth.ts) is written on
      // its operation as `x-permission`: clients see it, and the audit test finds every staff mutation by it.
      transform: ({ schema, url, route }) => {
        const permission = route.config?.permission;
        return { schema: permission && schema ? { ...schema, 'x-permission': permission } : schema, url };
      },
      transformObject: (documents) => ('openapiObject' in documents ? optionalRequestDefaults(documents.openapiObject) : documents.swaggerObject),
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
          { name: 'credit', description: 'Store credit: balances, the append-only ledger, statements and staff grants' },
          { name: 'reviews', description: 'Verified-purchase reviews, ratings, helpful votes, reports and moderation' },
          { name: 'recommendations', description: 'Bought together, similar products and personal recommendations' },
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
