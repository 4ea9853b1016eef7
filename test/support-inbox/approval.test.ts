/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { buildTestApp, eventually, startTestWorker, testEnv } from '../support/harness.js';
import { startSmtpSink } from '../support/smtp-sink.js';
import { signedIn, type Person } from '../support/support-fixtures.js';

type App = Awaited<ReturnType<typeof buildTestApp>>;
const patient = <T>(fn: () => Promise<T> | T) => eventually(fn, { timeoutMs: 30_000 });

function client(app: App) {
  return async (method: 'GET' | 'POST' | 'PATCH', url: string, who?: Person, body?: unknown) => {
    const res = await app.inject({ method, url: `/api/v1${url}`, headers: who?.auth, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.body ? res.json<any>() : null };
  };
}

async function stack(t: Test, env: Record<string, string> = {}) {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const { config, db } = await testEnv(t, { SMTP_URL: sink.url, ...env });
  const app = await buildTestApp(t, config);
  const call = client(app);
  const agent = await signedIn(db, app, 'support');
  const customer = await signedIn(db, app, 'customer');
  const manager = await signedIn(db, app, 'manager');
  const conv = (await call('POST', '/support/conversations', customer, { subject: 'Refund?', body: 'Can I return it?' })).body;
  const draft = async (body = 'Dear customer,\nyes you can.') => (await call('POST', `/admin/support/conversations/${conv.id}/replies`, agent, { body })).body;
  return { sink, config, db, app, call, agent, customer, manager, conv, draft };
}

t.test('draft → pending_approval → approved → sent: the frozen body, one mail, the message in the conversation', async (t) => {
  const s = await stack(t);
  const { call, agent, manager, customer, conv, db, sink } = s;
  const reply = await s.draft('First words');
  t.match(reply, { status: 'draft', version: 1, submittedBody: null });

  const edited = await call('PATCH', `/admin/support/replies/${reply.id}`, agent, { body: 'Dear customer,\n<b>yes</b> you can.', version: 1 });
  t.equal(edited.body.version, 2);
  const stale = await call('PATCH', `/admin/support/replies/${reply.id}`, agent, { body: 'lost update', version: 1 });
  t.equal(stale.status, 409);
  t.equal(stale.body.code, 'version_conflict');
  t.equal((await call('PATCH', `/admin/support/replies/${reply.id}`, manager, { body: 'not mine', version: 2 })).status, 403, 'only the author edits');
  t.equal((await call('POST', `/admin/support/replies/${reply.id}/approve`, manager)).body.code, 'invalid_transition', 'a draft is not approved');

  const submitted = await call('POST', `/admin/support/replies/${reply.id}/submit`, agent);
  t.match(submitted.body, { status: 'pending_approval', submittedBody: 'Dear customer,\n<b>yes</b> you can.' });
  const frozen = await call('PATCH', `/admin/support/replies/${reply.id}`, agent, { body: 'sneaky change', version: submitted.body.version });
  t.equal(frozen.body.code, 'invalid_transition', 'the body is frozen at submit');
  t.equal((await call('POST', `/admin/support/replies/${reply.id}/approve`, agent)).status, 403, 'an agent cannot approve');
  const queue = await call('GET', '/admin/support/replies?status=pending_approval', manager);
  t.same(queue.body.items.map((r: any) => r.id), [reply.id]);

  const approved = await call('POST', `/admin/support/replies/${reply.id}/approve`, manager);
  t.equal(approved.status, 202);
  t.equal(approved.body.status, 'approved');
  t.equal((await db.selectFrom('outbox').select('id').where('name', '=', 'email.send').where(sql`payload->>'supportReplyOf'`, '=', reply.id).execute()).length, 1, 'the mail job was written with the approval');
  t.equal((await call('POST', `/admin/support/replies/${reply.id}/approve`, manager)).body.code, 'invalid_transition', 'approving again: 409');

  await startTestWorker(t, s.config, { queues: ['email', 'notify', 'push', 'system'] });
  const mail = await sink.waitFor((m) => m.to.includes(customer.email) && m.subject.includes(conv.number), 30_000);
  t.match(mail.text, /Dear customer,\n<b>yes<\/b> you can\./, 'the mail carries exactly the frozen body');
  t.notOk(mail.text.includes('sneaky'));
  t.ok(mail.html.includes('&lt;b&gt;yes&lt;/b&gt;'), 'escaped in HTML');
  const sent = await patient(async () => {
    const r = await db.selectFrom('supportReplies').selectAll().where('id', '=', reply.id).executeTakeFirstOrThrow();
    return r.status === 'sent' ? r : undefined;
  });
  t.ok(sent?.sentAt);
  const messages = (await call('GET', `/support/conversations/${conv.id}/messages`, customer)).body.items;
  t.match(messages.at(-1), { replyId: reply.id, body: 'Dear customer,\n<b>yes</b> you can.', authorId: agent.id, kind: 'message' }, 'the sent reply appears in the conversation');
  // The author heard of the approval.
  await patient(async () => (await db.selectFrom('notifications').select('id').where('userId', '=', agent.id).where('kind', '=', 'support.reply_approved').execute()).length === 1);
  await new Promise((r) => setTimeout(r, 500));
  t.equal(sink.messages.filter((m) => m.subject.includes(conv.number) && m.to.includes(customer.email)).length, 1, 'one mail');
  const actions = (await db.selectFrom('auditLog').select('action').where('targetId', '=', reply.id).orderBy('createdAt').execute()).map((a) => a.action);
  t.same(actions, ['support.reply_drafted', 'support.reply_edited', 'support.reply_submitted', 'support.reply_approved']);
});

t.test('reject needs a note, sends it back, an edit makes it a draft again', async (t) => {
  const { call, agent, manager, draft } = await stack(t);
  const reply = await draft();
  await call('POST', `/admin/support/replies/${reply.id}/submit`, agent);
  t.equal((await call('POST', `/admin/support/replies/${reply.id}/reject`, manager, {})).status, 400, 'a note is required');
  const rejected = await call('POST', `/admin/support/replies/${reply.id}/reject`, manager, { note: 'Too curt' });
  t.match(rejected.body, { status: 'rejected', rejectionNote: 'Too curt' });
  t.equal((await call('POST', `/admin/support/replies/${reply.id}/submit`, agent)).body.code, 'invalid_transition', 'a rejected reply is edited first');
  const again = await call('PATCH', `/admin/support/replies/${reply.id}`, agent, { body: 'Better words', version: rejected.body.version });
  t.match(again.body, { status: 'draft', body: 'Better words' });
  t.equal((await call('POST', `/admin/support/replies/${reply.id}/submit`, agent)).body.submittedBody, 'Better words');
});

t.test('four eyes: no self-approval unless SUPPORT_SELF_APPROVAL=true', async (t) => {
  const off = await stack(t);
  const mine = (await off.call('POST', `/admin/support/conversations/${off.conv.id}/replies`, off.manager, { body: 'From the manager' })).body;
  await off.call('POST', `/admin/support/replies/${mine.id}/submit`, off.manager);
  const self = await off.call('POST', `/admin/support/replies/${mine.id}/approve`, off.manager);
  t.equal(self.status, 403);
  t.equal((await off.db.selectFrom('outbox').select('id').where('name', '=', 'email.send').where(sql`payload->>'template'`, '=', 'support-reply').execute()).length, 0, 'no mail without a second person');

  const on = await stack(t, { SUPPORT_SELF_APPROVAL: 'true' });
  const own = (await on.call('POST', `/admin/support/conversations/${on.conv.id}/replies`, on.manager, { body: 'From the manager' })).body;
  await on.call('POST', `/admin/support/replies/${own.id}/submit`, on.manager);
  t.equal((await on.call('POST', `/admin/support/replies/${own.id}/approve`, on.manager)).status, 202);
});

t.test('approve and reject at once: one wins, at most one mail; an edit racing approval', async (t) => {
  const s = await stack(t);
  const { call, agent, manager, db, sink, customer, conv } = s;
  const manager2 = await signedIn(db, s.app, 'manager');
  const races = 8;
  const outcomes: string[] = [];
  for (let i = 0; i < races; i++) {
    const reply = await s.draft(`Race ${i}`);
    await call('POST', `/admin/support/replies/${reply.id}/submit`, agent);
    const [a, r] = await Promise.all([
      call('POST', `/admin/support/replies/${reply.id}/approve`, manager),
      call('POST', `/admin/support/replies/${reply.id}/reject`, manager2, { note: 'no' }),
    ]);
    t.same([a.status, r.status].filter((x) => x >= 200 && x < 300).length, 1, `race ${i}: exactly one wins`);
    t.ok([a, r].some((x) => x.status === 409 && x.body.code === 'invalid_transition'), 'the other gets 409');
    const row = await db.selectFrom('supportReplies').select('status').where('id', '=', reply.id).executeTakeFirstOrThrow();
    t.equal(row.status, a.status === 202 ? 'approved' : 'rejected', 'the row says who won');
    outcomes.push(row.status);
  }
  const approvedCount = outcomes.filter((o) => o === 'approved').length;
  const jobs = await db.selectFrom('outbox').select('id').where(sql`payload->>'template'`, '=', 'support-reply').execute();
  t.equal(jobs.length, approvedCount, 'one mail job per approved reply, none for rejected');

  // An edit racing an approval: the author re-opens (rejected → draft by editing) while an approver acts.
  const reply = await s.draft('Version A');
  await call('POST', `/admin/support/replies/${reply.id}/submit`, agent);
  const [edit, approve] = await Promise.all([
    call('PATCH', `/admin/support/replies/${reply.id}`, agent, { body: 'Version B', version: 2 }),
    call('POST', `/admin/support/replies/${reply.id}/approve`, manager),
  ]);
  t.equal(edit.status, 409, 'a pending reply is not edited');
  t.equal(approve.status, 202);

  await startTestWorker(t, s.config, { queues: ['email'] });
  await patient(async () => (await db.selectFrom('supportReplies').select('id').where('status', '=', 'sent').execute()).length === approvedCount + 1);
  await new Promise((r) => setTimeout(r, 500));
  const mails = sink.messages.filter((m) => m.to.includes(customer.email) && m.subject.includes(conv.number));
  t.equal(mails.length, approvedCount + 1, 'one mail per approved reply');
  t.ok(mails.some((m) => m.text.includes('Version A')) && !mails.some((m) => m.text.includes('Version B')), 'the approved body, not the racing edit');
  const sentMessages = await db.selectFrom('supportMessages').select('replyId').where('replyId', 'is not', null).execute();
  t.equal(sentMessages.length, approvedCount + 1, 'each sent reply appears once in the conversation');
});
