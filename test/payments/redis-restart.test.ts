import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { enqueue } from '../../shared/outbox.js';
import { createPendingOrder, paymentState, startPaymentStack, until } from '../support/payment-fixtures.js';
import { onPath } from '../../scripts/dev-services.js';

const redisBinary = onPath('redis-server');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Our own redis-server (no persistence: a restart loses everything, the worst case). */
async function startRedis(t: Test, port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    redisBinary!,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await until(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' }, () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      }),
  );
  return child;
}

t.test(
  'Redis restarted while the outbox holds jobs: every job delivered and applied once',
  { skip: redisBinary ? false : 'redis-server not on PATH' },
  async (t) => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'agape-redis-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const redis = await startRedis(t, port, dir);
    const s = await startPaymentStack(t, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } });

    const orders: Awaited<ReturnType<typeof createPendingOrder>>[] = [];
    for (let i = 0; i < 6; i++)
      orders.push(await createPendingOrder(s.db, { paystack: s.paystack, quantity: 1 }));

    redis.kill('SIGKILL');
    await once(redis, 'exit');

    // With Redis gone, the HTTP path still takes webhooks (they are stored in Postgres)...
    for (const o of orders.slice(0, 3)) {
      const { delivery } = await s.emu.pay(o.reference);
      t.equal(delivery?.status, 200, 'webhook acknowledged while Redis is down');
    }
    // ...and domain code still adds jobs: verify jobs for payments whose webhooks were lost.
    for (const o of orders.slice(3)) await s.emu.pay(o.reference, { webhook: false });
    await s.db.transaction().execute(async (trx) => {
      for (const o of orders.slice(3)) await enqueue(trx, 'payment.verify', { reference: o.reference });
    });
    const pending = await s.db
      .selectFrom('outbox')
      .select('id')
      .where('deliveredAt', 'is', null)
      .where('queue', '=', 'payment')
      .execute();
    t.equal(pending.length, 6, 'the jobs wait in the outbox');

    await startRedis(t, port, dir); // same port, empty memory

    for (const o of orders) {
      const st = await until(async () => {
        const x = await paymentState(s.db, o.orderId, o.variantId);
        return x.order.status === 'paid' ? x : undefined;
      }, 60_000);
      t.equal(st.history.filter((h) => h.toStatus === 'paid').length, 1, `${o.number} paid once`);
      t.same(st.stock, { onHand: 9, reserved: 0 });
    }
    const outbox = await s.db
      .selectFrom('outbox')
      .select(['id', 'deliveredAt', 'attempts'])
      .where('queue', '=', 'payment')
      .execute();
    t.equal(outbox.length, 6);
    t.ok(
      outbox.every((r) => r.deliveredAt && r.attempts === 1),
      'each row relayed exactly once',
    );
    const completed = await until(async () => {
      const jobs = await s.worker!.deps.queues.payment.getJobs(['completed']);
      return jobs.length >= 6 ? jobs : undefined;
    });
    t.same(
      completed.map((j) => j.id).sort(),
      outbox.map((r) => r.id).sort(),
      'one BullMQ job per outbox row (job id = outbox id)',
    );
    t.equal(await s.worker!.deps.queues.payment.getFailedCount(), 0);
  },
);
