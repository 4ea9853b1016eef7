import { sql } from 'kysely';
import t from 'tap';
import { address, createUser } from '../support/fixtures.js';
import { createPendingOrder } from '../support/payment-fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';

t.test('no role but the table owner holds a grant to change audit rows', async (t) => {
  const { db } = await testEnv(t);
  const { rows } = await sql<{ grantee: string; privilege: string }>`
    SELECT coalesce(r.rolname, 'PUBLIC') AS grantee, a.privilege_type AS privilege
    FROM pg_class c CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
    LEFT JOIN pg_roles r ON r.oid = a.grantee
    WHERE c.oid = 'audit_log'::regclass AND a.grantee <> c.relowner
      AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')`.execute(db);
  t.same(rows, [], 'UPDATE, DELETE and TRUNCATE are granted to nobody (the trigger stops the owner)');
  const { rows: triggers } = await sql<{ tgname: string }>`
    SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal ORDER BY tgname`.execute(db);
  t.same(triggers.map((r) => r.tgname), ['audit_log_no_truncate', 'audit_log_no_update']);
});

t.test("staff cancelling a customer's order is audited; the customer's own cancel is not a staff mutation", async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const manager = await createUser(db, { role: 'manager' });
  const customer = await createUser(db);
  const cancel = async (orderId: string, authorization: string, requestId: string) => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/orders/${orderId}/cancel`,
      headers: { authorization, 'x-request-id': requestId },
    });
    t.equal(res.statusCode, 200, res.body);
    return db.selectFrom('auditLog').selectAll().where('requestId', '=', requestId).execute();
  };
  const orderOf = async () => {
    const order = await createPendingOrder(db, { userId: customer.id, email: customer.email });
    await db.updateTable('orders').set({ shippingAddress: JSON.stringify(address) }).where('id', '=', order.orderId).execute();
    return order;
  };

  const byStaff = await orderOf();
  const [row, ...more] = await cancel(byStaff.orderId, tokenFor(app, 'manager', manager.id), 'staff-cancel');
  t.same(more, []);
  t.match(row, {
    action: 'order.status_changed',
    actorId: manager.id,
    targetType: 'order',
    targetId: byStaff.orderId,
    before: { status: 'pending_payment' },
    after: { status: 'cancelled' },
  });

  const own = await orderOf();
  t.same(await cancel(own.orderId, tokenFor(app, 'customer', customer.id), 'own-cancel'), [], 'a customer cancelling their own order writes no audit row');
});
