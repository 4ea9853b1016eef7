/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t from 'tap';
import { buildTestApp, eventually, testEnv } from '../support/harness.js';
import { signedIn, wsClient, wsUrl, type Person } from '../support/support-fixtures.js';

type App = Awaited<ReturnType<typeof buildTestApp>>;
const patient = <T>(fn: () => Promise<T> | T) => eventually(fn, { timeoutMs: 30_000 });
const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

function client(app: App) {
  return async (method: 'GET' | 'POST' | 'PATCH', url: string, who?: Person, body?: unknown) => {
    const res = await app.inject({ method, url: `/api/v1${url}`, headers: who?.auth, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.body ? res.json<any>() : null };
  };
}

t.test('live chat across two replicas: messages, notes, typing, reads, and the scope of every socket message', async (t) => {
  const { config, db } = await testEnv(t);
  const [app1, app2] = [await buildTestApp(t, config), await buildTestApp(t, config)];
  const [url1, url2] = [await wsUrl(app1), await wsUrl(app2)];
  const [call1, call2] = [client(app1), client(app2)];
  const agentA = await signedIn(db, app1, 'support');
  const customer = await signedIn(db, app1, 'customer');
  const conv = (await call1('POST', '/support/conversations', customer, { subject: 'Live', body: 'Anyone there?' })).body;
  t.equal(conv.assigneeId, agentA.id);
  const agentB = await signedIn(db, app1, 'support');
  const manager = await signedIn(db, app1, 'manager');
  const stranger = await signedIn(db, app1, 'customer');

  const cust = wsClient(t, url1, customer.token);
  const a = wsClient(t, url2, agentA.token);
  const b = wsClient(t, url2, agentB.token);
  const mgr = wsClient(t, url1, manager.token);
  const str = wsClient(t, url2, stranger.token);
  await Promise.all([cust, a, b, mgr, str].map((c) => c.ready()));

  t.equal((await cust.watch(conv.id))?.type, 'support.watching');
  t.equal((await a.watch(conv.id))?.type, 'support.watching');
  t.equal((await mgr.watch(conv.id))?.type, 'support.watching');
  for (const [who, c] of [['agent B', b], ['a stranger', str]] as const) {
    const answer = await c.watch(conv.id);
    t.same(answer && { type: answer.type, data: answer.data }, { type: 'error', data: { code: 'not_found' } }, `${who} cannot watch it`);
    c.send('support.typing', { conversationId: conv.id });
    c.send('support.read', { conversationId: conv.id, seq: 1 });
    await patient(() => c.of('error').length === 3);
    t.ok(c.of('error').every((f) => f.data.code === 'not_found'), `${who}: typing and read out of scope get only not_found`);
  }
  t.equal((await db.selectFrom('supportReads').select('userId').where('userId', 'in', [agentB.id, stranger.id]).execute()).length, 0, 'nothing read for them');

  // A chat message from the agent (API 2) reaches the customer's socket on API 1 at once.
  const sent = await call2('POST', `/admin/support/conversations/${conv.id}/messages`, agentA, { body: 'Hi, how can I help?' });
  await patient(() => cust.of('support.message').some((f) => f.data.message.id === sent.body.id));
  await patient(() => mgr.of('support.message').some((f) => f.data.message.id === sent.body.id));
  // A note reaches staff watchers, never the customer.
  const note = await call2('POST', `/admin/support/conversations/${conv.id}/messages`, agentA, { body: 'VIP', kind: 'note' });
  await patient(() => mgr.of('support.message').some((f) => f.data.message.id === note.body.id));
  await patient(() => a.of('support.message').some((f) => f.data.message.id === note.body.id));

  // The customer still watches after a note went by (a note hides itself, not the conversation).
  a.send('support.typing', { conversationId: conv.id });
  await patient(() => cust.of('support.typing').some((f) => f.data.userId === agentA.id));

  // Typing: relayed to the other side, at most once per 3 s, never stored.
  const messagesBefore = (await db.selectFrom('supportMessages').select('id').execute()).length;
  for (let i = 0; i < 5; i++) cust.send('support.typing', { conversationId: conv.id });
  await patient(() => a.of('support.typing').length === 1);
  await settle(600);
  t.equal(a.of('support.typing').length, 1, 'five keystrokes in a burst: one typing notice');
  t.same(a.of('support.typing')[0].data, { conversationId: conv.id, userId: customer.id });
  t.equal(cust.of('support.typing').filter((f) => f.data.userId === customer.id).length, 0, 'not echoed to the typist');
  t.equal((await db.selectFrom('supportMessages').select('id').execute()).length, messagesBefore, 'typing is not stored');
  await settle(3_000);
  // The fields may also sit beside `type` instead of in `data`.
  cust.socket.send(JSON.stringify({ type: 'support.typing', conversationId: conv.id }));
  await patient(() => a.of('support.typing').length === 2);

  // Reads over the socket move the read position and tell watchers.
  cust.send('support.read', { conversationId: conv.id, seq: 2 });
  await patient(() => a.of('support.read').some((f) => f.data.userId === customer.id && f.data.seq === 2));
  t.equal((await call1('GET', `/support/conversations/${conv.id}`, customer)).body.unread, 0, 'notes do not count for the customer');

  t.equal(cust.of('support.message').filter((f) => f.data.message.kind === 'note').length, 0, 'no note ever reached the customer');
  t.equal(b.of('support.message').length + str.of('support.message').length, 0, 'nothing reached anyone out of scope');
  t.equal(b.of('support.typing').length + str.of('support.typing').length + b.of('support.read').length, 0);
});

t.test('reassignment with the old agent’s socket open: no event after it', async (t) => {
  const { config, db } = await testEnv(t);
  const [app1, app2] = [await buildTestApp(t, config), await buildTestApp(t, config)];
  const [url1, url2] = [await wsUrl(app1), await wsUrl(app2)];
  const call = client(app1);
  const agentA = await signedIn(db, app1, 'support');
  const customer = await signedIn(db, app1, 'customer');
  const conv = (await call('POST', '/support/conversations', customer, { subject: 'Switch', body: 'hello' })).body;
  const agentB = await signedIn(db, app1, 'support');
  const manager = await signedIn(db, app1, 'manager');
  const a1 = wsClient(t, url1, agentA.token);
  const a2 = wsClient(t, url2, agentA.token);
  const bSock = wsClient(t, url2, agentB.token);
  await Promise.all([a1.ready(), a2.ready(), bSock.ready()]);
  await a1.watch(conv.id);
  await a2.watch(conv.id);

  // Messages racing the reassignment: those committed after it must not reach agent A on either replica.
  const posts = Array.from({ length: 30 }, (_, i) => call('POST', `/support/conversations/${conv.id}/messages`, customer, { body: `m${i}` }));
  await settle(20);
  const moved = await call('PATCH', `/admin/support/conversations/${conv.id}`, manager, { assigneeId: agentB.id });
  t.equal(moved.status, 200);
  const cut = moved.body.lastSeq as number;
  const results = await Promise.all(posts);
  t.same(results.filter((r) => r.status !== 201), []);
  // And a few after everything, with the socket still open.
  for (let i = 0; i < 3; i++) await call('POST', `/support/conversations/${conv.id}/messages`, customer, { body: `late ${i}` });
  const last = (await db.selectFrom('supportConversations').select('lastSeq').where('id', '=', conv.id).executeTakeFirstOrThrow()).lastSeq;
  await patient(() => bSock.of('support.message').some((f) => f.data.message.seq === last));
  await settle(500);
  const leaked = [...a1.of('support.message'), ...a2.of('support.message')].filter((f) => f.data.message.seq > cut);
  t.same(leaked.map((f) => f.data.message.seq), [], `agent A heard nothing after the reassignment (cut at seq ${cut})`);
  t.ok(bSock.of('support.message').filter((f) => f.data.message.seq > cut).length >= 3, 'agent B hears everything after');
  const watchAgain = await a1.watch(conv.id);
  t.equal(watchAgain?.data.code, 'not_found', 'and cannot watch it again');
  t.equal(a1.socket.readyState, a1.socket.OPEN, 'the socket stayed open');

  // A notice computed before the reassignment but reaching a hub after it (another replica, a slow
  // publisher): the hub judges it by the newer membership, so the old agent still hears nothing.
  const version = (await db.selectFrom('supportConversations').select('assignVersion').where('id', '=', conv.id).executeTakeFirstOrThrow()).assignVersion;
  const stale = { conversationId: conv.id, version: version - 1, direct: [customer.id, agentA.id], members: [customer.id, agentA.id], permission: 'support:read:any' };
  const before = a1.of('support.message').length;
  const delivered = app1.realtime.deliver({ type: 'support.message', data: { conversationId: conv.id, message: { seq: 999 } }, audience: stale, at: new Date().toISOString() });
  await settle(300);
  t.equal(a1.of('support.message').length, before, 'a stale notice does not reach the old agent');
  t.ok(delivered >= 0);
});
