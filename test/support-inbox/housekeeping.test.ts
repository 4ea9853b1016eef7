import { sql } from 'kysely';
import t from 'tap';
import { fanOut, purgeOldNotifications } from '../../shared/notifications/fanout.js';
import { privateFiles } from '../../shared/media/files.js';
import { supportHousekeeping } from '../../shared/support/housekeeping.js';
import { buildTestApp, eventually, startTestWorker, testEnv } from '../support/harness.js';
import { signedIn } from '../support/support-fixtures.js';
import { enqueue } from '../../shared/outbox.js';

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

t.test('housekeeping: resolved closes after 7 days, unattached uploads go after a day, old notifications after the retention', async (t) => {
  const { config, db } = await testEnv(t, { NOTIFICATION_RETENTION_DAYS: '30' });
  const app = await buildTestApp(t, config);
  const customer = await signedIn(db, app, 'customer');
  const open = async (subject: string) =>
    (await app.inject({ method: 'POST', url: '/api/v1/support/conversations', headers: customer.auth, payload: { subject, body: 'x' } })).json<{ id: string }>().id;
  const [old, recent, active] = [await open('old'), await open('recent'), await open('active')];
  await db.updateTable('supportConversations').set({ status: 'resolved', resolvedAt: sql`now() - interval '8 days'` }).where('id', '=', old).execute();
  await db.updateTable('supportConversations').set({ status: 'resolved', resolvedAt: sql`now() - interval '6 days'` }).where('id', '=', recent).execute();

  const upload = async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/support/attachments',
      headers: { ...customer.auth, 'content-type': 'multipart/form-data; boundary=X' },
      payload: Buffer.concat([Buffer.from('--X\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'), png, Buffer.from('\r\n--X--\r\n')]),
    });
    t.equal(res.statusCode, 201, 'uploaded');
    return res.json<{ id: string }>().id;
  };
  const [stale, fresh, used] = [await upload(), await upload(), await upload()];
  await app.inject({ method: 'POST', url: `/api/v1/support/conversations/${active}/messages`, headers: customer.auth, payload: { body: 'pic', attachmentIds: [used] } });
  await db.updateTable('supportAttachments').set({ createdAt: sql`now() - interval '25 hours'` }).where('id', 'in', [stale, used]).execute();
  const files = await privateFiles(config);
  const staleKey = (await db.selectFrom('supportAttachments').select('key').where('id', '=', stale).executeTakeFirstOrThrow()).key;
  t.ok(await files.get(staleKey), 'the file is stored');

  const bad = await app.inject({
    method: 'POST',
    url: '/api/v1/support/attachments',
    headers: { ...customer.auth, 'content-type': 'multipart/form-data; boundary=X' },
    payload: '--X\r\nContent-Disposition: form-data; name="file"; filename="a.html"\r\nContent-Type: image/png\r\n\r\n<html><script>alert(1)</script></html>\r\n--X--\r\n',
  });
  t.equal(bad.statusCode, 415, 'decided by the bytes, not the declared type');

  // Through the worker's job, as the hourly schedule runs it.
  await startTestWorker(t, config, { queues: ['support', 'notify'] });
  await db.transaction().execute((trx) => enqueue(trx, 'support.housekeeping', {}));
  // The job's last step removes the files: once the stale one is gone, the job is done.
  await eventually(async () => !(await files.get(staleKey)), { timeoutMs: 30_000 });
  t.equal((await db.selectFrom('supportConversations').select('status').where('id', '=', old).executeTakeFirstOrThrow()).status, 'closed', 'resolved 8 days ago: closed');
  const statuses = await db.selectFrom('supportConversations').select(['id', 'status']).execute();
  t.equal(statuses.find((s) => s.id === recent)?.status, 'resolved', 'six days: still resolved');
  t.equal(statuses.find((s) => s.id === active)?.status, 'open');
  const left = (await db.selectFrom('supportAttachments').select('id').execute()).map((r) => r.id).sort();
  t.same(left, [fresh, used].sort(), 'the day-old unattached upload is gone; the fresh and the attached stay');
  t.same(await supportHousekeeping(db, files), { closed: 0, purged: 0 }, 'running again changes nothing');

  await fanOut(db, { key: 'ancient', kind: 'support.reply', userIds: [customer.id], title: 't', body: 'b', data: {} });
  await fanOut(db, { key: 'current', kind: 'support.reply', userIds: [customer.id], title: 't', body: 'b', data: {} });
  await db.updateTable('notifications').set({ createdAt: sql`now() - interval '31 days'` }).where('eventKey', '=', 'ancient').execute();
  t.equal(await purgeOldNotifications(db, config.NOTIFICATION_RETENTION_DAYS), 1);
  t.same((await db.selectFrom('notifications').select('eventKey').execute()).map((r) => r.eventKey), ['current']);
});
