import t from 'tap';
import { signWebhook } from '../../shared/integrations/paystack/client.js';
import { buildTestApp, testEnv } from '../support/harness.js';

/**
 * The webhook's cost in statements, held: one INSERT … ON CONFLICT DO NOTHING carrying the inbox row and
 * its outbox job (no BEGIN/COMMIT, no separate enqueue), and under concurrency fewer statements than
 * webhooks, with every answer still after its own event committed, duplicates stored once.
 */
const charge = (id: number) =>
  JSON.stringify({
    event: 'charge.success',
    data: { id, reference: `INBOX-${id}`, amount: 500_000, currency: 'NGN', status: 'success' },
  });

t.test('one statement per webhook; a burst shares statements, each event stored and queued once', async (t) => {
  const secretKey = 'sk_test_inbox_statements';
  const { config, db } = await testEnv(t, { PAYSTACK_SECRET_KEY: secretKey });
  let queries: string[] = [];
  const app = await buildTestApp(t, config, { onQuery: (q) => queries.push(q) });
  const post = (body: string, signature = signWebhook(body, secretKey)) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/webhooks/paystack',
      headers: { 'content-type': 'application/json', 'x-paystack-signature': signature },
      payload: body,
    });

  // One at a time: exactly one statement each, the inbox insert with its job.
  for (let i = 1; i <= 5; i++) {
    queries = [];
    const res = await post(charge(i));
    t.equal(res.statusCode, 200, res.body);
    t.same(res.json(), { received: true, duplicate: false });
    t.equal(queries.length, 1, `webhook ${i}: one statement`);
    t.match(queries[0], /INSERT INTO webhook_events[\s\S]*ON CONFLICT \(provider, event_key\) DO NOTHING[\s\S]*INSERT INTO outbox/);
  }
  queries = [];
  const replay = await post(charge(1));
  t.same(replay.json(), { received: true, duplicate: true }, 'a replay is a duplicate');
  t.equal(queries.length, 1, 'a replay costs its one statement too');

  // An event we do not act on: stored (as ignored) without a job.
  queries = [];
  const other = JSON.stringify({ event: 'transfer.success', data: { id: 77, amount: 1 } });
  t.same((await post(other)).json(), { received: true, duplicate: false });
  t.equal(queries.length, 1);

  // Forgeries cost nothing.
  queries = [];
  t.equal((await post(charge(99), signWebhook(charge(99), 'sk_test_other'))).statusCode, 401);
  t.equal(queries.length, 0, 'a forged webhook reaches no statement');

  // A burst: 60 distinct events, each delivered twice at once, plus a replay of an old one.
  queries = [];
  const ids = Array.from({ length: 60 }, (_, i) => 1000 + i);
  const burst = await Promise.all([...ids, ...ids, 3].map((id) => post(charge(id))));
  t.ok(
    burst.every((r) => r.statusCode === 200),
    'all acknowledged',
  );
  const answers = burst.map((r) => r.json<{ duplicate: boolean }>());
  t.equal(answers.filter((a) => !a.duplicate).length, 60, 'each new event stored by exactly one of its deliveries');
  t.ok(queries.length <= 121, `at most one statement per webhook (${queries.length} for 121)`);
  t.ok(queries.length < 121, 'concurrent webhooks share statements');
  t.ok(
    queries.every((q) => /INSERT INTO webhook_events/.test(q)),
    'every statement is the inbox insert',
  );

  const events = await db.selectFrom('webhookEvents').select(['id', 'event', 'result', 'processedAt']).execute();
  t.equal(events.length, 5 + 1 + 60, 'every distinct event stored once');
  const jobs = await db
    .selectFrom('outbox')
    .select(['payload', 'name', 'queue'])
    .where('name', '=', 'payment.webhook')
    .execute();
  const charges = events.filter((e) => e.event === 'charge.success');
  t.equal(jobs.length, charges.length, 'one job per handled event');
  t.same(
    new Set(jobs.map((j) => (j.payload as { eventId: string }).eventId)),
    new Set(charges.map((e) => e.id)),
    'each job names its event',
  );
  t.match(events.find((e) => e.event === 'transfer.success'), { result: 'ignored' });
  t.ok(
    charges.every((e) => e.processedAt === null && e.result === null),
    'handled events wait for the worker',
  );
});

t.test('a body PostgreSQL refuses fails alone, not the events stored beside it', async (t) => {
  const secretKey = 'sk_test_inbox_poison';
  const { config, db } = await testEnv(t, { PAYSTACK_SECRET_KEY: secretKey });
  const app = await buildTestApp(t, config);
  const post = (body: string) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/webhooks/paystack',
      headers: { 'content-type': 'application/json', 'x-paystack-signature': signWebhook(body, secretKey) },
      payload: body,
    });
  // Valid JSON, but jsonb has no \u0000.
  const poison = '{"event":"charge.success","data":{"id":424242,"reference":"bad\\u0000","amount":1}}';
  const results = await Promise.all([...Array.from({ length: 20 }, (_, i) => post(charge(5000 + i))), post(poison)]);
  t.ok(
    results.slice(0, 20).every((r) => r.statusCode === 200),
    'the good events beside it are acknowledged',
  );
  t.equal(results[20].statusCode, 500, 'the bad one is not acknowledged (nothing stored)');
  const stored = await db.selectFrom('webhookEvents').select('eventKey').execute();
  t.equal(stored.length, 20);
  t.notOk(stored.some((e) => e.eventKey.includes('424242')));
  t.equal(
    (await db.selectFrom('outbox').select('id').where('name', '=', 'payment.webhook').execute()).length,
    20,
    'no job without its event',
  );
});
