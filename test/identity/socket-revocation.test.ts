import t from 'tap';
import WebSocket from 'ws';
import { publicJwk } from '../../api/plugins/auth.js';
import { noticesChannel } from '../../shared/realtime/notices.js';
import { eventually } from '../support/harness.js';
import { createUser } from '../support/fixtures.js';
import { jwt } from '../support/jwt.js';
import { bearer, identityStack, loginAs, type Stack } from './helpers.js';

type Frame = { type: string; data: Record<string, unknown> };

async function listen(app: Stack['app']) {
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.realtime.ready;
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return `ws://127.0.0.1:${address.port}/api/v1/ws`;
}

/** A client that records every frame and how the socket closed. */
function connect(url: string, token: string) {
  const socket = new WebSocket(url);
  const frames: Frame[] = [];
  const state = { closed: false, code: 0 };
  socket.on('message', (raw: Buffer) => frames.push(JSON.parse(raw.toString('utf8')) as Frame));
  socket.on('close', (code) => Object.assign(state, { closed: true, code }));
  socket.once('open', () => socket.send(JSON.stringify({ type: 'auth', token })));
  return {
    socket,
    frames,
    state,
    types: () => frames.map((f) => f.type),
    authed: () => eventually(() => frames.some((f) => f.type === 'auth.ok') || state.closed),
  };
}

/** What the worker does for `system.notify` (worker/processors/system.ts): publish on the notices channel. */
const publishNotice = (stack: Stack, notice: { type: string; staff?: boolean; userId?: string; data: Record<string, unknown> }) =>
  stack.app.redis.publish(noticesChannel(stack.config), JSON.stringify({ ...notice, at: new Date().toISOString() }));

t.test('a disabled support user’s socket is closed with 4401 at once and gets no order.created after that', async (t) => {
  const stack = await identityStack(t, {}, { worker: false });
  const { app, db } = stack;
  const url = await listen(app);
  const root = await createUser(db, { role: 'admin' });
  const support = await createUser(db, { role: 'support' });
  const rootToken = (await loginAs(app, root.email)).json().accessToken;
  const supportToken = (await loginAs(app, support.email)).json().accessToken;
  const supportSocket = connect(url, supportToken);
  const rootSocket = connect(url, rootToken);
  t.teardown(() => [supportSocket, rootSocket].forEach((c) => c.socket.terminate()));
  await Promise.all([supportSocket.authed(), rootSocket.authed()]);
  t.same(supportSocket.types(), ['auth.ok']);

  await publishNotice(stack, { type: 'order.created', staff: true, data: { orderId: 'o-1', email: 'first@customer.test' } });
  await eventually(() => supportSocket.types().includes('order.created'));

  const patch = await app.inject({ method: 'PATCH', url: `/api/v1/admin/users/${support.id}`, headers: bearer(rootToken), payload: { disabled: true } });
  t.equal(patch.statusCode, 200);
  // Right after the change, as the worker would publish the next order.
  await publishNotice(stack, { type: 'order.created', staff: true, data: { orderId: 'o-2', email: 'second@customer.test' } });
  await eventually(() => rootSocket.frames.some((f) => f.data.orderId === 'o-2'));
  await eventually(() => supportSocket.state.closed);
  t.equal(supportSocket.state.code, 4401, 'closed with 4401');
  t.notOk(
    supportSocket.frames.some((f) => f.data.orderId === 'o-2'),
    'the disabled user never received the customer’s email from after the change',
  );

  const reconnect = connect(url, supportToken);
  t.teardown(() => reconnect.socket.terminate());
  await eventually(() => reconnect.state.closed);
  t.equal(reconnect.state.code, 4401, 'the revoked token cannot open a socket');
  t.notOk(reconnect.types().includes('auth.ok'));
});

t.test('revoking one session closes that session’s socket only', async (t) => {
  const stack = await identityStack(t, {}, { worker: false });
  const { app, db } = stack;
  const url = await listen(app);
  const user = await createUser(db);
  const laptop = (await loginAs(app, user.email)).json();
  const phone = (await loginAs(app, user.email)).json();
  const laptopSocket = connect(url, laptop.accessToken);
  const phoneSocket = connect(url, phone.accessToken);
  t.teardown(() => [laptopSocket, phoneSocket].forEach((c) => c.socket.terminate()));
  await Promise.all([laptopSocket.authed(), phoneSocket.authed()]);

  const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refreshToken: laptop.refreshToken } });
  t.equal(out.statusCode, 204);
  await publishNotice(stack, { type: 'order.status_changed', userId: user.id, data: { orderId: 'o-9', to: 'shipped' } });
  await eventually(() => phoneSocket.types().includes('order.status_changed'));
  await eventually(() => laptopSocket.state.closed);
  t.equal(laptopSocket.state.code, 4401);
  t.notOk(laptopSocket.types().includes('order.status_changed'), 'nothing after the logout');
  t.equal(phoneSocket.state.closed, false, 'the other session’s socket stays open');
});

t.test('a socket is closed with 4401 when its token expires and receives nothing after', async (t) => {
  const stack = await identityStack(t, {}, { worker: false });
  const { app, db, config } = stack;
  const url = await listen(app);
  const staff = await createUser(db, { role: 'manager' });
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', kid: publicJwk(config.JWT_PUBLIC_KEY).kid };
  const shortLived = jwt(header, { sub: staff.id, role: 'manager', iat: now, exp: now + 2 }, config.JWT_PRIVATE_KEY);
  const client = connect(url, shortLived);
  t.teardown(() => client.socket.terminate());
  await client.authed();
  t.same(client.types(), ['auth.ok'], 'accepted while valid');
  await eventually(() => client.state.closed, { timeoutMs: 5_000 });
  t.equal(client.state.code, 4401, 'closed at expiry with 4401');
  t.ok(Date.now() >= (now + 2) * 1000 - 50, 'not before the token expired');
  await publishNotice(stack, { type: 'inventory.low_stock', staff: true, data: { sku: 'X' } });
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(client.types().includes('inventory.low_stock'));
});
