import { randomUUID } from 'node:crypto';
import t from 'tap';
import { can, roles, type Permission, type Role } from '../../shared/auth/permissions.js';
import { tokenFor } from '../support/harness.js';
import { createUser } from '../support/fixtures.js';
import { bearer, identityStack, loginAs } from './helpers.js';

/**
 * Staff routes and the permission each needs. Other domains add their rows here; every route under
 * /admin/ found in the OpenAPI document is also checked to refuse customers, table or not.
 */
const STAFF_ROUTES: { method: string; url: string; permission: Permission; body?: object }[] = [
  { method: 'GET', url: '/api/v1/admin/users', permission: 'user:manage' },
  { method: 'PATCH', url: '/api/v1/admin/users/:id', permission: 'user:manage', body: { role: 'support' } },
  { method: 'POST', url: '/api/v1/system/ping', permission: 'system:ping', body: { message: 'x' } },
  { method: 'GET', url: '/admin/queues/api/queues', permission: 'queue:admin' },
];

const fill = (url: string) => url.replace(/:[A-Za-z]+|\{[A-Za-z]+\}/g, () => randomUUID());

t.test('permission matrix: every staff route × every role (401 anonymous, 403 without, allowed with)', async (t) => {
  const { app } = await identityStack(t, {}, { worker: false });
  for (const route of STAFF_ROUTES) {
    const url = fill(route.url);
    // Anonymous: 401 whatever the body (authentication comes before validation).
    const anon = await app.inject({ method: route.method as 'GET', url, payload: { nonsense: true } });
    t.equal(anon.statusCode, 401, `${route.method} ${route.url} anonymous`);
    for (const role of roles) {
      const res = await app.inject({
        method: route.method as 'GET',
        url,
        headers: { authorization: tokenFor(app, role) },
        ...(route.body ? { payload: route.body } : {}),
      });
      if (can(role, route.permission)) {
        t.ok(res.statusCode < 400 || res.statusCode === 404, `${route.method} ${route.url} as ${role}: ${res.statusCode}`);
      } else {
        t.equal(res.statusCode, 403, `${route.method} ${route.url} as ${role}`);
        t.equal(res.json().code, 'forbidden');
      }
    }
  }

  // Every documented admin route refuses anonymous callers and customers.
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  const adminRoutes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .filter(([path]) => path.includes('/admin/'))
    .flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), url: path })));
  t.ok(adminRoutes.some((r) => r.url === '/api/v1/admin/users'), 'the document lists the admin routes');
  for (const route of adminRoutes) {
    const url = fill(route.url);
    const anon = await app.inject({ method: route.method as 'GET', url, payload: {} });
    t.equal(anon.statusCode, 401, `${route.method} ${route.url} anonymous`);
    const customer = await app.inject({ method: route.method as 'GET', url, headers: { authorization: tokenFor(app, 'customer') }, payload: {} });
    t.equal(customer.statusCode, 403, `${route.method} ${route.url} as customer`);
  }
});

t.test('staff user management: search, filter, pages, role change and disable with audit rows', async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const admin = await createUser(db, { role: 'admin', email: 'boss@example.com' });
  for (let i = 0; i < 5; i++) await createUser(db, { email: `shopper${i}@example.com` });
  const target = await createUser(db, { email: 'target.person@example.com' });
  const auth = bearer((await loginAs(app, admin.email)).json().accessToken);

  const all: { id: string }[] = [];
  let cursor: string | null = null;
  do {
    const res: { statusCode: number; body: string; json(): { items: { id: string }[]; nextCursor: string | null } } =
      await app.inject({ method: 'GET', url: `/api/v1/admin/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`, headers: auth });
    t.equal(res.statusCode, 200, res.body);
    const page = res.json();
    t.ok(page.items.length <= 3);
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  t.equal(all.length, 7, 'every user once across pages');
  t.equal(new Set(all.map((u) => u.id)).size, 7);
  t.notOk(JSON.stringify(all).includes('argon2'), 'no hashes');

  const search = await app.inject({ method: 'GET', url: '/api/v1/admin/users?q=TARGET.person', headers: auth });
  t.same(search.json().items.map((u: { email: string }) => u.email), ['target.person@example.com']);
  const admins = await app.inject({ method: 'GET', url: '/api/v1/admin/users?role=admin', headers: auth });
  t.same(admins.json().items.map((u: { id: string }) => u.id), [admin.id]);
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/admin/users?role=king', headers: auth })).statusCode, 400);
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/admin/users?cursor=garbage', headers: auth })).statusCode, 400);

  const patch = (id: string, payload: object, requestId = 'req-staff-1') =>
    app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${id}`, headers: { ...auth, 'x-request-id': requestId }, payload });
  const promoted = await patch(target.id, { role: 'manager' });
  t.equal(promoted.statusCode, 200, promoted.body);
  t.equal(promoted.json().role, 'manager');
  const audit = await db.selectFrom('auditLog').selectAll().where('targetId', '=', target.id).execute();
  t.equal(audit.length, 1);
  t.match(audit[0], { actorId: admin.id, action: 'user.role_changed', targetType: 'user', requestId: 'req-staff-1' });
  t.same(audit[0]?.before, { role: 'customer', disabled: false });
  t.same(audit[0]?.after, { role: 'manager', disabled: false });

  const disabled = await patch(target.id, { disabled: true }, 'req-staff-2');
  t.equal(disabled.json().disabled, true);
  const rows = await db.selectFrom('auditLog').select(['action', 'requestId']).where('targetId', '=', target.id).orderBy('createdAt').execute();
  t.same(rows.map((r) => r.action), ['user.role_changed', 'user.disabled']);
  t.equal((await patch(target.id, { disabled: true }, 'req-staff-3')).statusCode, 200, 'no change, no audit row');
  t.equal((await db.selectFrom('auditLog').select('id').where('targetId', '=', target.id).execute()).length, 2);

  t.equal((await patch(randomUUID(), { role: 'admin' })).statusCode, 404);
  t.equal((await patch(target.id, {})).statusCode, 400);
  t.equal((await patch(target.id, { role: 'king' })).statusCode, 400);
  const self = await patch(admin.id, { role: 'customer' });
  t.equal(self.statusCode, 409);
  t.equal(self.json().code, 'cannot_modify_self');

  // Managers cannot manage users.
  const manager = await createUser(db, { role: 'manager' });
  const managerAuth = bearer((await loginAs(app, manager.email)).json().accessToken);
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${target.id}`, headers: managerAuth, payload: { role: 'admin' } })).statusCode, 403);
});

t.test("a customer asking for another user's session gets 404", async (t) => {
  const { app, db } = await identityStack(t, {}, { worker: false });
  const alice = await createUser(db);
  const bob = await createUser(db);
  const aliceAuth = bearer((await loginAs(app, alice.email)).json().accessToken);
  const bobLogin = (await loginAs(app, bob.email)).json();
  const bobSessions = (await app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: bearer(bobLogin.accessToken) })).json();
  const res = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${bobSessions.items[0].id}`, headers: aliceAuth });
  t.equal(res.statusCode, 404);
  t.equal(res.json().code, 'not_found');
  const stillAlive = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: bobLogin.refreshToken } });
  t.equal(stillAlive.statusCode, 200, "Bob's session untouched");
  const aliceSessions = (await app.inject({ method: 'GET', url: '/api/v1/auth/sessions', headers: aliceAuth })).json();
  t.equal(aliceSessions.items.length, 1, 'each sees only their own sessions');
});

t.test('role table: staff roles are supersets in order', async (t) => {
  const perms = (r: Role) => ['product:write', 'order:read:any', 'user:manage', 'queue:admin'].filter((p) => can(r, p as Permission));
  t.same(perms('customer'), []);
  t.same(perms('support'), ['order:read:any']);
  t.same(perms('manager'), ['product:write', 'order:read:any']);
  t.same(perms('admin'), ['product:write', 'order:read:any', 'user:manage', 'queue:admin']);
});
