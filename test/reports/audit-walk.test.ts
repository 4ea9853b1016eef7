/* eslint-disable @typescript-eslint/no-explicit-any -- the OpenAPI document and HTTP answers are untyped JSON */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { auditRoutes, type AuditContext } from './audit-routes.js';

const MUTATING = ['post', 'put', 'patch', 'delete'];
/** Keys that must never reach an audit row's before/after, at any depth. */
const SECRET = /hash|token|secret|password|totp/i;

function secretKeys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => secretKeys(v, `${path}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [...(SECRET.test(k) ? [`${path}/${k}`] : []), ...secretKeys(v, `${path}/${k}`)]);
}

t.test('every staff mutation in the OpenAPI document writes exactly one audit row with its action', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const user = await createUser(db, { role: 'admin' });
  const ctx: AuditContext = { app, db, admin: { id: user.id, email: user.email, headers: { authorization: tokenFor(app, 'admin', user.id) } } };

  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<any>();
  const staffMutations: string[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (MUTATING.includes(method) && op['x-permission']) staffMutations.push(`${method.toUpperCase()} ${path}`);
    }
  }
  t.ok(staffMutations.length >= 30, `the document marks staff routes with x-permission (${staffMutations.length} found)`);
  t.same(
    Object.keys(auditRoutes).filter((key) => !staffMutations.includes(key)),
    [],
    'every entry of audit-routes.ts is a staff mutation the API still has',
  );

  for (const key of staffMutations) {
    const entry = auditRoutes[key];
    if (!entry) {
      t.fail(`${key} has no entry in test/reports/audit-routes.ts: add a request and the audit action it writes`);
      continue;
    }
    if ('notAudited' in entry) {
      t.ok(entry.notAudited.length > 10, `${key} is not audited: ${entry.notAudited}`);
      continue;
    }
    await t.test(key, async (t) => {
      const [method, path] = key.split(' ');
      const request = await entry.request(ctx);
      t.match(request.url, new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`), 'the request is for this route');
      const requestId = `audit-walk-${randomUUID()}`;
      const res = await app.inject({
        method: method as 'POST',
        url: request.url,
        headers: { ...ctx.admin.headers, ...request.headers, 'x-request-id': requestId },
        ...(request.payload === undefined ? {} : { payload: request.payload as object }),
      });
      t.ok(res.statusCode >= 200 && res.statusCode < 300, `answered ${res.statusCode}${res.statusCode >= 300 ? ` ${res.body}` : ''}`);
      const rows = await db.selectFrom('auditLog').selectAll().where('requestId', '=', requestId).execute();
      // One row for the action; a use case that starts another audited one (a retried return refund creates
      // a refund) names that one too.
      t.same(rows.map((r) => r.action).sort(), [entry.action, ...(entry.also ?? [])].sort(), 'exactly its audit rows');
      for (const row of rows) {
        t.equal(row.actorId, ctx.admin.id, 'the caller is the actor');
        t.equal(row.ip, '127.0.0.1', 'with the client address');
        t.ok(row.targetType, 'with a target type');
        t.same(secretKeys({ before: row.before, after: row.after }), [], 'no hashes, tokens or secrets');
      }
    });
  }
});

t.test('a failed staff mutation leaves no audit row', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const user = await createUser(db, { role: 'admin' });
  const headers = { authorization: tokenFor(app, 'admin', user.id) };
  const failing = [
    // A duplicate code: the insert fails inside the transaction that would have audited it.
    { method: 'POST', url: '/api/v1/coupons', payload: { code: 'TWICE', kind: 'percent', value: 10 }, first: 201, then: 409 },
    // All or nothing: one unknown SKU fails the whole adjustment.
    { method: 'POST', url: '/api/v1/inventory/bulk-adjust', payload: { items: [{ sku: 'NOPE-1', delta: 1 }], reason: 'recount' }, first: 409, then: 409 },
  ] as const;
  for (const c of failing) {
    const first = await app.inject({ method: c.method, url: c.url, headers, payload: c.payload });
    t.equal(first.statusCode, c.first);
    const requestId = `failed-${randomUUID()}`;
    const res = await app.inject({ method: c.method, url: c.url, headers: { ...headers, 'x-request-id': requestId }, payload: c.payload });
    t.equal(res.statusCode, c.then);
    const rows = await db.selectFrom('auditLog').select('id').where('requestId', '=', requestId).execute();
    t.same(rows, [], `${c.method} ${c.url} that failed wrote no audit row`);
  }
});

t.test('audit rows drop secret-looking keys even when a caller passes them', async (t) => {
  const { db } = await testEnv(t);
  const { writeAudit } = await import('../../shared/auth/audit.js');
  await db.transaction().execute((trx) =>
    writeAudit(trx, {
      actorId: null,
      action: 'test.secret_dropped',
      targetType: 'user',
      targetId: null,
      before: { email: 'a@b.ng', passwordHash: '$argon2id$...', nested: [{ totpSecret: 'JBSWY3DP', name: 'kept' }] },
      after: { refreshToken: 'abc', role: 'support' },
    }),
  );
  const row = await db.selectFrom('auditLog').selectAll().where('action', '=', 'test.secret_dropped').executeTakeFirstOrThrow();
  t.same(row.before, { email: 'a@b.ng', nested: [{ name: 'kept' }] });
  t.same(row.after, { role: 'support' });
});
