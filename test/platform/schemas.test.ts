import t from 'tap';
import { buildApp } from '../../api/app.js';
import { buildTestApp, testEnv } from '../support/harness.js';

// Production compiles a route's validators and serializers on its first request (api/lazy-schemas.ts).
// Built eagerly here, every route's schemas are compiled at start, so one neither Ajv nor
// fast-json-stringify accepts fails this test instead of a customer's first request.

const { config } = await testEnv(t);

t.test('every route schema compiles (the app built with eager schemas starts)', async (t) => {
  const app = await buildApp(config, { eagerSchemas: true });
  t.teardown(() => app.close());
  await app.ready();
  t.pass('ready: every validator and serializer built');
});

t.test('header schemas are lower-case: given compilers, Fastify no longer lower-cases them itself', async (t) => {
  const app = await buildTestApp(t, config);
  const document = app.swagger() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>> };
  const headers = Object.values(document.paths).flatMap((item) =>
    Object.values(item).flatMap((operation) => (operation.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name)),
  );
  t.ok(headers.length > 0, `header parameters found: ${[...new Set(headers)].join(', ')}`);
  t.same(
    headers.filter((name) => name !== name.toLowerCase()),
    [],
  );
});

t.test('a route compiled on first use validates, fills defaults and serializes as at start', async (t) => {
  const lazy = await buildTestApp(t, config);
  const eager = await buildTestApp(t, config, { eagerSchemas: true });
  const requests = [
    // Query validation with a coerced number and a bound (400 with the field named), then defaults filled in.
    { method: 'GET' as const, url: '/api/v1/products?limit=0' },
    { method: 'GET' as const, url: '/api/v1/products?limit=2' },
    { method: 'GET' as const, url: '/api/v1/products/not-a-product' },
    // Body validation: a missing field and a wrong type, every error listed (allErrors).
    { method: 'POST' as const, url: '/api/v1/auth/login', payload: { email: 42 } },
    { method: 'POST' as const, url: '/api/v1/auth/register', payload: { email: 'not-an-email', password: 'x' } },
    // A header schema, and a response serializer that drops what the schema does not name.
    { method: 'GET' as const, url: '/api/v1/cart', headers: { 'x-cart-token': 'nope' } },
    { method: 'GET' as const, url: '/api/v1/shipping-methods' },
    { method: 'GET' as const, url: '/health/live' },
  ];
  for (const request of requests) {
    const [a, b] = await Promise.all([lazy.inject(request), eager.inject(request)]);
    t.equal(a.statusCode, b.statusCode, `${request.method} ${request.url}: status ${a.statusCode}`);
    t.same(withoutVolatile(a.json()), withoutVolatile(b.json()), `${request.method} ${request.url}: body`);
  }
});

/** Request ids and instance paths carry the request; the rest must match byte for byte. */
function withoutVolatile(body: unknown): unknown {
  if (!body || typeof body !== 'object') return body;
  const { requestId: _requestId, instance: _instance, ...rest } = body as Record<string, unknown>;
  return rest;
}
