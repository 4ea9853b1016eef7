/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t from 'tap';
import { buildApp } from '../../api/app.js';
import { LocalCatalogCache, cachedBody } from '../../shared/catalog/cache.js';
import { createProduct } from '../support/fixtures.js';
import { eventually, testEnv, tokenFor } from '../support/harness.js';
import { startApiProcess, timeUntil } from '../support/api-process.js';

/**
 * The process-local catalog cache (shared/catalog/cache.ts): never stale on the process that wrote, and
 * the other API processes (real operating-system processes sharing only PostgreSQL and Redis) see the
 * change within 50 ms, whether the write came through the API or straight from SQL (another domain).
 */

t.setTimeout(300_000);
const WINDOW_MS = 50;

const localHits = async (host: string) =>
  [...(await (await fetch(`${host}/metrics`)).text()).matchAll(/catalog_cache_requests_total\{kind="(?:list|detail)",outcome="local"\} (\d+)/g)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );

t.test('local cache over two API processes: never stale on the writer, fresh on the other within 50 ms', async (t) => {
  const { config, db } = await testEnv(t);
  const signer = await buildApp(config);
  t.teardown(() => signer.close());
  const staff = { authorization: tokenFor(signer, 'manager'), 'content-type': 'application/json' };
  const [a, b] = await Promise.all([startApiProcess(t, config), startApiProcess(t, config)]);
  const { product, variants } = await createProduct(db, [{ price: 1_000_000, onHand: 9 }, { price: 2_000_000, onHand: 4 }], { title: 'Kente Stole' });

  const price = async (host: string) => ((await (await fetch(`${host}/api/v1/products/${product.slug}`)).json()) as any).priceFrom as number;
  const listed = async (host: string) =>
    (((await (await fetch(`${host}/api/v1/products?limit=5`)).json()) as any).items as any[]).find((i) => i.id === product.id)?.priceFrom as number;
  const available = async (host: string) => ((await (await fetch(`${host}/api/v1/products/${product.id}`)).json()) as any).variants[0].available as number;

  // Both warm: the fixture wrote straight to the database, which every process hears of.
  for (const host of [a, b]) await eventually(async () => (await price(host)) === 1_000_000 && (await listed(host)) === 1_000_000 && (await available(host)) === 9);
  const before = await localHits(b);
  for (let i = 0; i < 3; i++) {
    t.equal(await price(b), 1_000_000);
    t.equal(await listed(b), 1_000_000);
  }
  t.ok((await localHits(b)) - before >= 6, 'B answers from its own memory (no round trip)');

  const lags: number[] = [];
  for (let round = 1; round <= 8; round++) {
    const writer = round % 2 ? a : b;
    const other = round % 2 ? b : a;
    const next = 1_000_000 - round * 10_000;
    // Both processes hold the old answer in memory right before the write.
    t.equal(await price(writer), next + 10_000);
    t.equal(await price(other), next + 10_000);
    const res = await fetch(`${writer}/api/v1/variants/${variants[0].id}`, { method: 'PATCH', headers: staff, body: JSON.stringify({ price: next }) });
    t.equal(res.status, 200);
    // The writer dropped its entries before answering: never stale, not even once.
    t.equal(await price(writer), next, `round ${round}: the writer's detail is fresh at once`);
    t.equal(await listed(writer), next, `round ${round}: the writer's list is fresh at once`);
    const lag = await timeUntil(async () => (await Promise.all([price(other), listed(other)])).every((p) => p === next));
    lags.push(lag);
  }
  t.ok(Math.max(...lags) < WINDOW_MS, `the other process is fresh within ${WINDOW_MS} ms (lags ${lags.map((l) => l.toFixed(1)).join(', ')} ms)`);

  // Another domain writing stock straight in SQL (checkout reserving): both hear the database's notification.
  t.equal(await available(a), 9);
  t.equal(await available(b), 9);
  await db.updateTable('inventory').set({ reserved: 2 }).where('variantId', '=', variants[0].id).execute();
  const stockLags = await Promise.all([a, b].map((host) => timeUntil(async () => (await available(host)) === 7)));
  t.ok(Math.max(...stockLags) < WINDOW_MS, `a stock change reaches both within ${WINDOW_MS} ms (${stockLags.map((l) => l.toFixed(1)).join(', ')} ms)`);
});

t.test('conditional requests and cache headers on catalog reads', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildApp(config);
  t.teardown(() => app.close());
  const { product, variants } = await createProduct(db, [{ price: 1_500_000 }], { title: 'Adire Throw' });
  await app.catalogCache.bump();

  for (const url of [`/api/v1/products/${product.slug}`, '/api/v1/products?limit=3']) {
    const first = await app.inject(url);
    t.equal(first.statusCode, 200);
    const etag = first.headers.etag as string;
    t.match(etag, /^"[A-Za-z0-9_-]+"$/, 'a strong ETag');
    t.match(first.headers['cache-control'], /public/);
    t.match(first.headers['content-type'], /application\/json/);
    const again = await app.inject({ url, headers: { 'if-none-match': etag } });
    t.equal(again.statusCode, 304, `${url}: unchanged answers 304`);
    t.equal(again.body, '', 'without a body');
    t.equal(again.headers.etag, etag);
    t.equal((await app.inject({ url, headers: { 'if-none-match': `"other", W/${etag}` } })).statusCode, 304, 'a list and weak form match too');
    t.equal((await app.inject({ url, headers: { 'if-none-match': '"other"' } })).statusCode, 200);
  }

  const url = `/api/v1/products/${product.slug}`;
  const etag = (await app.inject(url)).headers.etag as string;
  await app.inject({ method: 'PATCH', url: `/api/v1/variants/${variants[0].id}`, headers: { authorization: tokenFor(app, 'manager') }, payload: { price: 1_400_000 } });
  const changed = await app.inject({ url, headers: { 'if-none-match': etag } });
  t.equal(changed.statusCode, 200, 'a changed product answers in full');
  t.equal(changed.json().priceFrom, 1_400_000);
  t.not(changed.headers.etag, etag);

  const staffRead = await app.inject({ url, headers: { authorization: tokenFor(app, 'manager') } });
  t.equal(staffRead.headers['cache-control'], 'private, no-store', 'what staff see is never stored by a shared cache');

  // Small answers are never compressed; a large one is, when asked.
  t.equal((await app.inject({ url, headers: { 'accept-encoding': 'gzip' } })).headers['content-encoding'], undefined, 'small bodies go as they are');
  const big = await app.inject({ url: '/api/v1/products?limit=3&facets=true', headers: { 'accept-encoding': 'gzip' } });
  t.equal(big.statusCode, 200);
});

t.test('LocalCatalogCache: data read before a change is never kept', async (t) => {
  const cache = new LocalCatalogCache(100, 1_000_000);
  const entry = (text: string, productId?: string) => cachedBody(text, productId);
  cache.set('k', entry('{}'), cache.mark());
  t.equal(cache.get('k'), undefined, 'nothing is served or kept until live');
  cache.setLive(true);
  cache.set('k', entry('{"a":1}'), cache.mark());
  t.equal(cache.get('k')?.body.toString(), '{"a":1}');

  // A load that started before a change may not store what it read.
  let since = cache.mark();
  await cache.changed();
  cache.set('k', entry('{"old":1}'), since);
  t.equal(cache.get('k'), undefined, 'a change drops entries and refuses older loads');

  // While the shared level's bump is on its way, nothing is kept (Redis may still answer the old version).
  let land!: () => void;
  const bump = cache.changed(() => new Promise<void>((r) => (land = r)));
  cache.set('k', entry('{"during":1}'), cache.mark());
  t.equal(cache.get('k'), undefined, 'not kept while the bump is pending');
  since = cache.mark();
  land();
  await bump;
  cache.set('k', entry('{"during":1}'), since);
  t.equal(cache.get('k'), undefined, 'a load that started during the bump is not kept either');
  cache.set('k', entry('{"after":1}'), cache.mark());
  t.equal(cache.get('k')?.body.toString(), '{"after":1}');

  // A product's details, by id and by slug, drop together; other products stay.
  cache.set('d:p1', entry('{"p":1}', 'p1'), cache.mark());
  cache.set('d:slug-1', entry('{"p":1}', 'p1'), cache.mark());
  cache.set('d:p2', entry('{"p":2}', 'p2'), cache.mark());
  since = cache.mark();
  await cache.productChanged('p1', async () => {});
  t.equal(cache.get('d:p1'), undefined);
  t.equal(cache.get('d:slug-1'), undefined);
  t.ok(cache.get('d:p2'), 'other products stay');
  cache.set('d:p1', entry('{"p":"stale"}', 'p1'), since);
  t.equal(cache.get('d:p1'), undefined, 'a detail read before its stock moved is not kept');
  cache.set('d:p2', entry('{"p":2.1}', 'p2'), since);
  t.ok(cache.get('d:p2'), 'another product read at the same time is');

  // Bounded: the oldest go first.
  for (let i = 0; i < 150; i++) cache.set(`n${i}`, entry(`{"n":${i}}`), cache.mark());
  t.ok(cache.size <= 100);
  t.equal(cache.get('n0'), undefined);
  t.ok(cache.get('n149'));

  // A channel going down turns the level off and forgets everything.
  cache.setLive(false);
  t.equal(cache.get('n149'), undefined);
  cache.setLive(true);
  t.equal(cache.get('n149'), undefined);
});

t.test('LocalCatalogCache: the byte bound counts what an entry holds besides its body', async (t) => {
  // 100-byte bodies under a 10,000-byte bound: counting bodies alone would keep 100 of them. Each also holds
  // its Buffer, ETag, key and map slots (~700 bytes), so about a dozen fit.
  const cache = new LocalCatalogCache(1_000, 10_000);
  cache.setLive(true);
  for (let i = 0; i < 100; i++) cache.set(`d:p${i}`, cachedBody(`{"n":"${String(i).padStart(92, '0')}"}`, `p${i}`), cache.mark());
  t.ok(cache.size >= 8 && cache.size <= 12, `${cache.size} entries of 100 bytes kept under 10,000 bytes`);
  t.ok(cache.get('d:p99'), 'the newest stay');
  t.equal(cache.get('d:p0'), undefined, 'the oldest went');
});
