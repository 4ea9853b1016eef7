/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t, { type Test } from 'tap';
import { revokeSessions } from '../../shared/auth/sessions.js';
import { transitionOrder } from '../../shared/orders/state.js';
import { emitNotification } from '../../shared/notifications/emit.js';
import { fanOut, purgeExpiredSessionDevices } from '../../shared/notifications/fanout.js';
import type { NotificationEvent } from '../../shared/notifications/schemas.js';
import { startFcmEmulator } from '../support/fcm-emulator.js';
import { buildTestApp, eventually, startTestWorker, testEnv } from '../support/harness.js';
import { startSmtpSink } from '../support/smtp-sink.js';
import { signedIn, wsClient, wsUrl, type Person } from '../support/support-fixtures.js';

type App = Awaited<ReturnType<typeof buildTestApp>>;
const patient = <T>(fn: () => Promise<T> | T) => eventually(fn, { timeoutMs: 30_000 });
const settle = (ms = 500) => new Promise((r) => setTimeout(r, ms));

function client(app: App) {
  return async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who?: Person, body?: unknown) => {
    const res = await app.inject({ method, url: `/api/v1${url}`, headers: who?.auth, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.body ? res.json<any>() : null };
  };
}

async function stack(t: Test) {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const fcm = await startFcmEmulator();
  t.teardown(() => fcm.close());
  const { config, db } = await testEnv(t, { SMTP_URL: sink.url, FCM_SERVICE_ACCOUNT: fcm.serviceAccount, FCM_BASE_URL: fcm.url });
  const app = await buildTestApp(t, config);
  return { sink, fcm, config, db, app, call: client(app) };
}

const event = (userId: string, key: string, kind: NotificationEvent['kind'] = 'support.reply'): NotificationEvent => ({
  key,
  kind,
  userIds: [userId],
  title: `Title ${key}`,
  body: `Body ${key}`,
  data: { conversationId: '00000000-0000-4000-8000-000000000009', seq: 3 },
});

t.test('one fan-out path: in-app row, mail, push and socket notice; twice at once: one of each', async (t) => {
  const { sink, fcm, config, db, app, call } = await stack(t);
  const url = await wsUrl(app);
  const alice = await signedIn(db, app, 'customer');
  const device = await call('POST', '/me/devices', alice, { token: 'fcm-token-alice-1', platform: 'android' });
  t.equal(device.status, 201);
  t.equal((await call('POST', '/me/devices', alice, { token: 'fcm-token-alice-1', platform: 'android' })).status, 200, 'already the caller’s: 200');
  const sock = wsClient(t, url, alice.token);
  await sock.ready();

  // The same event twice at once (a replayed outbox row, a retried job): one row, one mail, one push.
  await Promise.all([fanOut(db, event(alice.id, 'evt-1')), fanOut(db, event(alice.id, 'evt-1'))]);
  await db.transaction().execute((trx) => emitNotification(trx, event(alice.id, 'evt-1')));
  await startTestWorker(t, config, { queues: ['notify', 'email', 'push', 'system'] });
  await patient(() => fcm.sent.length === 1);
  await sink.waitFor((m) => m.to.includes(alice.email) && m.subject.includes('Title evt-1'), 30_000);
  await patient(() => sock.of('notification.created').length === 1);
  await settle(1_000);
  t.equal((await db.selectFrom('notifications').select('id').where('eventKey', '=', 'evt-1').execute()).length, 1, 'one row');
  t.equal(fcm.sent.length, 1, 'one push');
  t.equal(sink.messages.filter((m) => m.subject.includes('Title evt-1')).length, 1, 'one mail');
  t.equal(sock.of('notification.created').length, 1, 'one socket notice');
  t.match(fcm.sent[0], { token: 'fcm-token-alice-1', title: 'Title evt-1', body: 'Body evt-1', data: { kind: 'support.reply', seq: '3' } }, 'FCM v1 message shape, data as strings');
  t.equal(fcm.tokenRequests, 1, 'one OAuth token, reused');
  await patient(() => sock.of('notification.unread_count').some((f) => f.data.count === 1));

  // The in-app list, counts and reads.
  const list = await call('GET', '/me/notifications?unread=true', alice);
  t.match(list.body.items, [{ kind: 'support.reply', title: 'Title evt-1', readAt: null }]);
  t.same((await call('GET', '/me/notifications/unread-count', alice)).body, { count: 1 });
  const bob = await signedIn(db, app, 'customer');
  t.equal((await call('POST', `/me/notifications/${list.body.items[0].id}/read`, bob)).status, 404, 'someone else’s: 404');
  t.equal((await call('POST', `/me/notifications/${list.body.items[0].id}/read`, alice)).status, 204);
  t.same((await call('GET', '/me/notifications/unread-count', alice)).body, { count: 0 });
  t.equal((await call('GET', '/me/notifications', undefined)).status, 401);
});

t.test('preferences are read at send time; unknown kinds are refused', async (t) => {
  const { sink, fcm, config, db, app, call } = await stack(t);
  const alice = await signedIn(db, app, 'customer');
  await call('POST', '/me/devices', alice, { token: 'fcm-token-prefs-1', platform: 'ios' });
  const prefs = await call('GET', '/me/notification-preferences', alice);
  t.same(prefs.body['support.reply'], { email: true, push: true, inApp: true }, 'on by default');
  const bad = await call('PATCH', '/me/notification-preferences', alice, { 'support.nonsense': { email: false } });
  t.equal(bad.status, 400);
  t.equal(bad.body.code, 'validation_failed');
  t.equal((await call('PATCH', '/me/notification-preferences', alice, { 'support.reply': { emailx: false } })).status, 400);

  // Emitted while mail is on, fanned out after it was turned off: the preference at send time wins.
  await db.transaction().execute((trx) => emitNotification(trx, event(alice.id, 'evt-pref-1')));
  const changed = await call('PATCH', '/me/notification-preferences', alice, { 'support.reply': { email: false } });
  t.same(changed.body['support.reply'], { email: false, push: true, inApp: true });
  await startTestWorker(t, config, { queues: ['notify', 'email', 'push', 'system'] });
  await patient(() => fcm.sent.some((s) => s.title === 'Title evt-pref-1'));
  await settle(1_500);
  t.equal(sink.messages.filter((m) => m.subject.includes('evt-pref-1')).length, 0, 'no mail: email was off when it was sent');

  await call('PATCH', '/me/notification-preferences', alice, { 'support.reply': { inApp: false, push: false, email: true } });
  await db.transaction().execute((trx) => emitNotification(trx, event(alice.id, 'evt-pref-2')));
  await sink.waitFor((m) => m.subject.includes('evt-pref-2'), 30_000);
  await settle(1_000);
  t.notOk(fcm.sent.some((s) => s.title === 'Title evt-pref-2'), 'push off: no push');
  t.notOk((await call('GET', '/me/notifications', alice)).body.items.some((n: any) => n.title === 'Title evt-pref-2'), 'in-app off: not listed');
  await fanOut(db, event(alice.id, 'evt-pref-2'));
  await settle(1_000);
  t.equal(sink.messages.filter((m) => m.subject.includes('evt-pref-2')).length, 1, 'still deduplicated: a retry sends no second mail');
});

t.test('read-all racing arrivals: what was there is read, later arrivals stay unread, counts agree', async (t) => {
  const { db, app, call } = await stack(t);
  const alice = await signedIn(db, app, 'customer');
  for (let i = 0; i < 20; i++) await fanOut(db, event(alice.id, `old-${i}`));
  const [readAll] = await Promise.all([
    call('POST', '/me/notifications/read-all', alice),
    ...Array.from({ length: 20 }, (_, i) => fanOut(db, event(alice.id, `new-${i}`))),
  ]);
  t.equal(readAll.status, 204);
  const rows = await db.selectFrom('notifications').select(['eventKey', 'readAt']).where('userId', '=', alice.id).execute();
  t.ok(rows.filter((r) => r.eventKey.startsWith('old-')).every((r) => r.readAt), 'everything there before is read');
  const after = Array.from({ length: 5 }, (_, i) => `later-${i}`);
  for (const key of after) await fanOut(db, event(alice.id, key));
  const unreadRows = await db.selectFrom('notifications').select('eventKey').where('userId', '=', alice.id).where('readAt', 'is', null).execute();
  t.ok(after.every((k) => unreadRows.some((r) => r.eventKey === k)), 'arrivals after read-all stay unread');
  t.same((await call('GET', '/me/notifications/unread-count', alice)).body, { count: unreadRows.length }, 'the count is the unread rows');
  const cutoff = new Date().toISOString();
  await fanOut(db, event(alice.id, 'after-cutoff'));
  await db.updateTable('notifications').set({ createdAt: new Date(Date.now() + 60_000) }).where('eventKey', '=', 'after-cutoff').execute();
  t.equal((await call('POST', '/me/notifications/read-all', alice, { before: cutoff })).status, 204);
  t.same((await call('GET', '/me/notifications/unread-count', alice)).body, { count: 1 }, '`before` leaves newer ones unread');
});

t.test('devices: one owner per token, tied to the session, deleted when FCM rejects them', async (t) => {
  const { fcm, config, db, app, call } = await stack(t);
  const alice = await signedIn(db, app, 'customer');
  const bob = await signedIn(db, app, 'customer');
  // One token claimed by two users at once: one owner at the end.
  const [ra, rb] = await Promise.all([
    call('POST', '/me/devices', alice, { token: 'shared-token-1', platform: 'android' }),
    call('POST', '/me/devices', bob, { token: 'shared-token-1', platform: 'android' }),
  ]);
  t.same([ra.status, rb.status].sort(), [201, 201]);
  const owners = await db.selectFrom('devices').select('userId').where('token', '=', 'shared-token-1').execute();
  t.equal(owners.length, 1, 'one row for the token');
  const owner = owners[0].userId === alice.id ? alice : bob;
  const other = owner === alice ? bob : alice;
  t.equal((await call('GET', '/me/devices', owner)).body.items.length, 1);
  t.same((await call('GET', '/me/devices', other)).body.items, [], 'the other holds nothing');
  t.notOk(JSON.stringify((await call('GET', '/me/devices', owner)).body).includes('shared-token-1'), 'tokens are never listed');

  await startTestWorker(t, config, { queues: ['notify', 'push'] });
  await fanOut(db, event(other.id, 'to-the-loser'));
  await fanOut(db, event(owner.id, 'to-the-owner'));
  await patient(() => fcm.sent.some((s) => s.title === 'Title to-the-owner'));
  await settle(800);
  t.notOk(fcm.sent.some((s) => s.title === 'Title to-the-loser'), 'no push to a token the user no longer holds');

  // Dies with its session.
  const carol = await signedIn(db, app, 'customer');
  t.equal((await call('POST', '/me/devices', carol, { token: 'carol-token-1', platform: 'web' })).status, 201);
  await revokeSessions(db, carol.id, 'logout', carol.sessionId);
  t.equal((await db.selectFrom('devices').select('id').where('token', '=', 'carol-token-1').execute()).length, 0, 'revoking the session deleted the device');
  t.equal((await call('POST', '/me/devices', carol, { token: 'carol-token-2', platform: 'web' })).status, 401, 'a revoked session registers nothing');

  // An expired session's device gets no push and is swept by the 04:00 cleanup.
  const erin = await signedIn(db, app, 'customer');
  await call('POST', '/me/devices', erin, { token: 'erin-token-1', platform: 'ios' });
  await db.updateTable('sessions').set({ expiresAt: new Date(Date.now() - 1000) }).where('id', '=', erin.sessionId).execute();
  await fanOut(db, event(erin.id, 'to-erin'));
  await settle(1_000);
  t.notOk(fcm.sent.some((s) => s.token === 'erin-token-1'), 'no push to a device of an expired session');
  t.equal(await purgeExpiredSessionDevices(db), 1);

  // FCM says the token is gone: the device is deleted.
  const dave = await signedIn(db, app, 'customer');
  await call('POST', '/me/devices', dave, { token: 'dave-token-dead', platform: 'android' });
  fcm.unregister('dave-token-dead');
  await fanOut(db, event(dave.id, 'to-dave'));
  await patient(async () => (await db.selectFrom('devices').select('id').where('token', '=', 'dave-token-dead').execute()).length === 0);
  t.same(fcm.rejected, ['dave-token-dead']);

  const mine = (await call('GET', '/me/devices', owner)).body.items[0];
  t.equal((await call('DELETE', `/me/devices/${mine.id}`, other)).status, 404, 'someone else’s device: 404');
  t.equal((await call('DELETE', `/me/devices/${mine.id}`, owner)).status, 204);
  t.equal((await call('POST', '/me/devices', owner, { token: 'x', platform: 'android' })).status, 400, 'a token too short');
});

t.test('an order status change reaches its customer in the app and by push; its mail stays the order’s own', async (t) => {
  const { sink, fcm, config, db, app, call } = await stack(t);
  const alice = await signedIn(db, app, 'customer');
  await call('POST', '/me/devices', alice, { token: 'fcm-token-order-1', platform: 'android' });
  const order = await db
    .insertInto('orders')
    .values({ userId: alice.id, email: alice.email, currency: 'NGN', subtotal: 100, total: 100, status: 'paid', shippingAddress: JSON.stringify({ line1: 'x', city: 'Lagos', country: 'NG' }) })
    .returning(['id', 'number'])
    .executeTakeFirstOrThrow();
  await db.transaction().execute((trx) => transitionOrder(trx, order.id, 'processing'));
  await startTestWorker(t, config, { queues: ['notify', 'email', 'push', 'system'] });
  await patient(() => fcm.sent.some((s) => s.data.orderId === order.id));
  const list = await call('GET', '/me/notifications', alice);
  t.match(list.body.items, [{ kind: 'order.status_changed', data: { orderId: order.id, from: 'paid', to: 'processing' } }]);
  await settle(1_000);
  t.equal(sink.messages.filter((m) => m.to.includes(alice.email)).length, 0, 'no notification mail on top of the order’s mails');
});
