import { generateKeyPairSync, randomUUID } from 'node:crypto';
import t from 'tap';
import { Type } from 'typebox';
import { buildApp } from '../../api/app.js';
import { publicJwk } from '../../api/plugins/auth.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { jwt } from '../support/jwt.js';

const { config } = await testEnv(t);
const app = await buildApp(config);
t.teardown(() => app.close());
app.get('/test/items/:id', { schema: { hide: true, params: Type.Object({ id: Type.String() }) } }, async (request) => ({ id: request.params.id }));
await app.ready();

t.test('/metrics: an HTTP duration histogram labelled by route pattern and status', async (t) => {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  for (const id of ids) t.equal((await app.inject({ url: `/test/items/${id}` })).statusCode, 200);
  await app.inject({ url: `/nothing/${ids[0]}` });
  await app.inject({ url: '/health/live' });
  const res = await app.inject({ url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(res.body, /^# TYPE http_request_duration_seconds histogram$/m);
  t.match(res.body, /^http_request_duration_seconds_count\{method="GET",route="\/test\/items\/:id",status="200"\} 3$/m);
  t.match(res.body, /^http_request_duration_seconds_bucket\{le="0\.1",method="GET",route="\/test\/items\/:id",status="200"\} \d+$/m);
  t.match(res.body, /^http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1$/m, 'unknown routes share one label');
  t.match(res.body, /^http_request_duration_seconds_count\{method="GET",route="\/health\/live",status="200"\} 1$/m);
  for (const id of ids) t.notOk(res.body.includes(id), 'no raw ids in labels');
  t.match(res.body, /^process_resident_memory_bytes \d+/m, 'default process metrics');
  t.match(res.body, /^nodejs_eventloop_lag_seconds /m);
});

t.test('/docs serves the UI and /docs/json an OpenAPI 3 document from the route schemas', async (t) => {
  const ui = await app.inject({ url: '/docs' });
  t.equal(ui.statusCode, 200);
  t.match(ui.headers['content-type'], /^text\/html/);
  t.match(ui.body, /swagger/i);
  const res = await app.inject({ url: '/docs/json' });
  t.equal(res.statusCode, 200);
  const doc = res.json<{
    openapi: string;
    info: { title: string };
    paths: Record<string, Record<string, { summary?: string; tags?: string[]; requestBody?: unknown; responses: Record<string, unknown>; security?: unknown }>>;
  }>();
  t.match(doc.openapi, /^3\./);
  t.ok(doc.info.title);
  for (const path of ['/health/live', '/health/ready', '/.well-known/jwks.json', '/api/v1/system/ping']) t.ok(doc.paths[path], `${path} is listed`);
  t.notOk(doc.paths['/metrics'], '/metrics is hidden');
  const ping = doc.paths['/api/v1/system/ping']?.post;
  t.match(ping, {
    summary: String,
    tags: ['operations'],
    security: [{ bearerAuth: [] }],
    requestBody: { content: { 'application/json': { schema: { properties: { message: { type: 'string' } } } } } },
    responses: { 202: Object, 400: Object, 401: Object, 403: Object },
  });
  // Every API route carries a summary and a response schema: the docs are generated, not hand-kept.
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      t.ok(op.summary, `${method.toUpperCase()} ${path} has a summary`);
      t.ok(Object.keys(op.responses ?? {}).some((s) => s.startsWith('2')), `${method.toUpperCase()} ${path} documents its success response`);
    }
  }
});

t.test('/.well-known/jwks.json publishes the RS256 key with its kid', async (t) => {
  const res = await app.inject({ url: '/.well-known/jwks.json' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['cache-control'], /max-age=\d+/);
  const { keys } = res.json<{ keys: { kid: string; kty: string; alg: string; use: string; n: string; e: string }[] }>();
  t.equal(keys.length, 1);
  t.match(keys[0], { kty: 'RSA', alg: 'RS256', use: 'sig', kid: String, n: String, e: 'AQAB' });
  const header = JSON.parse(Buffer.from(app.signAccessToken({ id: randomUUID(), role: 'customer' }).split('.')[0] ?? '', 'base64url').toString()) as Record<string, string>;
  t.same({ alg: header.alg, kid: header.kid }, { alg: 'RS256', kid: keys[0]?.kid }, 'tokens name the published key');
});

t.test('during a key rotation the previous key is published and still accepted', async (t) => {
  const old = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const oldPublic = old.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const { config: rotated } = await testEnv(t, { JWT_PREVIOUS_PUBLIC_KEY: oldPublic });
  const rotatedApp = await buildTestApp(t, rotated);
  const { keys } = (await rotatedApp.inject({ url: '/.well-known/jwks.json' })).json<{ keys: { kid: string }[] }>();
  const oldKid = publicJwk(oldPublic).kid;
  t.same(keys.map((k) => k.kid), [publicJwk(rotated.JWT_PUBLIC_KEY).kid, oldKid]);
  const now = Math.floor(Date.now() / 1000);
  const token = jwt({ alg: 'RS256', typ: 'JWT', kid: oldKid }, { sub: randomUUID(), role: 'admin', iat: now, exp: now + 600 }, old.privateKey);
  const res = await rotatedApp.inject({ method: 'POST', url: '/api/v1/system/ping', headers: { authorization: `Bearer ${token}` }, payload: { message: 'old key' } });
  t.equal(res.statusCode, 202, 'a token signed before the rotation still works');
  const refused = await app.inject({ method: 'POST', url: '/api/v1/system/ping', headers: { authorization: `Bearer ${token}` }, payload: { message: 'x' } });
  t.equal(refused.statusCode, 401, 'an app without that previous key refuses it');
});

t.test('/admin/queues is for admins only', async (t) => {
  const api = '/admin/queues/api/queues';
  const anonymous = await app.inject({ url: api });
  t.equal(anonymous.statusCode, 401);
  t.match(anonymous.headers['content-type'], /problem\+json/);
  t.equal((await app.inject({ url: '/admin/queues' })).statusCode, 401, 'the page too');
  const browser = await app.inject({ url: '/admin/queues', headers: { accept: 'text/html' } });
  t.equal(browser.statusCode, 302, 'a browser is sent to sign in');
  t.equal(browser.headers.location, '/admin/queues/login');
  for (const role of ['customer', 'support', 'manager'] as const) {
    t.equal((await app.inject({ url: api, headers: { authorization: tokenFor(app, role) } })).statusCode, 403, role);
  }
  t.equal((await app.inject({ url: api, headers: { authorization: 'Bearer forged.token.here' } })).statusCode, 403, 'a bad token');
  const admin = await app.inject({ url: api, headers: { authorization: tokenFor(app, 'admin') } });
  t.equal(admin.statusCode, 200);
  const names = admin.json<{ queues: { name: string }[] }>().queues.map((q) => q.name).sort();
  t.ok(['email', 'payment', 'system'].every((q) => names.includes(q)), `every catalogue queue is shown: ${names.join(', ')}`);
  const page = await app.inject({ url: '/admin/queues', headers: { authorization: tokenFor(app, 'admin'), accept: 'text/html' } });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
});

t.test('security headers come from helmet', async (t) => {
  const res = await app.inject({ url: '/health/live' });
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  t.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
  t.match(res.headers['strict-transport-security'], /max-age=\d+/);
  t.equal(res.headers['referrer-policy'], 'no-referrer');
  t.equal(res.headers['x-dns-prefetch-control'], 'off');
  t.notOk(res.headers['x-powered-by']);
  const problem = await app.inject({ url: '/nope' });
  t.equal(problem.headers['x-content-type-options'], 'nosniff', 'on error responses too');
});

t.test('CORS: only configured origins are allowed', async (t) => {
  const preflight = (a: typeof app, origin: string) =>
    a.inject({
      method: 'OPTIONS',
      url: '/api/v1/system/ping',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
  const closed = await preflight(app, 'https://shop.example');
  t.notOk(closed.headers['access-control-allow-origin'], 'no CORS_ORIGINS: no origin is allowed');
  t.notOk((await app.inject({ url: '/health/live', headers: { origin: 'https://shop.example' } })).headers['access-control-allow-origin']);

  const { config: open } = await testEnv(t, { CORS_ORIGINS: 'https://shop.example, https://admin.shop.example' });
  const corsApp = await buildTestApp(t, open);
  const allowed = await preflight(corsApp, 'https://admin.shop.example');
  t.equal(allowed.statusCode, 204);
  t.equal(allowed.headers['access-control-allow-origin'], 'https://admin.shop.example');
  t.match(allowed.headers['access-control-allow-headers'], /authorization/);
  const simple = await corsApp.inject({ url: '/health/live', headers: { origin: 'https://shop.example' } });
  t.equal(simple.headers['access-control-allow-origin'], 'https://shop.example');
  t.match(simple.headers['access-control-expose-headers'], /x-request-id/);
  t.notOk((await preflight(corsApp, 'https://evil.example')).headers['access-control-allow-origin'], 'others are not');
});
