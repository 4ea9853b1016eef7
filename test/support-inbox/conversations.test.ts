/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t from 'tap';
import { address } from '../support/fixtures.js';
import { buildTestApp, testEnv } from '../support/harness.js';
import { signedIn, type Person } from '../support/support-fixtures.js';

type App = Awaited<ReturnType<typeof buildTestApp>>;

function client(app: App) {
  return async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, who?: Person, body?: unknown) => {
    const res = await app.inject({ method, url: `/api/v1${url}`, headers: who?.auth, ...(body === undefined ? {} : { payload: body as object }) });
    const json = res.headers['content-type']?.toString().includes('json');
    return { status: res.statusCode, body: res.body && json ? res.json<any>() : res.body };
  };
}

t.test('conversations, messages, notes, unread counts and the scope of every route', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const call = client(app);
  const agentA = await signedIn(db, app, 'support');
  const customer = await signedIn(db, app, 'customer');
  const stranger = await signedIn(db, app, 'customer');
  const manager = await signedIn(db, app, 'manager');

  // An order of someone else is 404, and nothing is created.
  const foreignOrder = await db
    .insertInto('orders')
    .values({ userId: stranger.id, email: stranger.email, currency: 'NGN', subtotal: 100, total: 100, shippingAddress: JSON.stringify(address) })
    .returning('id')
    .executeTakeFirstOrThrow();
  const foreign = await call('POST', '/support/conversations', customer, { subject: 'Where is it?', body: 'Hello', orderId: foreignOrder.id });
  t.equal(foreign.status, 404);
  t.equal((await db.selectFrom('supportConversations').select('id').execute()).length, 0, 'nothing created for a foreign order');

  t.equal((await call('POST', '/support/conversations', undefined, { subject: 'x', body: 'y' })).status, 401, 'anonymous: 401 whatever the body');
  t.equal((await call('POST', '/support/conversations', customer, { subject: '', body: 'y' })).status, 400);

  const opened = await call('POST', '/support/conversations', customer, { subject: 'Wrong size', body: 'The shoes are too small' });
  t.equal(opened.status, 201);
  const conv = opened.body;
  t.match(conv, { number: /^SUP-\d{6}$/, customerId: customer.id, status: 'open', assigneeId: agentA.id, unread: 0 }, 'auto-assigned to the only agent');

  // Only after A holds one: B has the least load, so it would get the next.
  const agentB = await signedIn(db, app, 'support');

  // The agent answers, leaves a note; the customer sees the answer, never the note.
  t.equal((await call('POST', `/admin/support/conversations/${conv.id}/messages`, agentA, { body: 'Sorry! Which size?' })).status, 201);
  const note = await call('POST', `/admin/support/conversations/${conv.id}/messages`, agentA, { body: 'Repeat customer, be generous', kind: 'note' });
  t.equal(note.status, 201);
  t.equal(note.body.seq, 3);
  const custMsgs = await call('GET', `/support/conversations/${conv.id}/messages`, customer);
  t.same(custMsgs.body.items.map((m: any) => [m.seq, m.kind]), [[1, 'message'], [2, 'message']], 'notes never reach the customer');
  const staffMsgs = await call('GET', `/admin/support/conversations/${conv.id}/messages`, agentA);
  t.same(staffMsgs.body.items.map((m: any) => m.seq), [1, 2, 3]);
  t.notOk(JSON.stringify(custMsgs.body).includes('generous'));
  const told = await db.selectFrom('outbox').select('payload').where('name', '=', 'notify.fanout').execute();
  const replyEvents = told.map((r) => r.payload as { kind: string; userIds?: string[]; body: string }).filter((p) => p.kind === 'support.reply');
  t.equal(replyEvents.length, 1, 'the customer is told of the chat answer (not of the note)');
  t.same(replyEvents[0]?.userIds, [customer.id]);
  t.notOk(replyEvents[0]?.body.includes('Which size'), 'without the text: no staff words by mail without an approval');

  // Unread: others' messages past one's read seq (notes count for staff only).
  t.equal((await call('GET', `/support/conversations/${conv.id}`, customer)).body.unread, 1);
  t.equal((await call('GET', `/admin/support/conversations/${conv.id}`, manager)).body.unread, 3, 'the manager has read nothing');
  t.equal((await call('POST', `/support/conversations/${conv.id}/read`, customer, { seq: 2 })).status, 204);
  t.equal((await call('POST', `/support/conversations/${conv.id}/read`, customer, { seq: 1 })).status, 204, 'an older read is accepted');
  t.equal((await call('GET', `/support/conversations`, customer)).body.items[0].unread, 0, 'and does not move the position back');
  t.equal((await call('POST', `/support/conversations/${conv.id}/read`, customer, { seq: 99 })).status, 400, 'past the last seq');

  // The scope walk: agent B, and a stranger on the customer side, reach nothing of this conversation.
  const id = conv.id;
  const reply = await call('POST', `/admin/support/conversations/${id}/replies`, agentA, { body: 'Dear customer' });
  t.equal(reply.status, 201);
  const upload = await app.inject({
    method: 'POST',
    url: '/api/v1/support/attachments',
    headers: { ...customer.auth, 'content-type': 'multipart/form-data; boundary=X' },
    payload: `--X\r\nContent-Disposition: form-data; name="file"; filename="receipt.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\r\n--X--\r\n`,
  });
  t.equal(upload.statusCode, 201, upload.body);
  const attachmentId = upload.json().id as string;
  t.equal((await call('GET', `/support/attachments/${attachmentId}`, agentA)).status, 404, 'unattached: only the uploader');
  t.equal((await call('POST', `/support/conversations/${id}/messages`, customer, { body: 'Here is the receipt', attachmentIds: [attachmentId] })).status, 201);
  t.equal((await call('POST', `/support/conversations/${id}/messages`, customer, { body: 'again', attachmentIds: [attachmentId] })).status, 400, 'an attachment is used once');

  const outOfScope: [string, string, Person, unknown?][] = [
    ['GET', `/admin/support/conversations/${id}`, agentB],
    ['GET', `/admin/support/conversations/${id}/messages`, agentB],
    ['POST', `/admin/support/conversations/${id}/messages`, agentB, { body: 'hi' }],
    ['POST', `/admin/support/conversations/${id}/read`, agentB, { seq: 1 }],
    ['PATCH', `/admin/support/conversations/${id}`, agentB, { status: 'resolved' }],
    ['POST', `/admin/support/conversations/${id}/replies`, agentB, { body: 'x' }],
    ['PATCH', `/admin/support/replies/${reply.body.id}`, agentB, { body: 'x', version: 1 }],
    ['POST', `/admin/support/replies/${reply.body.id}/submit`, agentB],
    ['GET', `/support/attachments/${attachmentId}`, agentB],
    ['GET', `/support/conversations/${id}`, stranger],
    ['GET', `/support/conversations/${id}/messages`, stranger],
    ['POST', `/support/conversations/${id}/messages`, stranger, { body: 'hi' }],
    ['POST', `/support/conversations/${id}/read`, stranger, { seq: 1 }],
    ['GET', `/support/attachments/${attachmentId}`, stranger],
    ['GET', `/support/conversations/${id}`, agentA],
  ];
  for (const [method, url, who, body] of outOfScope) {
    const res = await call(method as 'GET', url, who, body);
    t.equal(res.status, 404, `${method} ${url} as ${who.role}: 404`);
  }
  for (const who of [agentB]) {
    t.same((await call('GET', '/admin/support/conversations', who)).body.items, [], 'not in their list');
    t.same((await call('GET', `/admin/support/conversations?q=${conv.number}`, who)).body.items, [], 'nor in search by number');
    t.same((await call('GET', '/admin/support/conversations?q=receipt', who)).body.items, [], 'nor in search by message text');
    t.same((await call('GET', `/admin/support/conversations?assignee=${agentA.id}`, who)).body.items, [], 'nor by naming the assignee');
  }
  t.same((await call('GET', '/support/conversations', stranger)).body.items, []);
  t.equal((await call('GET', '/admin/support/conversations', customer)).status, 403, 'a customer is no agent');
  t.equal((await call('GET', '/admin/support/replies', agentA)).status, 403, 'the approval queue needs support:approve');
  t.equal((await call('PATCH', `/admin/support/conversations/${id}`, agentA, { assigneeId: agentB.id })).status, 403, 'assigning needs support:assign');

  // In scope: the assignee, the manager, the customer.
  t.equal((await call('GET', `/admin/support/conversations?q=receipt`, agentA)).body.items.length, 1);
  t.equal((await call('GET', `/admin/support/conversations?q=generous`, manager)).body.items.length, 1, 'staff search notes');
  t.equal((await call('GET', `/support/attachments/${attachmentId}`, agentA)).status, 200);
  t.equal((await call('GET', `/support/attachments/${attachmentId}`, manager)).status, 200);
  t.equal((await call('GET', `/admin/support/conversations?assignee=unassigned`, manager)).body.items.length, 0);

  // Reassignment moves the whole scope at once.
  const moved = await call('PATCH', `/admin/support/conversations/${id}`, manager, { assigneeId: agentB.id });
  t.equal(moved.status, 200);
  t.equal(moved.body.assigneeId, agentB.id);
  t.equal((await call('GET', `/admin/support/conversations/${id}`, agentA)).status, 404, 'the old agent lost it');
  t.equal((await call('GET', `/support/attachments/${attachmentId}`, agentA)).status, 404);
  t.equal((await call('GET', `/admin/support/conversations/${id}`, agentB)).status, 200, 'the new one has it');
  t.equal((await call('PATCH', `/admin/support/replies/${reply.body.id}`, agentA, { body: 'x', version: 1 })).status, 404, 'even their own draft');
  const audit = await db.selectFrom('auditLog').select(['action', 'actorId']).where('action', '=', 'support.conversation_updated').execute();
  t.same(audit, [{ action: 'support.conversation_updated', actorId: manager.id }], 'one audit row for the staff change');
  t.same(
    (await db.selectFrom('auditLog').select('action').where('targetId', '=', id).where('action', 'like', 'support.%').orderBy('createdAt').execute()).map((a) => a.action),
    ['support.message_sent', 'support.note_added', 'support.conversation_updated'],
    'every staff mutation of the conversation is audited',
  );

  // Resolved reopens when the customer writes; closed refuses.
  t.equal((await call('PATCH', `/admin/support/conversations/${id}`, agentB, { status: 'resolved' })).body.status, 'resolved');
  t.equal((await call('POST', `/support/conversations/${id}/messages`, customer, { body: 'One more thing' })).status, 201);
  t.equal((await call('GET', `/support/conversations/${id}`, customer)).body.status, 'open', 'a customer message reopens');
  t.equal((await call('PATCH', `/admin/support/conversations/${id}`, agentB, { status: 'closed' })).body.status, 'closed');
  const closed = await call('POST', `/support/conversations/${id}/messages`, customer, { body: 'hello?' });
  t.equal(closed.status, 409);
  t.equal(closed.body.code, 'conversation_closed');
  t.equal((await call('PATCH', `/admin/support/conversations/${id}`, agentB, { status: 'resolved' })).body.code, 'invalid_transition');

  // Cursor pages and bad cursors.
  t.equal((await call('GET', `/support/conversations?cursor=nonsense`, customer)).body.code, 'invalid_cursor');
  const page1 = await call('GET', `/admin/support/conversations/${id}/messages?limit=2`, manager);
  const page2 = await call('GET', `/admin/support/conversations/${id}/messages?limit=2&cursor=${page1.body.nextCursor}`, manager);
  t.same([...page1.body.items, ...page2.body.items].map((m: any) => m.seq), [1, 2, 3, 4]);
});

t.test('200 messages at once: seq gap-free and one order for every reader', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const call = client(app);
  const agent = await signedIn(db, app, 'support');
  const customer = await signedIn(db, app, 'customer');
  const conv = (await call('POST', '/support/conversations', customer, { subject: 'Rush', body: 'first' })).body;
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      i % 2 ? call('POST', `/admin/support/conversations/${conv.id}/messages`, agent, { body: `staff ${i}` }) : call('POST', `/support/conversations/${conv.id}/messages`, customer, { body: `customer ${i}` }),
    ),
  );
  t.same(results.filter((r) => r.status !== 201), [], 'every message accepted');
  const seqs = results.map((r) => r.body.seq as number).sort((a, b) => a - b);
  t.same(seqs, Array.from({ length: 200 }, (_, i) => i + 2), 'gap-free after the first');
  const rows = await db.selectFrom('supportMessages').select(['seq', 'body']).where('conversationId', '=', conv.id).orderBy('seq').execute();
  const readAll = async (who: Person, base: string) => {
    const out: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call('GET', `${base}/${conv.id}/messages?limit=100${cursor ? `&cursor=${cursor}` : ''}`, who);
      out.push(...page.body.items.map((m: any) => `${m.seq}:${m.body}`));
      cursor = page.body.nextCursor;
    } while (cursor);
    return out;
  };
  const expected = rows.map((r) => `${r.seq}:${r.body}`);
  t.same(await readAll(customer, '/support/conversations'), expected, 'the customer reads the one order');
  t.same(await readAll(agent, '/admin/support/conversations'), expected, 'the agent reads the same order');
  t.equal((await db.selectFrom('supportConversations').select('lastSeq').where('id', '=', conv.id).executeTakeFirstOrThrow()).lastSeq, 201);
});

t.test('50 conversations opened at once spread over the agents with loads within one', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const call = client(app);
  const agents = await Promise.all(Array.from({ length: 4 }, () => signedIn(db, app, 'support')));
  await signedIn(db, app, 'manager'); // managers read everything; they are not in the rotation
  const customers = await Promise.all(Array.from({ length: 10 }, () => signedIn(db, app, 'customer')));
  const opened = await Promise.all(Array.from({ length: 50 }, (_, i) => call('POST', '/support/conversations', customers[i % 10], { subject: `Q${i}`, body: 'help' })));
  t.same(opened.filter((r) => r.status !== 201), []);
  const loads = await db.selectFrom('supportConversations').select(['assigneeId']).select((eb) => eb.fn.countAll<number>().as('n')).groupBy('assigneeId').execute();
  t.equal(loads.length, 4, 'every agent got some, nobody else');
  t.ok(loads.every((l) => agents.some((a) => a.id === l.assigneeId)));
  const counts = loads.map((l) => Number(l.n));
  t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `loads within one: ${counts.join(',')}`);
});

t.test('SUPPORT_AUTO_ASSIGN=false leaves new conversations unassigned', async (t) => {
  const { config, db } = await testEnv(t, { SUPPORT_AUTO_ASSIGN: 'false' });
  const app = await buildTestApp(t, config);
  const call = client(app);
  await signedIn(db, app, 'support');
  const customer = await signedIn(db, app, 'customer');
  const manager = await signedIn(db, app, 'manager');
  const conv = (await call('POST', '/support/conversations', customer, { subject: 'Q', body: 'help' })).body;
  t.equal(conv.assigneeId, null);
  t.equal((await call('GET', '/admin/support/conversations?assignee=unassigned', manager)).body.items.length, 1);

  // Opening conversations is limited per user (20 an hour): a flood gets 429 with Retry-After.
  const answers = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/support/conversations', customer, { subject: 'spam', body: 'spam' })));
  const limited = answers.filter((a) => a.status === 429);
  t.equal(limited.length, 1, 'the 21st in the hour is refused');
  t.equal(limited[0]?.body.code, 'rate_limited');
  const other = await signedIn(db, app, 'customer');
  t.equal((await call('POST', '/support/conversations', other, { subject: 'Q', body: 'help' })).status, 201, 'per user, not for everyone');
});
