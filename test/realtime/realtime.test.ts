import { randomUUID } from 'node:crypto';
import t from 'tap';
import WebSocket from 'ws';
import { enqueue } from '../../shared/outbox.js';
import { buildTestApp, eventually as poll, startTestWorker, testEnv } from '../support/harness.js';

/** Generous: the machine running the suite may be busy; a failure here is a notice that never came. */
const eventually = <T>(fn: () => Promise<T> | T, opts: { timeoutMs?: number } = {}) =>
  poll(fn, { timeoutMs: 30_000, ...opts });

type Frame = { type: string; data: Record<string, unknown>; at: string };

async function listen(app: Awaited<ReturnType<typeof buildTestApp>>) {
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.realtime.ready;
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return `ws://127.0.0.1:${address.port}/api/v1/ws`;
}

/** A client that records every frame and how the socket closed. */
function connect(url: string, opts: { token?: string; protocolToken?: string } = {}) {
  const socket = new WebSocket(url, opts.protocolToken ? ['bearer', opts.protocolToken] : []);
  const frames: Frame[] = [];
  const state = { closed: false, code: 0, open: false };
  socket.on('message', (raw: Buffer) => frames.push(JSON.parse(raw.toString('utf8')) as Frame));
  socket.on('close', (code) => Object.assign(state, { closed: true, code }));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      state.open = true;
      if (opts.token) socket.send(JSON.stringify({ type: 'auth', token: opts.token }));
      resolve();
    });
    socket.once('error', reject);
  });
  const authed = async () => {
    await opened;
    await eventually(() => frames.some((f) => f.type === 'auth.ok'));
  };
  return { socket, frames, state, authed, types: () => frames.map((f) => f.type) };
}

t.test('notices travel worker → Redis → every API replica → the right sockets only', async (t) => {
  const { config, db } = await testEnv(t, { WS_AUTH_TIMEOUT_MS: '300' });
  const app1 = await buildTestApp(t, config);
  const app2 = await buildTestApp(t, config);
  const [url1, url2] = [await listen(app1), await listen(app2)];
  await startTestWorker(t, config, { queues: ['system'] });

  const alice = randomUUID();
  const bob = randomUUID();
  const staffId = randomUUID();
  const aliceOn1 = connect(url1, { token: app1.signAccessToken({ id: alice, role: 'customer' }) });
  const aliceOn2 = connect(url2, { protocolToken: app2.signAccessToken({ id: alice, role: 'customer' }) });
  const bobOn2 = connect(url2, { token: app2.signAccessToken({ id: bob, role: 'customer' }) });
  const staffOn1 = connect(url1, { protocolToken: app1.signAccessToken({ id: staffId, role: 'support' }) });
  const all = [aliceOn1, aliceOn2, bobOn2, staffOn1];
  t.teardown(() => all.forEach((c) => c.socket.terminate()));
  await Promise.all(all.map((c) => c.authed()));
  t.equal(aliceOn2.socket.protocol, 'bearer', 'the server selects the bearer subprotocol');

  const notify = (payload: Parameters<typeof enqueue<'system.notify'>>[2]) =>
    db.transaction().execute((trx) => enqueue(trx, 'system.notify', payload));

  await notify({
    type: 'order.status_changed',
    userId: alice,
    data: { orderId: 'o-1', from: 'paid', to: 'processing' },
  });
  await notify({ type: 'order.created', staff: true, data: { orderId: 'o-2', number: 'AGP-000002' } });
  await notify({
    type: 'order.status_changed',
    userId: bob,
    data: { orderId: 'o-3', from: 'paid', to: 'shipped' },
  });

  await eventually(() => bobOn2.types().includes('order.status_changed'));
  await eventually(() => staffOn1.types().includes('order.created'));
  await eventually(
    () =>
      aliceOn1.types().includes('order.status_changed') && aliceOn2.types().includes('order.status_changed'),
  );

  const aliceNotice = aliceOn1.frames.find((f) => f.type === 'order.status_changed')!;
  t.same(aliceNotice.data, { orderId: 'o-1', from: 'paid', to: 'processing' });
  t.match(aliceNotice.at, /^\d{4}-\d\d-\d\dT/, 'server messages carry `at`');
  t.same(Object.keys(aliceNotice).sort(), ['at', 'data', 'type']);
  // Delivery on one socket is in order: by the time each client got its last notice it got everything meant for it.
  t.same(aliceOn1.types(), ['auth.ok', 'order.status_changed'], 'alice (replica 1): only her own order');
  t.same(aliceOn2.types(), ['auth.ok', 'order.status_changed'], 'alice (replica 2): only her own order');
  t.same(
    bobOn2.frames.filter((f) => f.type !== 'auth.ok').map((f) => f.data.orderId),
    ['o-3'],
    'bob sees only his order',
  );
  t.same(
    staffOn1.types(),
    ['auth.ok', 'order.created'],
    'staff get staff notices, not customers’ order notices',
  );
});

t.test('unauthenticated sockets are closed after the timeout; bad tokens at once', async (t) => {
  const { config } = await testEnv(t, { WS_AUTH_TIMEOUT_MS: '200' });
  const app = await buildTestApp(t, config);
  const url = await listen(app);

  const silent = connect(url);
  const liar = connect(url, { token: 'not.a.token' });
  const forged = connect(url, { protocolToken: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig' });
  t.teardown(() => [silent, liar, forged].forEach((c) => c.socket.terminate()));
  await eventually(() => silent.state.closed && liar.state.closed && forged.state.closed);
  t.equal(silent.state.code, 4401, 'silent socket closed with 4401 after the auth timeout');
  t.equal(liar.state.code, 4401);
  t.equal(forged.state.code, 4401);
  t.same(silent.frames, [], 'nothing was sent to an unauthenticated socket');
  t.equal(app.realtime.stats().sockets, 0);
});

t.test('a client that cannot keep up is dropped, not buffered without bound', async (t) => {
  const { config } = await testEnv(t, { WS_MAX_BUFFERED_BYTES: '65536' });
  const app = await buildTestApp(t, config);
  const url = await listen(app);
  const staffId = randomUUID();
  const slow = connect(url, { token: app.signAccessToken({ id: staffId, role: 'admin' }) });
  const fast = connect(url, { token: app.signAccessToken({ id: randomUUID(), role: 'manager' }) });
  t.teardown(() => [slow, fast].forEach((c) => c.socket.terminate()));
  await Promise.all([slow.authed(), fast.authed()]);

  // The slow client stops reading: its TCP window fills, then the server's send buffer grows.
  (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
  const blob = 'x'.repeat(64 * 1024);
  let rounds = 0;
  while (app.realtime.stats().authenticated === 2 && rounds < 2000) {
    app.realtime.deliver({
      type: 'inventory.low_stock',
      userId: staffId,
      data: { blob },
      at: new Date().toISOString(),
    });
    rounds++;
    if (rounds % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  t.equal(app.realtime.stats().authenticated, 1, `the slow client was dropped after ${rounds} notices`);
  t.ok(rounds < 2000, 'dropped long before 128 MB piled up');
  app.realtime.deliver({
    type: 'payment.problem',
    staff: true,
    data: { kind: 'test' },
    at: new Date().toISOString(),
  });
  await eventually(() => fast.types().includes('payment.problem'));
  t.pass('the other staff socket still gets notices');
});

t.test('heartbeats close a socket that stops answering pings', async (t) => {
  const { config } = await testEnv(t, { WS_HEARTBEAT_MS: '100' });
  const app = await buildTestApp(t, config);
  const url = await listen(app);
  const client = connect(url, { token: app.signAccessToken({ id: randomUUID(), role: 'customer' }) });
  const healthy = connect(url, { token: app.signAccessToken({ id: randomUUID(), role: 'customer' }) });
  t.teardown(() => [client, healthy].forEach((c) => c.socket.terminate()));
  await Promise.all([client.authed(), healthy.authed()]);
  // ws answers pings automatically; pausing the socket means no pong ever comes back.
  (client.socket as unknown as { _socket: { pause(): void } })._socket.pause();
  await eventually(() => app.realtime.stats().authenticated === 1, { timeoutMs: 5_000 });
  await new Promise((r) => setTimeout(r, 350));
  t.equal(healthy.state.closed, false, 'a socket answering pings stays open');
  t.equal(app.realtime.stats().authenticated, 1);
});
