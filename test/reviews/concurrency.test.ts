/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t from 'tap';
import { createUser, startServer } from '../support/fixtures.js';
import { testEnv } from '../support/harness.js';
import { buyer, counters, product } from './helpers.js';

t.test('one customer posting twice at once: 201 + 409', async (t) => {
  const { config, db } = await testEnv(t);
  const { call, bearer } = await startServer(t, config);
  for (let round = 0; round < 5; round++) {
    const p = await product(db);
    const ada = await buyer(db, p.id);
    const headers = { authorization: bearer('customer', ada.id) };
    const answers = await Promise.all(
      [1, 2].map((i) => call('POST', `/products/${p.id}/reviews`, { headers, body: { rating: i + 3 } })),
    );
    t.same(answers.map((a) => a.status).sort(), [201, 409], `round ${round}`);
    t.equal(answers.find((a) => a.status === 409)?.body.code, 'review_exists');
    const live = await db
      .selectFrom('reviews')
      .select('id')
      .where('productId', '=', p.id)
      .where('deletedAt', 'is', null)
      .execute();
    t.equal(live.length, 1, 'one live review');
  }
});

t.test('100 customers on one product at once: the counters are the exact sum', async (t) => {
  const { config, db } = await testEnv(t, { REVIEW_MODERATION: 'post' });
  const { call, bearer } = await startServer(t, config);
  const p = await product(db);
  const buyers = [];
  for (let i = 0; i < 100; i++) buyers.push(await buyer(db, p.id));
  const answers = await Promise.all(
    buyers.map((b, i) =>
      call('POST', `/products/${p.id}/reviews`, {
        headers: { authorization: bearer('customer', b.id) },
        body: { rating: (i % 5) + 1 },
      }),
    ),
  );
  t.same([...new Set(answers.map((a) => a.status))], [201], 'every post accepted');
  t.match(await counters(db, p.id), { sum: 300, count: 100, pubSum: 300, pubCount: 100, rating: 3 });
  const item = (await call('GET', `/products/${p.id}`)).body;
  t.match(item, { rating: 3, reviewCount: 100 });
});

t.test('50 votes and 50 reports at once: helpfulCount = votes, the threshold is crossed once', async (t) => {
  const { config, db } = await testEnv(t, { REVIEW_MODERATION: 'post', REVIEW_REPORT_THRESHOLD: '3' });
  const { call, bearer } = await startServer(t, config);
  const p = await product(db);
  const author = await buyer(db, p.id);
  const review = (
    await call('POST', `/products/${p.id}/reviews`, {
      headers: { authorization: bearer('customer', author.id) },
      body: { rating: 5 },
    })
  ).body;
  const readers = [];
  for (let i = 0; i < 50; i++) readers.push(await createUser(db, { role: 'customer' }));
  const answers = await Promise.all(
    readers.flatMap((r) => {
      const headers = { authorization: bearer('customer', r.id) };
      return [
        call('PUT', `/reviews/${review.id}/vote`, { headers }),
        call('PUT', `/reviews/${review.id}/vote`, { headers }),
        call('POST', `/reviews/${review.id}/reports`, { headers, body: { reason: 'spam' } }),
      ];
    }),
  );
  // A vote that lands after the review was hidden finds no published review: 404, and it is not counted.
  const votes = answers.filter((_, i) => i % 3 !== 2);
  const reports = answers.filter((_, i) => i % 3 === 2);
  t.ok(
    votes.every((a) => a.status === 204 || a.status === 404),
    'votes: 204, or 404 once hidden',
  );
  t.ok(
    reports.every((a) => a.status === 202),
    'reports: 202 (a flagged review still takes reports)',
  );
  const row = await db
    .selectFrom('reviews')
    .selectAll()
    .where('id', '=', review.id)
    .executeTakeFirstOrThrow();
  const voteRows = await db
    .selectFrom('reviewVotes')
    .select('userId')
    .where('reviewId', '=', review.id)
    .execute();
  const reportRows = await db
    .selectFrom('reviewReports')
    .select('userId')
    .where('reviewId', '=', review.id)
    .execute();
  t.equal(row.helpfulCount, voteRows.length, 'helpfulCount = vote rows');
  t.equal(row.reportCount, reportRows.length, 'reportCount = report rows');
  t.ok(reportRows.length >= 3);
  t.equal(row.state, 'flagged');
  t.equal(row.version, 2, 'one transition: created (1) → flagged (2)');
  const notices = await db
    .selectFrom('outbox')
    .select('payload')
    .where('name', '=', 'system.notify')
    .execute();
  t.equal(
    notices.filter((n: any) => n.payload.type === 'review.flagged').length,
    1,
    'the threshold was crossed once',
  );
  t.match(
    await counters(db, p.id),
    { sum: 0, count: 0, pubSum: 0, pubCount: 0 },
    'out of the counters once, not below',
  );
});

t.test('moderation racing an edit: a stale version never decides; the counters hold', async (t) => {
  const { config, db } = await testEnv(t);
  const { call, bearer } = await startServer(t, config);
  const mod = await createUser(db, { role: 'support' });
  const p = await product(db);
  const ada = await buyer(db, p.id);
  const author = { authorization: bearer('customer', ada.id) };
  const staff = { authorization: bearer('support', mod.id) };
  let review = (await call('POST', `/products/${p.id}/reviews`, { headers: author, body: { rating: 4 } }))
    .body;
  review = (
    await call('PATCH', `/admin/reviews/${review.id}`, {
      headers: staff,
      body: { state: 'published', version: review.version },
    })
  ).body;
  const outcomes = new Set<string>();
  for (let round = 0; round < 12; round++) {
    const [moderation, edit] = await Promise.all([
      call('PATCH', `/admin/reviews/${review.id}`, {
        headers: staff,
        body: { state: 'rejected', version: review.version },
      }),
      call('PATCH', `/reviews/${review.id}`, { headers: author, body: { rating: (round % 5) + 1 } }),
    ]);
    t.equal(edit.status, 200, 'the edit always goes through');
    const after = await db
      .selectFrom('reviews')
      .select(['state', 'version', 'rating'])
      .where('id', '=', review.id)
      .executeTakeFirstOrThrow();
    if (moderation.status === 200) {
      outcomes.add('moderated first');
      t.equal(after.state, 'pending', 'the later edit sends it back to moderation');
      t.equal(after.version, review.version + 2);
    } else {
      outcomes.add('edited first');
      t.equal(moderation.body.code, 'version_conflict');
      t.equal(after.state, 'pending', 'the edit stands; the rejection of the old text did not apply');
      t.equal(after.version, review.version + 1);
    }
    t.match(await counters(db, p.id), { sum: 0, count: 0, pubSum: 0, pubCount: 0 });
    // Publish again for the next round.
    review = (
      await call('PATCH', `/admin/reviews/${review.id}`, {
        headers: staff,
        body: { state: 'published', version: after.version },
      })
    ).body;
    t.equal(review.state, 'published');
    t.match(await counters(db, p.id), { sum: after.rating, count: 1, pubSum: after.rating, pubCount: 1 });
  }
  t.ok(outcomes.size >= 1, `outcomes seen: ${[...outcomes].join(', ')}`);
});
