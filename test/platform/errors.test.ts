import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import { Type } from 'typebox';
import { buildApp } from '../../api/app.js';
import { ConflictError, InsufficientStockError, TooManyRequestsError } from '../../shared/errors.js';
import { logCapture, testEnv, tokenFor } from '../support/harness.js';
import { jwt } from '../support/jwt.js';
import { assertProblem } from '../support/problems.js';

const { config } = await testEnv(t, { BODY_LIMIT_BYTES: '2048' });
const logs = logCapture('info');
const app = await buildApp(config, { logger: logs.logger });
t.teardown(() => app.close());

// Test-only routes, registered before ready() like any domain's routes.
app.post(
  '/test/things/:id',
  {
    schema: {
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
      body: Type.Object(
        { message: Type.String({ minLength: 1 }), kind: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b')])) },
        { additionalProperties: false },
      ),
    },
  },
  async () => ({ ok: true }),
);
app.get('/test/conflict', async () => {
  throw new ConflictError('version_conflict', 'The inventory changed since you read it', { currentVersion: 7 });
});
app.get('/test/stock', async () => {
  throw new InsufficientStockError([{ variantId: randomUUID(), sku: 'TEE-M', requested: 3, available: 1 }]);
});
app.get('/test/slow-down', async () => {
  throw new TooManyRequestsError(12.2);
});
app.get('/test/bad-sql', async () => {
  await sql`SELECT secret_column FROM no_such_table WHERE password = 'hunter2'`.execute(app.db);
  return { ok: true };
});
app.get('/test/limited', { config: { rateLimit: { max: 2, timeWindow: 60_000 } } }, async () => ({ ok: true }));
app.post(
  '/test/protected',
  {
    config: { permission: 'product:write' },
    schema: { body: Type.Object({ title: Type.String({ minLength: 1 }) }) },
  },
  async (request) => ({ who: request.auth?.id }),
);
await app.ready();

t.test('validation errors list every field problem with JSON-pointer paths', async (t) => {
  const id = randomUUID();
  const missing = await app.inject({ method: 'POST', url: `/test/things/${id}`, payload: {} });
  let body = assertProblem(t, missing, 400, 'validation_failed');
  t.same(body.errors, [{ path: '/message', message: 'is required' }]);
  t.equal(body.detail, 'The request body is invalid');

  const several = await app.inject({ method: 'POST', url: `/test/things/${id}`, payload: { message: '', kind: 'c', extra: 1 } });
  body = assertProblem(t, several, 400, 'validation_failed');
  const paths = (body.errors as { path: string; message: string }[]).map((e) => e.path).sort();
  t.same([...new Set(paths)], ['/extra', '/kind', '/message'], 'every bad field is reported (allErrors)');
  t.same(
    (body.errors as { path: string; message: string }[]).filter((e) => e.path === '/kind'),
    [{ path: '/kind', message: 'must be one of "a", "b"' }],
    'a union of literals is one line naming the choices',
  );

  const query = await app.inject({ method: 'POST', url: `/test/things/${id}?limit=0`, payload: { message: 'x' } });
  body = assertProblem(t, query, 400, 'validation_failed');
  t.equal(body.detail, 'The query string is invalid');
  t.match(body.errors, [{ path: '/limit', message: String }]);

  const params = await app.inject({ method: 'POST', url: '/test/things/not-a-uuid', payload: { message: 'x' } });
  body = assertProblem(t, params, 400, 'validation_failed');
  t.equal(body.detail, 'The path parameters are invalid');
  t.match(body.errors, [{ path: '/id', message: String }]);

  const ok = await app.inject({ method: 'POST', url: `/test/things/${id}?limit=5`, payload: { message: 'x', kind: 'a' } });
  t.equal(ok.statusCode, 200, 'a valid request passes');
});

t.test('malformed, empty, oversized and non-JSON bodies', async (t) => {
  const url = `/test/things/${randomUUID()}`;
  const json = { 'content-type': 'application/json' };
  assertProblem(t, await app.inject({ method: 'POST', url, headers: json, payload: '{"message": "x"' }), 400, 'malformed_json');
  assertProblem(t, await app.inject({ method: 'POST', url, headers: json, payload: '' }), 400, 'malformed_json');
  const big = JSON.stringify({ message: 'x'.repeat(4096) });
  assertProblem(t, await app.inject({ method: 'POST', url, headers: json, payload: big }), 413, 'payload_too_large');
  const xml = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/xml' }, payload: '<message/>' });
  assertProblem(t, xml, 415, 'unsupported_media_type');
});

t.test('unknown routes are 404 not_found problems', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
  const body = assertProblem(t, res, 404, 'not_found');
  t.equal(body.detail, 'No route for GET /api/v1/nothing-here');
  assertProblem(t, await app.inject({ method: 'DELETE', url: '/health/live' }), 404, 'not_found');
  const badUrl = await app.inject({ method: 'GET', url: '/api/v1/%E0%A4%A', headers: { 'x-request-id': 'bad-url-1' } });
  assertProblem(t, badUrl, 400, 'bad_request');
  t.equal(badUrl.headers['x-request-id'], 'bad-url-1', 'a URL Fastify cannot decode still gets a problem with the request id');
});

t.test('typed domain errors keep their status, code, extra fields and headers', async (t) => {
  const conflict = assertProblem(t, await app.inject({ url: '/test/conflict' }), 409, 'version_conflict');
  t.equal(conflict.detail, 'The inventory changed since you read it');
  t.equal(conflict.currentVersion, 7);
  t.equal(conflict.type, 'https://docs.agape.dev/problems/version-conflict');
  t.equal(conflict.title, 'Conflict');

  const stock = assertProblem(t, await app.inject({ url: '/test/stock' }), 409, 'insufficient_stock');
  t.match(stock.lines, [{ sku: 'TEE-M', requested: 3, available: 1 }], 'the short lines are named');

  const slow = await app.inject({ url: '/test/slow-down' });
  assertProblem(t, slow, 429, 'rate_limited');
  t.equal(slow.headers['retry-after'], '13');
});

t.test('rate-limit refusals are 429 rate_limited with retry-after', async (t) => {
  t.equal((await app.inject({ url: '/test/limited' })).statusCode, 200);
  t.equal((await app.inject({ url: '/test/limited' })).statusCode, 200);
  const refused = await app.inject({ url: '/test/limited' });
  assertProblem(t, refused, 429, 'rate_limited');
  t.ok(Number(refused.headers['retry-after']) > 0, `retry-after ${refused.headers['retry-after']}`);
  const other = await app.inject({ url: '/test/limited', remoteAddress: '10.9.8.7' });
  t.equal(other.statusCode, 200, 'counted per client address');
});

t.test('an unexpected error is a bare 500: no stack, no SQL; logged with the request id', async (t) => {
  const res = await app.inject({ url: '/test/bad-sql', headers: { 'x-request-id': 'bad-sql-1' } });
  const body = assertProblem(t, res, 500, 'internal_error');
  t.equal(body.detail, 'Something went wrong on our side');
  t.same(Object.keys(body).sort(), ['code', 'detail', 'requestId', 'status', 'title', 'type']);
  for (const leak of ['no_such_table', 'SELECT', 'hunter2', 'secret_column', 'at ', '.ts']) t.notOk(res.body.includes(leak), `no "${leak}"`);
  const line = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'unhandled error');
  t.ok(line, 'the error is logged');
  t.equal(line?.requestId, 'bad-sql-1', 'with the request id');
  t.match(JSON.stringify(line?.err), /no_such_table/, 'and the cause, for operators');
});

t.test('authentication runs before body validation; permissions after', async (t) => {
  const url = '/test/protected';
  assertProblem(t, await app.inject({ method: 'POST', url, payload: { nope: true } }), 401, 'unauthorized');
  assertProblem(t, await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{bad' }), 401, 'unauthorized');
  const customer = await app.inject({ method: 'POST', url, headers: { authorization: tokenFor(app, 'customer') }, payload: { nope: true } });
  assertProblem(t, customer, 403, 'forbidden');
  const manager = await app.inject({ method: 'POST', url, headers: { authorization: tokenFor(app, 'manager') }, payload: { nope: true } });
  assertProblem(t, manager, 400, 'validation_failed');
  const ok = await app.inject({ method: 'POST', url, headers: { authorization: tokenFor(app, 'manager', randomUUID()) }, payload: { title: 'x' } });
  t.equal(ok.statusCode, 200);
});

t.test('bad tokens are 401, never 500', async (t) => {
  const url = '/test/protected';
  const { kid } = app.jwks.keys[0];
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: randomUUID(), role: 'admin', iat: now, exp: now + 600 };
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const valid = app.signAccessToken({ id: randomUUID(), role: 'customer' });
  const [head, , sig] = valid.split('.');
  const cases: Record<string, string> = {
    'alg none': jwt({ alg: 'none', typ: 'JWT', kid }, claims),
    'HS256 signed with the public key': jwt({ alg: 'HS256', typ: 'JWT', kid }, claims, config.JWT_PUBLIC_KEY),
    'tampered payload': `${head}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${sig}`,
    expired: jwt({ alg: 'RS256', typ: 'JWT', kid }, { ...claims, iat: now - 3600, exp: now - 60 }, config.JWT_PRIVATE_KEY),
    'unknown kid': jwt({ alg: 'RS256', typ: 'JWT', kid: 'somebody-else' }, claims, stranger),
    'right kid, wrong key': jwt({ alg: 'RS256', typ: 'JWT', kid }, claims, stranger),
    'no kid': jwt({ alg: 'RS256', typ: 'JWT' }, claims, config.JWT_PRIVATE_KEY),
    garbage: 'not.a.jwt',
    empty: '',
  };
  for (const [name, token] of Object.entries(cases)) {
    const res = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload: { title: 'x' } });
    t.equal(res.statusCode, 401, `${name}: ${res.body.slice(0, 200)}`);
    t.equal(res.json<{ code: string }>().code, 'unauthorized', name);
  }
  const basic = await app.inject({ method: 'POST', url, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' }, payload: { title: 'x' } });
  assertProblem(t, basic, 401, 'unauthorized');
  const good = jwt({ alg: 'RS256', typ: 'JWT', kid }, claims, config.JWT_PRIVATE_KEY);
  const res = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${good}` }, payload: { title: 'x' } });
  t.equal(res.statusCode, 200, 'the same claims properly signed pass (the cases above fail for their flaw alone)');
});
