import t, { type Test } from 'tap';
import { signWebhook } from '../../shared/integrations/paystack/client.js';
import { createProduct, createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv } from '../support/harness.js';
import { multipartBody } from '../support/multipart.js';

const SECRET = 'sk_test_bodies';

t.test('request bodies: 415 for non-JSON, absent optional bodies are {}', async (t) => {
  const { config, db } = await testEnv(t, { PAYSTACK_SECRET_KEY: SECRET });
  const app = await buildTestApp(t, config);
  const admin = await createUser(db, { role: 'admin' });
  const auth = { authorization: `Bearer ${app.signAccessToken({ id: admin.id, role: 'admin' })}` };
  const isProblem = (t: Test, res: { statusCode: number; headers: Record<string, unknown>; json(): { code: string } }, status: number, code: string) => {
    t.equal(res.statusCode, status, JSON.stringify(res.json()));
    t.equal(res.json().code, code);
    t.match(res.headers['content-type'], /application\/problem\+json/);
  };

  t.test('text/plain to a JSON route answers 415 unsupported_media_type', async (t) => {
    const plain = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'text/plain' },
      payload: '{"email":"a@example.test","password":"whatever-it-is"}',
    });
    isProblem(t, plain, 415, 'unsupported_media_type');
    const form = await app.inject({
      method: 'POST',
      url: '/api/v1/system/ping',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'message=hi',
    });
    isProblem(t, form, 415, 'unsupported_media_type');
    const plainOptional = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/reconciliation/run',
      headers: { ...auth, 'content-type': 'text/plain; charset=utf-8' },
      payload: 'run it',
    });
    isProblem(t, plainOptional, 415, 'unsupported_media_type');
    // A route that takes uploads takes multipart (and JSON), not text.
    const { product } = await createProduct(db);
    const textToUpload = await app.inject({
      method: 'POST',
      url: `/api/v1/products/${product.id}/images`,
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'not an image',
    });
    isProblem(t, textToUpload, 415, 'unsupported_media_type');
    // Multipart still reaches the upload route; its own 415 (bytes that are not an image) still holds.
    const fake = multipartBody(Buffer.from('#!/bin/sh\necho hi\n'.repeat(20)), 'cat.png', 'image/png');
    const upload = await app.inject({
      method: 'POST',
      url: `/api/v1/products/${product.id}/images`,
      headers: { ...auth, ...fake.headers },
      payload: fake.payload,
    });
    isProblem(t, upload, 415, 'unsupported_media_type');
  });

  t.test('no body to an optional-body route works', async (t) => {
    const bare = await app.inject({ method: 'POST', url: '/api/v1/admin/reconciliation/run', headers: auth });
    t.equal(bare.statusCode, 202, bare.body);
    t.match(bare.json(), { runId: String });
    // `curl -X POST -H 'content-type: application/json'` sends the header and no bytes.
    const emptyJson = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/reconciliation/run',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '',
    });
    t.equal(emptyJson.statusCode, 202, emptyJson.body);
    // A required field with a default is optional too; the default applies to the empty body.
    const ping = await app.inject({ method: 'POST', url: '/api/v1/system/ping', headers: auth });
    t.equal(ping.statusCode, 202, ping.body);
    const job = await db.selectFrom('outbox').select('payload').where('name', '=', 'system.ping').executeTakeFirstOrThrow();
    t.match(job.payload, { message: 'ping' });
    // The empty body is still validated like any other: the window check still runs on a real body.
    const badWindow = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/reconciliation/run',
      headers: auth,
      payload: { from: '2026-12-06T10:00:00Z', to: '2026-12-01T10:00:00Z' },
    });
    isProblem(t, badWindow, 400, 'validation_failed');
  });

  t.test('a required body that is absent is a 400 validation problem', async (t) => {
    const none = await app.inject({ method: 'POST', url: '/api/v1/auth/login' });
    isProblem(t, none, 400, 'validation_failed');
    t.match(none.json(), { errors: [{ path: String, message: String }] });
    // PATCH bodies must change something: absent is not "nothing to change".
    const patch = await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${admin.id}`, headers: auth });
    isProblem(t, patch, 400, 'validation_failed');
    // An empty JSON body where one is required stays what it was: malformed JSON.
    const emptyJson = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    isProblem(t, emptyJson, 400, 'malformed_json');
  });

  t.test('JSON with a charset parameter is still JSON', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/system/ping',
      headers: { ...auth, 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({ message: 'with charset' }),
    });
    t.equal(res.statusCode, 202, res.body);
    const upper = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/reconciliation/run',
      headers: { ...auth, 'content-type': 'Application/JSON; Charset=UTF-8' },
      payload: JSON.stringify({ from: '2026-12-05T10:00:00Z', to: '2026-12-06T10:00:00Z' }),
    });
    t.equal(upper.statusCode, 202, upper.body);
  });

  t.test('the webhook still gets the raw bytes it signs', async (t) => {
    // Whitespace and key order matter to the HMAC: a re-serialised body would not verify.
    const raw = '{ "event": "charge.success",   "data": { "reference": "nope-1", "amount": 100 } }';
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/webhooks/paystack',
      headers: { 'content-type': 'application/json', 'x-paystack-signature': signWebhook(raw, SECRET) },
      payload: raw,
    });
    t.equal(res.statusCode, 200, res.body);
    t.same(res.json(), { received: true, duplicate: false });
  });
});
