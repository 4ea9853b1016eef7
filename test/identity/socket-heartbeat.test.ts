import t from 'tap';
import WebSocket from 'ws';
import { revocationKeys } from '../../shared/auth/revocation.js';
import { eventually } from '../support/harness.js';
import { createUser } from '../support/fixtures.js';
import { identityStack, loginAs } from './helpers.js';

t.test('every heartbeat asks Redis: a revocation whose message this replica missed still closes the socket (4401)', async (t) => {
  const { app, db, config } = await identityStack(t, { WS_HEARTBEAT_MS: '200' }, { worker: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.realtime.ready;
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const user = await createUser(db, { role: 'support' });
  const { accessToken } = (await loginAs(app, user.email)).json();
  const socket = new WebSocket(`ws://127.0.0.1:${address.port}/api/v1/ws`, ['bearer', accessToken]);
  t.teardown(() => socket.terminate());
  const state = { code: 0, frames: [] as string[] };
  socket.on('message', (raw: Buffer) => state.frames.push(raw.toString()));
  socket.on('close', (code) => (state.code = code));
  await eventually(() => state.frames.some((f) => f.includes('auth.ok')));

  // As if the published message was lost (the subscription was reconnecting): only Redis knows.
  await app.redis.set(revocationKeys(config.QUEUE_PREFIX).generation(user.id), '1', 'EX', 60);
  await eventually(() => state.code !== 0, { timeoutMs: 5_000 });
  t.equal(state.code, 4401, 'closed on a heartbeat');
  t.equal(app.realtime.stats().authenticated, 0);
});
