import { sql } from 'kysely';
import t from 'tap';
import { startReconciliationRun } from '../../shared/payments/reconciliation-runs.js';
import { runReconciliation } from '../../shared/payments/reconciliation.js';
import { todayIn } from '../../shared/reports/range.js';
import { refundOrder } from '../reports/helpers.js';
import { createUser } from '../support/fixtures.js';
import { createPendingOrder, startPaymentStack, until } from '../support/payment-fixtures.js';

interface Finding {
  kind: string;
  reference: string;
  orderId: string | null;
  expected: { amount: number; currency: string } | null;
  actual: { amount: number; currency: string } | null;
}

t.test('the run passes a clean ledger and finds every planted disagreement, telling staff once', async (t) => {
  const s = await startPaymentStack(t, { queues: ['payment'] });
  await createUser(s.db, { role: 'manager' });
  const a = await createPendingOrder(s.db, { paystack: s.paystack, price: 400_000, quantity: 1 });
  const b = await createPendingOrder(s.db, { paystack: s.paystack, price: 300_000, quantity: 1 });
  await s.emu.pay(a.reference);
  await s.emu.pay(b.reference);
  await until(async () => {
    const paid = await s.db.selectFrom('orders').select('id').where('id', 'in', [a.orderId, b.orderId]).where('status', '=', 'paid').execute();
    return paid.length === 2;
  });
  await refundOrder(s.db, a.orderId, 100_000);

  const run = async () => {
    const runId = await s.db.transaction().execute((trx) => startReconciliationRun(trx, { trigger: 'manual', enqueueJob: false }));
    await runReconciliation(s.db, runId, { paystack: s.paystack, publicUrl: s.config.PUBLIC_URL, timeZone: s.config.SHOP_TIMEZONE });
    const row = await s.db.selectFrom('reconciliationRuns').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
    return { ...row, discrepancies: row.discrepancies as unknown as Finding[], counts: row.counts as unknown as Record<string, number> };
  };
  const alerts = async () =>
    (
      await s.db
        .selectFrom('outbox')
        .select(sql<string>`payload->'data'->>'kind'`.as('kind'))
        .where('name', '=', 'email.send')
        .where(sql<string>`payload->>'template'`, '=', 'payment-problem')
        .execute()
    ).map((r) => r.kind);

  const clean = await run();
  t.equal(clean.status, 'completed');
  t.same(clean.discrepancies, [], 'paid, refunded, rolled up and listed by Paystack alike: nothing to report');
  t.same(await alerts(), [], 'and nobody is alerted');

  // 1. An order's books: 5,000 kobo more refunded than its refund parts hold.
  await s.db.updateTable('orders').set({ amountRefunded: sql`amount_refunded + 5000` }).where('id', '=', b.orderId).execute();
  // 2. The reports' rollup: 777 kobo of gross no payment accounts for.
  await sql`SELECT sales_rollup_add(now(), 'NGN', 0, 0, 0, 0, 0, 777, 0, 0)`.execute(s.db);
  // 3. Paystack's list: our books (payment, order and rollup alike) say 1 kobo more than Paystack charged.
  await s.db.updateTable('payments').set({ paidAmount: sql`paid_amount + 1` }).where('reference', '=', a.reference).execute();
  await s.db.updateTable('orders').set({ amountPaid: sql`amount_paid + 1` }).where('id', '=', a.orderId).execute();

  const dirty = await run();
  const day = todayIn(s.config.SHOP_TIMEZONE);
  const number = (await s.db.selectFrom('orders').select('number').where('id', '=', b.orderId).executeTakeFirstOrThrow()).number;
  const byKind = Object.fromEntries(dirty.discrepancies.map((d) => [d.kind, d]));
  t.same(
    dirty.discrepancies.map((d) => `${d.kind} ${d.reference}`).sort(),
    [`order_ledger_mismatch order:${number}`, `paystack_daily_mismatch paystack:${day}:NGN`, `rollup_mismatch rollup:${day}:NGN`],
    'exactly the three planted disagreements',
  );
  t.match(byKind.order_ledger_mismatch, {
    orderId: b.orderId,
    expected: { amount: 300_000, currency: 'NGN' },
    actual: { amount: 295_000, currency: 'NGN' },
  });
  const net = 400_000 + 300_000 - 100_000;
  t.match(byKind.rollup_mismatch, { expected: { amount: net + 1 }, actual: { amount: net + 1 + 777 } });
  t.match(byKind.paystack_daily_mismatch, { expected: { amount: 700_001 }, actual: { amount: 700_000 } });
  t.equal(dirty.counts.discrepancies, 3, 'counted on the run');
  t.same((await alerts()).sort(), ['order_ledger_mismatch', 'paystack_daily_mismatch', 'rollup_mismatch'], 'staff are mailed about each');
  const notices = await s.db
    .selectFrom('outbox')
    .select('id')
    .where('name', '=', 'system.notify')
    .where(sql<string>`payload->>'type'`, '=', 'payment.problem')
    .execute();
  t.equal(notices.length, 3, 'and told on their sockets');

  const again = await run();
  t.same(
    again.discrepancies.map((d) => d.reference).sort(),
    dirty.discrepancies.map((d) => d.reference).sort(),
    'a second run lists the same disagreements',
  );
  t.equal((await alerts()).length, 3, 'without alerting anyone twice');
});
