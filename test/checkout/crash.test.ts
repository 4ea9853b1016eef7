import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { sql } from 'kysely';
import t from 'tap';
import { repoRoot } from '../../shared/config.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { eventually, testEnv } from '../support/harness.js';
import { address, createProduct, createShipping, newKey, startServer, stockOf } from '../support/fixtures.js';

t.test('a crash between the commit and the Paystack call leaves a payable order, and the key recovers', async (t) => {
  // Paystack that accepts the connection and never answers: the API process is killed while waiting.
  const sockets = new Set<Socket>();
  const blackhole = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    blackhole.close();
  });
  const emu = await startPaystackEmulator({ secretKey: 'sk_test_crash' });
  t.teardown(() => emu.close());
  const { config, db } = await testEnv(t, { PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey });
  const { variants } = await createProduct(db, [{ onHand: 5 }]);
  const ship = await createShipping(db);

  const child = spawn(process.execPath, ['--import', 'tsx', 'test/checkout/crash-server.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: config.DATABASE_URL,
      REDIS_URL: config.REDIS_URL,
      QUEUE_PREFIX: config.QUEUE_PREFIX,
      PUBLIC_URL: config.PUBLIC_URL,
      LOG_LEVEL: 'silent',
      PAYSTACK_SECRET_KEY: emu.secretKey,
      PAYSTACK_BASE_URL: `http://127.0.0.1:${(blackhole.address() as { port: number }).port}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`crash server exited ${code}`)));
  });
  const base = `http://127.0.0.1:${port}/api/v1`;
  const cart = (await (await fetch(`${base}/cart`, { method: 'POST' })).json()) as { token: string };
  const h = { 'content-type': 'application/json', 'x-cart-token': cart.token };
  await fetch(`${base}/cart/items`, { method: 'POST', headers: h, body: JSON.stringify({ variantId: variants[0].id, quantity: 2 }) });

  const key = newKey();
  const body = { email: 'crash@example.test', shippingAddress: address, shippingMethodId: ship.id };
  const pending = fetch(`${base}/checkout`, { method: 'POST', headers: { ...h, 'idempotency-key': key }, body: JSON.stringify(body) }).catch((err: unknown) => err);
  // The order is committed and the process is talking to Paystack: now it dies.
  await eventually(() => sockets.size > 0);
  child.kill('SIGKILL');
  t.ok((await pending) instanceof Error, 'the client never got an answer');

  const order = await db.selectFrom('orders').select(['id', 'number', 'status']).executeTakeFirstOrThrow();
  t.equal(order.status, 'pending_payment');
  t.match(await stockOf(db, variants[0].id), { reserved: 2 });
  t.same(await db.selectFrom('payments').select(['attempt', 'status']).execute(), [{ attempt: 1, status: 'initializing' }]);

  // Another API replica takes over.
  const { call } = await startServer(t, config);
  const inFlight = await call('POST', '/checkout', { headers: { 'x-cart-token': cart.token, 'idempotency-key': key }, body });
  t.equal(inFlight.status, 409, 'within the lease the key still counts as in flight');

  const pay = await call('POST', `/orders/${order.id}/pay`, { headers: { 'x-cart-token': cart.token } });
  t.equal(pay.status, 200, JSON.stringify(pay.body));
  t.match(pay.body.reference, /^AGP-[0-9a-f]{32}$/, 'a new random reference');
  t.ok(pay.body.authorizationUrl, 'the order is payable');

  // Past the lease (clock driven through the database) the same key finishes the first request.
  await sql`UPDATE idempotency_keys SET expires_at = now() - interval '1 second'`.execute(db);
  const recovered = await call('POST', '/checkout', { headers: { 'x-cart-token': cart.token, 'idempotency-key': key }, body });
  t.equal(recovered.status, 201, JSON.stringify(recovered.body));
  t.equal(recovered.body.order.id, order.id, 'the same order, not a second one');
  t.equal((await db.selectFrom('orders').select('id').execute()).length, 1);
  t.match(await stockOf(db, variants[0].id), { reserved: 2 }, 'never reserved twice');
  const replay = await call('POST', '/checkout', { headers: { 'x-cart-token': cart.token, 'idempotency-key': key }, body });
  t.equal(replay.status, 201);
  t.equal(replay.headers.get('idempotent-replayed'), 'true');
});
