/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import t from 'tap';
import type { Db } from '../../shared/db/index.js';
import { requestRebuild, runRebuild } from '../../shared/recommendations/rebuild.js';
import { createUser, startServer } from '../support/fixtures.js';
import { buildTestApp, eventually, startTestWorker, testEnv, tokenFor } from '../support/harness.js';
import { pastOrder } from '../support/order-history.js';
import {
  RECOMMENDATIONS_SCHEDULER_ID,
  registerSchedules,
  REVIEWS_RECOUNT_SCHEDULER_ID,
} from '../../worker/schedules.js';

let n = 0;
async function item(
  db: Db,
  title: string,
  o: {
    category?: string | null;
    price?: number;
    tags?: string[];
    attributes?: Record<string, string>;
    onHand?: number;
  } = {},
) {
  const p = await db
    .insertInto('products')
    .values({
      slug: `rec-${n++}-${title.toLowerCase().replace(/\W+/g, '-')}`,
      title,
      status: 'active',
      categoryId: o.category ?? null,
      tags: o.tags ?? [],
      attributes: JSON.stringify(o.attributes ?? {}),
    })
    .returning(['id', 'slug'])
    .executeTakeFirstOrThrow();
  const v = await db
    .insertInto('productVariants')
    .values({ productId: p.id, sku: `REC-${n++}`, title: 'M', price: o.price ?? 2_000_000 })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('inventory')
    .values({ variantId: v.id, onHand: o.onHand ?? 5 })
    .execute();
  return { ...p, title, variantId: v.id };
}

async function category(db: Db, name: string) {
  return (
    await db
      .insertInto('categories')
      .values({ name, slug: name.toLowerCase() })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
}

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);

/**
 * A small shop: the dress is bought with the gele by three customers (a pair), with the bag by one (a lone
 * basket: never shown), with the scarf by two but one of them was refunded, and with the cap by two long
 * ago (outside RECS_WINDOW_DAYS).
 */
async function shop(db: Db) {
  const women = await category(db, 'Women');
  const accessories = await category(db, 'Accessories');
  const dress = await item(db, 'Kente Dress', {
    category: women,
    tags: ['kente', 'owambe'],
    attributes: { fabric: 'kente' },
  });
  const gown = await item(db, 'Kente Gown', {
    category: women,
    price: 2_400_000,
    tags: ['kente'],
    attributes: { fabric: 'kente' },
  });
  const pricey = await item(db, 'Kente Mermaid Gown', { category: women, price: 9_000_000, tags: ['kente'] });
  const tunic = await item(db, 'Adire Tunic', { category: women, price: 1_800_000, tags: ['adire'] });
  const gele = await item(db, 'Gele', { category: accessories, price: 500_000 });
  const bag = await item(db, 'Bag', { category: accessories, price: 700_000 });
  const scarf = await item(db, 'Scarf', { category: accessories, price: 300_000 });
  const cap = await item(db, 'Cap', { category: accessories, price: 200_000 });
  const buy = async (
    productIds: string[],
    o: { email?: string; userId?: string; paidAt?: Date; amountRefunded?: number } = {},
  ) =>
    pastOrder(db, {
      productIds,
      status: 'paid',
      email: o.email ?? `c${n++}@example.com`,
      userId: o.userId ?? null,
      paidAt: o.paidAt,
      amountRefunded: o.amountRefunded,
    });
  await buy([dress.id, gele.id], { email: 'one@example.com' });
  await buy([dress.id, gele.id], { email: 'two@example.com' });
  await buy([dress.id, gele.id], { email: 'two@example.com' });
  await buy([dress.id, gele.id], { email: 'eight@example.com' });
  await buy([dress.id, bag.id], { email: 'three@example.com' });
  await buy([dress.id, scarf.id], { email: 'four@example.com' });
  await buy([dress.id, scarf.id], { email: 'five@example.com', amountRefunded: 100 });
  await buy([dress.id, cap.id], { email: 'six@example.com', paidAt: daysAgo(200) });
  await buy([dress.id, cap.id], { email: 'seven@example.com', paidAt: daysAgo(200) });
  // Best sellers: the tunic sells most.
  for (let i = 0; i < 8; i++) await buy([tunic.id], { email: `tunic${i}@example.com` });
  return { women, accessories, dress, gown, pricey, tunic, gele, bag, scarf, cap };
}

const ids = (answer: any) => answer.items.map((i: any) => i.id);

t.test('rebuild on demand, bought-together and similar, fills, permissions, archiving', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const s = await shop(db);
  const get = async (url: string) => {
    const res = await app.inject(`/api/v1${url}`);
    t.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 200)}`);
    return res.json();
  };

  // Before any generation: the fill only (category, no best sellers yet), never the product itself.
  const before = await get(`/products/${s.dress.id}/bought-together`);
  t.equal(before.source, 'fallback');
  t.equal(before.computedAt, null);
  t.same(
    ids(before).sort(),
    [s.gown.id, s.pricey.id, s.tunic.id].sort(),
    'the same category, the product left out',
  );

  // Permission matrix of the admin routes.
  for (const [method, url] of [
    ['POST', '/api/v1/admin/recommendations/rebuild'],
    ['GET', '/api/v1/admin/recommendations/runs'],
  ] as const) {
    t.equal((await app.inject({ method, url })).statusCode, 401, `${method} ${url} anonymous`);
    t.equal(
      (await app.inject({ method, url, headers: { authorization: tokenFor(app, 'customer') } })).statusCode,
      403,
    );
    t.equal(
      (await app.inject({ method, url, headers: { authorization: tokenFor(app, 'support') } })).statusCode,
      403,
    );
  }
  const manager = await createUser(db, { role: 'manager' });
  const staff = { authorization: `Bearer ${app.signAccessToken({ id: manager.id, role: 'manager' })}` };

  // Two requests at once: one run, the same id for both.
  const [r1, r2] = await Promise.all(
    [1, 2].map(() =>
      app.inject({ method: 'POST', url: '/api/v1/admin/recommendations/rebuild', headers: staff }),
    ),
  );
  t.equal(r1.statusCode, 202);
  t.equal(r1.json().runId, r2.json().runId, 'the running rebuild is answered');
  t.equal(
    (
      await db
        .selectFrom('auditLog')
        .select('id')
        .where('action', '=', 'recommendations.rebuild_requested')
        .execute()
    ).length,
    1,
    'audited once',
  );
  await startTestWorker(t, config, { queues: ['recommendations'] });
  const runs = await eventually(async () => {
    const page = (await app.inject({ url: '/api/v1/admin/recommendations/runs', headers: staff })).json();
    return page.items[0]?.status === 'completed' ? page : null;
  });
  t.equal(runs.items.length, 1);
  t.match(
    runs.items[0],
    { id: r1.json().runId, trigger: 'manual', counts: { boughtTogether: 2 } },
    'dress→gele and gele→dress',
  );

  const together = await get(`/products/${s.dress.slug}/bought-together?limit=1`);
  t.same(ids(together), [s.gele.id], 'the pair two customers bought');
  t.equal(together.source, 'computed');
  t.ok(Date.parse(together.computedAt) > 0);
  const full = await get(`/products/${s.dress.id}/bought-together`);
  t.equal(full.source, 'mixed');
  t.equal(full.items[0].id, s.gele.id);
  t.notOk(ids(full).includes(s.dress.id), 'never itself');
  t.equal(new Set(ids(full)).size, full.items.length, 'no duplicates');
  t.notOk(ids(full).slice(0, 1).includes(s.bag.id), 'a lone basket is not a recommendation');
  t.notOk(
    (
      await db
        .selectFrom('recItems')
        .select('relatedId')
        .where('productId', '=', s.dress.id)
        .where('kind', '=', 'bought_together')
        .execute()
    ).some((r) => [s.bag.id, s.scarf.id, s.cap.id].includes(r.relatedId)),
    'lone, refunded and old baskets not computed',
  );
  t.match(
    full.items[0],
    {
      id: s.gele.id,
      slug: s.gele.slug,
      title: 'Gele',
      priceFrom: 500_000,
      currency: 'NGN',
      inStock: true,
      rating: null,
      reviewCount: 0,
      images: [],
    },
    'catalog list items',
  );

  const similar = await get(`/products/${s.dress.id}/similar?limit=3`);
  t.same(
    ids(similar).slice(0, 2),
    [s.gown.id, s.tunic.id],
    'same category, shared tag and attribute first; the ±30 % band holds',
  );
  t.notOk(ids(similar).slice(0, 2).includes(s.pricey.id));

  t.equal((await app.inject(`/api/v1/products/${s.dress.id}/similar?limit=21`)).statusCode, 400);
  t.equal((await app.inject(`/api/v1/products/${s.dress.id}/similar?limit=0`)).statusCode, 400);
  t.equal((await app.inject('/api/v1/products/no-such-thing/similar')).statusCode, 404);

  // Out of stock and archived products drop out at once (cached answers too).
  await db.updateTable('inventory').set({ onHand: 0 }).where('variantId', '=', s.gown.variantId).execute();
  await eventually(async () => !ids(await get(`/products/${s.dress.id}/similar`)).includes(s.gown.id));
  const archive = await app.inject({
    method: 'DELETE',
    url: `/api/v1/products/${s.gele.id}`,
    headers: staff,
  });
  t.equal(archive.statusCode, 204);
  const afterArchive = await get(`/products/${s.dress.id}/bought-together`);
  t.notOk(
    ids(afterArchive).includes(s.gele.id),
    'an archived recommended product is gone from the next read',
  );
  t.equal(afterArchive.source, 'fallback');
  t.equal(
    (await app.inject(`/api/v1/products/${s.gele.id}/bought-together`)).statusCode,
    404,
    'an archived product has no recommendations',
  );

  // Personal: from own purchases, never what one already has.
  const buyer = await createUser(db, { role: 'customer' });
  await pastOrder(db, { userId: buyer.id, productIds: [s.gele.id], status: 'paid' });
  await db.updateTable('products').set({ status: 'active' }).where('id', '=', s.gele.id).execute();
  const mine = (
    await app.inject({
      url: '/api/v1/me/recommendations?limit=1',
      headers: { authorization: `Bearer ${app.signAccessToken({ id: buyer.id, role: 'customer' })}` },
    })
  ).json();
  t.same(ids(mine), [s.dress.id], 'bought together with the gele');
  t.equal(mine.source, 'computed');
  t.equal((await app.inject('/api/v1/me/recommendations')).statusCode, 401);
  const newcomer = await createUser(db, { role: 'customer' });
  const cold = (
    await app.inject({
      url: '/api/v1/me/recommendations',
      headers: { authorization: `Bearer ${app.signAccessToken({ id: newcomer.id, role: 'customer' })}` },
    })
  ).json();
  t.equal(cold.source, 'fallback');
  t.equal(cold.items[0].id, s.tunic.id, 'no purchases: the best sellers');
});

t.test('two rebuilds at once, and reads during rebuilds see one whole generation', async (t) => {
  const { config, db } = await testEnv(t);
  const { call } = await startServer(t, config);
  const s = await shop(db);

  // The same run executed twice at once (a retried job beside the original): one generation.
  const { runId } = await requestRebuild(db, { trigger: 'manual', enqueueJob: false });
  const twice = await Promise.all([runRebuild(db, runId, 180), runRebuild(db, runId, 180)]);
  t.same(
    twice.map((r) => r.status),
    ['completed', 'completed'],
  );
  t.equal(twice[0].generationId, twice[1].generationId, 'one generation');
  t.equal((await db.selectFrom('recGenerations').select('id').execute()).length, 1);
  // A nightly request while one is running joins it.
  const active = await requestRebuild(db, { trigger: 'manual', enqueueJob: false });
  const joined = await requestRebuild(db, { trigger: 'schedule', enqueueJob: false });
  t.equal(joined.runId, active.runId);
  t.notOk(joined.created);
  await runRebuild(db, active.runId, 180);

  // Rebuilds alternate between two worlds while readers read: every answer is whole (never the empty
  // moment between generations) and from one of the two.
  const flip = async (i: number) => {
    // World A: dress → gele; world B: dress → bag as well (a second customer buys it).
    if (i % 2)
      await pastOrder(db, {
        productIds: [s.dress.id, s.bag.id],
        status: 'paid',
        email: 'second-bag@example.com',
      });
    else await sql`DELETE FROM orders WHERE email = 'second-bag@example.com'`.execute(db);
    const { runId } = await requestRebuild(db, { trigger: 'manual', enqueueJob: false });
    await runRebuild(db, runId, 180);
  };
  let reading = true;
  const seen = new Set<string>();
  const reader = (async () => {
    let reads = 0;
    while (reading || reads < 20) {
      const res = await call('GET', `/products/${s.dress.id}/bought-together?limit=2`);
      t.equal(res.status, 200);
      const got = res.body.items.map((i: any) => i.id);
      const computed = res.body.source;
      if (computed !== 'computed' && computed !== 'mixed')
        t.fail(`a read between generations: ${JSON.stringify(res.body)}`);
      t.equal(got[0], s.gele.id, 'the strongest pair first in both worlds');
      seen.add(got.join(','));
      reads++;
    }
    return reads;
  })();
  for (let i = 1; i <= 6; i++) await flip(i);
  reading = false;
  const reads = await reader;
  t.ok(reads >= 20, `${reads} reads during 6 rebuilds`);
  t.equal(
    (await db.selectFrom('recGenerations').select('id').execute()).length,
    1,
    'old generations removed with the switch',
  );
  const runs = await db.selectFrom('recRuns').select(['status']).execute();
  t.ok(
    runs.every((r) => r.status === 'completed'),
    'every run completed',
  );
});

t.test('nightly schedules in SHOP_TIMEZONE; the scheduled jobs run through the worker', async (t) => {
  const { config, db } = await testEnv(t, { SHOP_TIMEZONE: 'Africa/Lagos' });
  const s = await shop(db);
  const worker = await startTestWorker(t, config, { queues: ['recommendations', 'reviews-recount'] });
  await registerSchedules(worker.deps.queues, config, worker.deps.log);
  const recs = await worker.deps.queues.recommendations.getJobScheduler(RECOMMENDATIONS_SCHEDULER_ID);
  t.match(recs, { pattern: '0 3 * * *', tz: 'Africa/Lagos' }, 'recommendations at 03:00 shop time');
  const recount = await worker.deps.queues['reviews-recount'].getJobScheduler(REVIEWS_RECOUNT_SCHEDULER_ID);
  t.match(recount, { pattern: '30 3 * * *', tz: 'Africa/Lagos' }, 'the reviews recount at 03:30 shop time');

  // What the schedulers add: jobs without a run id. The rebuild starts its own run; the recount records one.
  await worker.deps.queues.recommendations.add('recommendations.rebuild', {
    payload: { trigger: 'schedule' },
  });
  await worker.deps.queues['reviews-recount'].add('reviews.recount', { payload: { trigger: 'schedule' } });
  const run = await eventually(
    () => db.selectFrom('recRuns').selectAll().where('status', '=', 'completed').executeTakeFirst(),
    { timeoutMs: 20_000 },
  );
  t.equal(run?.trigger, 'schedule');
  const together = await db
    .selectFrom('recItems')
    .select('relatedId')
    .where('productId', '=', s.dress.id)
    .where('kind', '=', 'bought_together')
    .execute();
  t.same(
    together.map((r) => r.relatedId),
    [s.gele.id],
  );
  const recountRun = await eventually(
    () =>
      db.selectFrom('reviewRecountRuns').selectAll().where('finishedAt', 'is not', null).executeTakeFirst(),
    { timeoutMs: 20_000 },
  );
  t.match(recountRun, { trigger: 'schedule', drifted: 0 });
  t.ok((recountRun?.productsChecked ?? 0) >= 8);
});
