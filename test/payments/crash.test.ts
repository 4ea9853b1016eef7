import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import t, { type Test } from 'tap';
import type { Config } from '../../shared/config.js';
import { startTestWorker } from '../support/harness.js';
import { createPendingOrder, paymentState, startPaymentStack, until } from '../support/payment-fixtures.js';

const childScript = fileURLToPath(new URL('../support/payment-worker-child.ts', import.meta.url));

/** Starts a worker process (node itself, not npx, so SIGKILL reaches the process that holds the job). */
async function startChildWorker(t: Test, config: Config): Promise<ChildProcess> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    CHILD_QUEUES: 'payment',
  };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) env[k] = String(v);
  const child = spawn(process.execPath, ['--import', 'tsx', childScript], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await until(
    async () =>
      out.includes('ready') || (child.exitCode !== null ? Promise.reject(new Error('child exited')) : false),
    60_000,
  );
  return child;
}

t.test('a worker killed with SIGKILL mid-payment: the retried job finishes it exactly once', async (t) => {
  t.setTimeout(170_000);
  const s = await startPaymentStack(t, { worker: false });
  const o = await createPendingOrder(s.db, { paystack: s.paystack });

  // Hold the order's row lock from outside, so the payment job blocks inside its transaction.
  const blocker = new pg.Client({
    connectionString: s.config.DATABASE_URL,
    application_name: 'crash-test-blocker',
  });
  await blocker.connect();
  t.teardown(() => blocker.end());
  await blocker.query('BEGIN');
  await blocker.query('SELECT id FROM orders WHERE id = $1 FOR UPDATE', [o.orderId]);

  const first = await startChildWorker(t, s.config);
  const { delivery } = await s.emu.pay(o.reference);
  t.equal(delivery?.status, 200, 'webhook stored and acknowledged');

  // The job is now waiting on our lock, inside the worker's transaction. (Asked on another connection:
  // inside the blocker's transaction pg_stat_activity would be a frozen snapshot.)
  await until(async () => {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = 'agape-worker' AND wait_event_type = 'Lock' AND datname = current_database()`.execute(
      s.db,
    );
    return rows[0].n > 0;
  }, 60_000);

  first.kill('SIGKILL');
  await once(first, 'exit');
  t.equal(first.signalCode, 'SIGKILL');
  await blocker.query('COMMIT');

  // Nothing was applied by the dead worker.
  const mid = await paymentState(s.db, o.orderId, o.variantId);
  t.equal(mid.order.status, 'pending_payment', 'the killed job committed nothing');

  // A new worker picks the stalled job up (after the dead worker's lock expires) and finishes it.
  await startTestWorker(t, s.config, { queues: ['payment'] });
  const done = await until(async () => {
    const st = await paymentState(s.db, o.orderId, o.variantId);
    return st.order.status === 'paid' ? st : undefined;
  }, 150_000);
  t.equal(done.history.filter((h) => h.toStatus === 'paid').length, 1, 'one paid history row');
  t.same(done.stock, { onHand: 8, reserved: 0 }, 'stock committed once');
  t.equal(done.sales.length, 1);
  t.equal(done.outbox.filter((j) => j.name === 'invoice.render').length, 1, 'follow-up jobs once');
  t.equal(done.payments[0].status, 'success');
  const event = await s.db
    .selectFrom('webhookEvents')
    .select(['result', 'processedAt'])
    .executeTakeFirstOrThrow();
  t.equal(event.result, 'paid');
});
