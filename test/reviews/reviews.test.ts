/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t from 'tap';
import { recountRatings } from '../../shared/reviews/recount.js';
import { createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv } from '../support/harness.js';
import { pastOrder } from '../support/order-history.js';
import { auth, buyer, counters, moderate, post, product } from './helpers.js';

t.test(
  'eligibility: only a customer whose order with the product reached delivered may post, once',
  async (t) => {
    const { config, db } = await testEnv(t);
    const app = await buildTestApp(t, config);
    const p = await product(db);
    const url = `/api/v1/products/${p.id}/reviews`;

    t.equal(
      (await app.inject({ method: 'POST', url, payload: { rating: 5 } })).statusCode,
      401,
      'anonymous: 401 whatever the body',
    );
    t.equal((await app.inject({ method: 'POST', url, payload: { nonsense: true } })).statusCode, 401);

    const stranger = await createUser(db, { role: 'customer' });
    const refused = await post(app, stranger, p.id, { rating: 5 });
    t.equal(refused.statusCode, 403);
    t.equal(refused.json().code, 'purchase_required');

    // Paid and shipped, not yet delivered: not yet.
    const waiting = await createUser(db, { role: 'customer' });
    await pastOrder(db, { userId: waiting.id, productIds: [p.id], status: 'shipped' });
    t.equal((await post(app, waiting, p.id, { rating: 4 })).json().code, 'purchase_required');
    // Delivered, but another product.
    const other = await product(db);
    const elsewhere = await createUser(db, { role: 'customer' });
    await pastOrder(db, { userId: elsewhere.id, productIds: [other.id] });
    t.equal((await post(app, elsewhere, p.id, { rating: 4 })).json().code, 'purchase_required');
    // Delivered, then refunded: it was received, so it may be reviewed.
    const refunded = await createUser(db, { role: 'customer' });
    const order = await pastOrder(db, { userId: refunded.id, productIds: [p.id] });
    await db.updateTable('orders').set({ status: 'refunded' }).where('id', '=', order.id).execute();
    t.equal(
      (await post(app, refunded, p.id, { rating: 2 })).statusCode,
      201,
      'an order that reached delivered counts even after a refund',
    );

    const staff = await createUser(db, { role: 'support' });
    await pastOrder(db, { userId: staff.id, productIds: [p.id] });
    t.equal((await post(app, staff, p.id, { rating: 5 })).statusCode, 403, 'staff accounts do not review');

    const ada = await buyer(db, p.id);
    t.equal((await post(app, ada, p.id, { rating: 6 })).statusCode, 400, 'rating 1–5');
    t.equal((await post(app, ada, p.id, { rating: 4, extra: 1 })).statusCode, 400, 'unknown fields refused');
    t.equal((await post(app, ada, '00000000-0000-4000-8000-000000000009', { rating: 4 })).statusCode, 404);
    const created = await post(app, ada, p.id, { rating: 4, title: 'Lovely', body: 'Fits well' });
    t.equal(created.statusCode, 201, created.body);
    t.match(created.json(), {
      rating: 4,
      title: 'Lovely',
      body: 'Fits well',
      state: 'pending',
      version: 1,
      product: { id: p.id },
    });
    const again = await post(app, ada, p.id, { rating: 5 });
    t.equal(again.statusCode, 409);
    t.equal(again.json().code, 'review_exists');

    // Pending reviews are nobody's business but the author's and the moderators'.
    const list = (await app.inject(`/api/v1/products/${p.id}/reviews`)).json();
    t.same(list.items, []);
    t.same(list.summary, { average: null, count: 0, distribution: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 } });
    const mine = (await app.inject({ url: '/api/v1/me/reviews', headers: auth(app, ada) })).json();
    t.equal(mine.items.length, 1);
    t.equal(mine.items[0].state, 'pending');

    // After deleting, one may post again (one LIVE review per customer and product).
    t.equal(
      (
        await app.inject({
          method: 'DELETE',
          url: `/api/v1/reviews/${created.json().id}`,
          headers: auth(app, stranger),
        })
      ).statusCode,
      404,
      "another's review: 404",
    );
    t.equal(
      (
        await app.inject({
          method: 'DELETE',
          url: `/api/v1/reviews/${created.json().id}`,
          headers: auth(app, ada),
        })
      ).statusCode,
      204,
    );
    t.equal((await post(app, ada, p.id, { rating: 3 })).statusCode, 201);
  },
);

t.test('moderation, summary, votes, reply, plain text, counters and the catalog', async (t) => {
  const { config, db } = await testEnv(t);
  const writer = await buildTestApp(t, config);
  const reader = await buildTestApp(t, config);
  const p = await product(db, 'Kente Wrap Dress');
  const mod = await createUser(db, { role: 'support' });
  const customer = await createUser(db, { role: 'customer' });

  const itemOf = async () =>
    (await reader.inject('/api/v1/products?limit=50')).json().items.find((i: any) => i.id === p.id);
  const detailOf = async () => (await reader.inject(`/api/v1/products/${p.id}`)).json();
  t.match(await itemOf(), { rating: null, reviewCount: 0 }, 'no reviews: rating null');
  t.match(await detailOf(), { rating: null, reviewCount: 0 });

  const ada = await buyer(db, p.id, 'Ada Obi');
  const xss =
    '<script>alert(1)</script><img src=x onerror=alert(2)>Great <b>fabric</b>, 5 < 6 <3 <scr<b>ipt>x';
  const r1 = (
    await post(writer, ada, p.id, { rating: 5, title: '<a href="javascript:alert(1)">Best</a>', body: xss })
  ).json();
  t.equal(r1.title, 'Best');
  t.equal(r1.body, 'alert(1)Great fabric, 5 < 6 <3 x', 'markup removed, text kept');
  t.notMatch(r1.body, /<[a-z/!?]/i, 'nothing that could open a tag');

  // Permission matrix of the moderation routes.
  const adminRoutes = [
    { method: 'GET', url: '/api/v1/admin/reviews' },
    { method: 'PATCH', url: `/api/v1/admin/reviews/${r1.id}`, payload: { state: 'published', version: 1 } },
    { method: 'PUT', url: `/api/v1/admin/reviews/${r1.id}/reply`, payload: { body: 'Thanks' } },
  ];
  for (const route of adminRoutes) {
    t.equal((await writer.inject(route)).statusCode, 401, `${route.method} ${route.url} anonymous`);
    t.equal(
      (await writer.inject({ ...route, headers: auth(writer, customer) })).statusCode,
      403,
      `${route.method} ${route.url} customer`,
    );
  }
  const queue = (
    await writer.inject({ url: '/api/v1/admin/reviews?state=pending', headers: auth(writer, mod) })
  ).json();
  t.same(
    queue.items.map((r: any) => r.id),
    [r1.id],
  );
  t.equal(queue.items[0].author.id, ada.id);

  // Transitions and versions.
  const bad = await moderate(writer, mod, r1.id, 'flagged', 1);
  t.equal(bad.statusCode, 409);
  t.equal(bad.json().code, 'invalid_transition');
  const stale = await moderate(writer, mod, r1.id, 'published', 7);
  t.equal(stale.json().code, 'version_conflict');
  const published = await moderate(writer, mod, r1.id, 'published', 1, 'looks <b>fine</b>');
  t.equal(published.statusCode, 200, published.body);
  t.match(published.json(), { state: 'published', version: 2, moderationNote: 'looks fine' });
  const audit = await db.selectFrom('auditLog').selectAll().where('targetId', '=', r1.id).execute();
  t.same(
    audit.map((a) => a.action),
    ['review.moderated'],
    'one audit row per staff mutation',
  );

  // The other replica's cached pages follow at once.
  t.match(await itemOf(), { rating: 5, reviewCount: 1 });
  t.match(await detailOf(), { rating: 5, reviewCount: 1 });

  const bola = await buyer(db, p.id, 'Bola  Adeyemi-Johnson');
  const r2 = (await post(writer, bola, p.id, { rating: 4 })).json();
  t.equal((await moderate(writer, mod, r2.id, 'published', 1)).statusCode, 200);
  const chidi = await buyer(db, p.id, 'Chidi');
  const r3 = (await post(writer, chidi, p.id, { rating: 4, body: 'ok' })).json();
  t.equal((await moderate(writer, mod, r3.id, 'published', 1)).statusCode, 200);
  t.match(await itemOf(), { rating: 4.3, reviewCount: 3 }, 'one decimal: 13 / 3 = 4.3');
  t.match(await counters(db, p.id), { sum: 13, count: 3, pubSum: 13, pubCount: 3 });

  // Helpful votes: idempotent, never one's own.
  const vote = (user: any, id: string, method = 'PUT') =>
    writer.inject({ method, url: `/api/v1/reviews/${id}/vote`, headers: auth(writer, user) });
  t.equal((await vote(customer, r2.id)).statusCode, 204);
  t.equal((await vote(customer, r2.id)).statusCode, 204, 'a repeat is fine');
  t.equal((await vote(chidi, r2.id)).statusCode, 204);
  const own = await vote(bola, r2.id);
  t.equal(own.statusCode, 409);
  t.equal(own.json().code, 'own_review');
  t.equal((await writer.inject({ method: 'PUT', url: `/api/v1/reviews/${r2.id}/vote` })).statusCode, 401);
  t.equal((await vote(chidi, r2.id, 'DELETE')).statusCode, 204);
  t.equal((await vote(chidi, r2.id, 'DELETE')).statusCode, 204, 'taking back twice is fine');
  t.equal((await vote(customer, r3.id)).statusCode, 204);
  t.equal((await vote(ada, r3.id)).statusCode, 204);

  // Staff reply: one, public, plain text.
  const reply = await writer.inject({
    method: 'PUT',
    url: `/api/v1/admin/reviews/${r3.id}/reply`,
    headers: auth(writer, mod),
    payload: { body: 'Thank you <i>Chidi</i>!' },
  });
  t.equal(reply.statusCode, 200, reply.body);
  await writer.inject({
    method: 'PUT',
    url: `/api/v1/admin/reviews/${r3.id}/reply`,
    headers: auth(writer, mod),
    payload: { body: 'Thank you, Chidi!' },
  });

  const page = (await reader.inject(`/api/v1/products/${p.id}/reviews?sort=helpful`)).json();
  t.same(page.items.map((r: any) => r.id).sort(), [r1.id, r2.id, r3.id].sort(), 'three published');
  const byId = Object.fromEntries(page.items.map((r: any) => [r.id, r]));
  t.equal(byId[r3.id].helpfulCount, 2);
  t.equal(byId[r2.id].helpfulCount, 1);
  t.same(byId[r3.id].staffReply.body, 'Thank you, Chidi!', 'the reply is replaced, never two');
  t.notOk('staffReply' in byId[r2.id]);
  t.same(byId[r1.id].author, { displayName: 'Ada O.' });
  t.same(byId[r2.id].author, { displayName: 'Bola A.' });
  t.notOk('email' in byId[r1.id].author, 'no email, no id of the author');
  t.same(page.summary, { average: 4.3, count: 3, distribution: { 1: 0, 2: 0, 3: 0, 4: 2, 5: 1 } });
  t.equal(page.items[0].id, r3.id, 'most helpful first');
  const fours = (
    await reader.inject(`/api/v1/products/${p.id}/reviews?rating=4&sort=rating_asc&limit=1`)
  ).json();
  t.equal(fours.items.length, 1);
  const next = (
    await reader.inject(
      `/api/v1/products/${p.id}/reviews?rating=4&sort=rating_asc&limit=1&cursor=${fours.nextCursor}`,
    )
  ).json();
  t.equal(next.items.length, 1);
  t.notOk(next.summary, 'only the first page carries the summary');
  t.not(next.items[0].id, fours.items[0].id);
  t.equal(
    (await reader.inject(`/api/v1/products/${p.id}/reviews?sort=newest&cursor=${fours.nextCursor}`)).json()
      .code,
    'invalid_cursor',
  );

  // Edit returns it to pending (pre-moderation): out of the counters and the page at once.
  const edited = await writer.inject({
    method: 'PATCH',
    url: `/api/v1/reviews/${r1.id}`,
    headers: auth(writer, ada),
    payload: { rating: 3, body: 'Faded after washing' },
  });
  t.equal(edited.statusCode, 200, edited.body);
  t.match(edited.json(), { state: 'pending', rating: 3, version: 3 });
  t.equal(
    (
      await writer.inject({
        method: 'PATCH',
        url: `/api/v1/reviews/${r1.id}`,
        headers: auth(writer, bola),
        payload: { rating: 1 },
      })
    ).statusCode,
    404,
    "another's review",
  );
  t.match(await itemOf(), { rating: 4, reviewCount: 2 });

  // Moderator takes one down, and a deleted published review leaves the counters.
  t.equal((await moderate(writer, mod, r2.id, 'rejected', 2)).statusCode, 200);
  t.equal(
    (await writer.inject({ method: 'DELETE', url: `/api/v1/reviews/${r3.id}`, headers: auth(writer, mod) }))
      .statusCode,
    204,
    'moderators delete',
  );
  t.match(await itemOf(), { rating: null, reviewCount: 0 });
  t.match(await counters(db, p.id), { sum: 0, count: 0, pubSum: 0, pubCount: 0 });
  t.equal(
    (await db.selectFrom('auditLog').select('action').where('targetId', '=', r3.id).execute())
      .map((a) => a.action)
      .includes('review.deleted'),
    true,
  );

  // The nightly recount: 0 drift, said so; a counter someone broke by hand is found and repaired.
  const clean = await recountRatings(db, 'manual');
  t.equal(clean.drifted, 0);
  const run = await db
    .selectFrom('reviewRecountRuns')
    .selectAll()
    .where('id', '=', clean.runId)
    .executeTakeFirstOrThrow();
  t.equal(run.drifted, 0);
  t.ok(run.finishedAt && run.productsChecked >= 1);
  t.equal((await moderate(writer, mod, r1.id, 'published', 3)).statusCode, 200);
  await db.updateTable('products').set({ ratingSum: 5, ratingCount: 2 }).where('id', '=', p.id).execute();
  const repaired = await recountRatings(db, 'manual');
  t.equal(repaired.drifted, 1);
  t.same(repaired.drift[0], {
    productId: p.id,
    counters: { sum: 5, count: 2 },
    published: { sum: 3, count: 1 },
  });
  t.match(await counters(db, p.id), { sum: 3, count: 1, rating: 3 });
});

t.test('post-moderation publishes first; reports hide at the threshold; sort=rating is damped', async (t) => {
  const { config, db } = await testEnv(t, { REVIEW_MODERATION: 'post', REVIEW_REPORT_THRESHOLD: '2' });
  const app = await buildTestApp(t, config);
  const mod = await createUser(db, { role: 'manager' });
  const [a, b, , d] = [
    await product(db, 'A'),
    await product(db, 'B'),
    await product(db, 'C'),
    await product(db, 'D'),
  ];
  const rate = async (p: { id: string }, rating: number) => {
    const user = await buyer(db, p.id);
    const res = await post(app, user, p.id, { rating });
    t.equal(res.json().state, 'published');
    return { user, review: res.json() };
  };
  await rate(a, 5);
  await rate(b, 5);
  await rate(b, 5);
  await rate(b, 4);
  const low = await rate(d, 1);
  // Store mean (5 + 14 + 1) / 5 = 4: A (5+20)/6 = 4.17, B (14+20)/8 = 4.25, C 4, D (1+20)/6 = 3.5.
  const order = (await app.inject('/api/v1/products?sort=rating&limit=10'))
    .json()
    .items.map((i: any) => i.title);
  t.same(
    order,
    ['B', 'A', 'C', 'D'],
    'three reviews at 4.7 outrank one at 5; an unreviewed product sits at the mean',
  );
  const paged: string[] = [];
  let cursor: string | null = null;
  do {
    const res: any = (
      await app.inject(`/api/v1/products?sort=rating&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
    ).json();
    paged.push(...res.items.map((i: any) => i.title));
    cursor = res.nextCursor;
  } while (cursor);
  t.same(paged, order, 'pages with the cursor');

  // An edit under post-moderation stays published, with the new rating in the counters.
  const edit = await app.inject({
    method: 'PATCH',
    url: `/api/v1/reviews/${low.review.id}`,
    headers: auth(app, low.user),
    payload: { rating: 2 },
  });
  t.match(edit.json(), { state: 'published', rating: 2 });
  t.match(await counters(db, d.id), { sum: 2, count: 1, pubSum: 2, pubCount: 1 });

  // Reports: distinct reporters; the author cannot; a repeat is a no-op; hidden at 2.
  const report = (user: any, reason = 'spam') =>
    app.inject({
      method: 'POST',
      url: `/api/v1/reviews/${low.review.id}/reports`,
      headers: auth(app, user),
      payload: { reason },
    });
  const r1 = await createUser(db, { role: 'customer' });
  const r2 = await createUser(db, { role: 'customer' });
  t.equal((await report(r1)).statusCode, 202);
  t.equal((await report(r1, 'abuse')).statusCode, 202, 'repeat: 202, no-op');
  t.equal((await report(r1, 'rude')).statusCode, 400, 'unknown reason');
  t.equal((await report(low.user)).json().code, 'own_review');
  t.equal(
    (await app.inject(`/api/v1/products/${d.id}/reviews`)).json().items.length,
    1,
    'one reporter: still shown',
  );
  t.equal((await report(r2)).statusCode, 202);
  t.equal(
    (await app.inject(`/api/v1/products/${d.id}/reviews`)).json().items.length,
    0,
    'two reporters: hidden',
  );
  const flagged = (
    await app.inject({ url: '/api/v1/admin/reviews?state=flagged', headers: auth(app, mod) })
  ).json().items;
  t.same(
    flagged.map((r: any) => [r.id, r.reportCount]),
    [[low.review.id, 2]],
  );
  t.match(await counters(db, d.id), { sum: 0, count: 0, pubSum: 0, pubCount: 0, rating: null });
  // A flagged review's author cannot free it by editing.
  const stuck = await app.inject({
    method: 'PATCH',
    url: `/api/v1/reviews/${low.review.id}`,
    headers: auth(app, low.user),
    payload: { body: 'edited' },
  });
  t.equal(stuck.json().state, 'pending');
  const back = await moderate(app, mod, low.review.id, 'published', stuck.json().version);
  t.equal(back.statusCode, 200, back.body);
  t.match(await counters(db, d.id), { sum: 2, count: 1, pubSum: 2, pubCount: 1 });
  const notices = await db
    .selectFrom('outbox')
    .select('payload')
    .where('name', '=', 'system.notify')
    .execute();
  t.equal(notices.filter((n: any) => n.payload.type === 'review.flagged').length, 1, 'staff told once');
});
