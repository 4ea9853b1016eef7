/**
 * The read path (issue 16), every row in one run against the floors measured in the same run, on a
 * 10,000-product demo catalog (~40,000 variants):
 *   hello-world                          bare Fastify: the floor of an HTTP answer
 *   pg-pk                                bare Fastify + pg primary-key row: the floor of an answer from PostgreSQL
 *   /health/live       vs hello          aim ≥ 0.8
 *   cached list        vs hello          aim ≥ 0.6 (served from the process's own memory)
 *   GET /me            vs hello          aim ≥ 0.5 (token verified from cache, one statement)
 *   uncached detail    vs pg-pk          aim ≥ 0.7 (CATALOG_CACHE=false, 10,000 rotating slugs)
 *   uncached list      vs hello          (rides on the detail's work)
 *   search             p99 < 50 ms       (CATALOG_CACHE=false: 40 frequent words × a price floor that differs
 *                                         per request, so no answer is served twice)
 *   RSS                                  peak RSS of the API (aim < 150 MB) and of a worker processing jobs
 *                                        (aim < 250 MB), both under load; the API's aim is read on the
 *                                        production form (`dist:` rows, after `npm run build`): targets run
 *                                        from source carry tsx's loader thread and sources (~100 MB)
 * Read the "by cpu/req" ratios on a shared machine: CPU time per request barely moves with other load.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { hashPassword } from '../shared/auth/passwords.js';
import { demoProduct, seedCatalog } from '../shared/catalog/demo.js';
import { closeQueues, createQueues } from '../shared/queue-registry.js';
import type { JobData } from '../shared/queues.js';
import { closeRedis, createRedis } from '../shared/redis.js';
import { repoRoot } from '../shared/config.js';
import { startBuiltApi, type BenchContext, type Target } from './lib.js';

const PRODUCTS = 10_000;
const EMAIL = 'bench.reader@example.com';
const PASSWORD = 'bench reader passphrase 2026';
const MB = 1024 * 1024;

async function peakRss(target: Target): Promise<number> {
  return ((await target.memoryUsage?.())?.maxRss ?? 0) / MB;
}

export default async function run(ctx: BenchContext): Promise<void> {
  const mediaDir = mkdtempSync(path.join(tmpdir(), 'agape-bench-media-'));
  const started = Date.now();
  await seedCatalog({ db: ctx.db, config: { ...ctx.config, MEDIA_DIR: mediaDir }, log: (m) => ctx.log(m), args: ['--products', String(PRODUCTS)] });
  // Planner statistics and the visibility map, as any database that has been running has them (autovacuum
  // vacuums a table after its inserts too): index-only scans (search terms) then skip the heap.
  await sql`VACUUM ANALYZE`.execute(ctx.db);
  ctx.log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await ctx.db
    .insertInto('users')
    .values({ email: EMAIL, name: 'Bench Reader', passwordHash: await hashPassword(PASSWORD), emailVerifiedAt: new Date() })
    .onConflict((oc) => oc.column('email').doNothing())
    .execute();
  const { rows: words } = await sql<{ word: string }>`
    SELECT word FROM ts_stat('SELECT search FROM products WHERE status = ''active''') WHERE length(word) > 2 ORDER BY ndoc DESC LIMIT 40`.execute(ctx.db);
  const slugs = Array.from({ length: PRODUCTS }, (_, i) => demoProduct(i).slug);
  ctx.log(`load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const hello = await ctx.startReference('hello');
  ctx.report({ name: 'hello-world', result: await ctx.load(hello, { path: '/' }) });
  await hello.stop();
  const pk = await ctx.startReference('pg-pk');
  ctx.report({ name: 'pg-pk', result: await ctx.load(pk, { path: '/items/42' }) });
  await pk.stop();

  // The worker runs beside the API for the whole suite and gets a burst of jobs at the end.
  const worker = await ctx.startReference('worker');

  const app = await ctx.startApp({ MEDIA_DIR: mediaDir });
  ctx.report({ name: '/health/live', result: await ctx.load(app, { path: '/health/live' }), baseline: 'hello-world', aim: 0.8 });
  ctx.report({ name: 'cached list', result: await ctx.load(app, { path: '/api/v1/products?limit=20' }), baseline: 'hello-world', aim: 0.6 });
  const login = await fetch(`${app.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  if (!login.ok) throw new Error(`bench login failed: ${login.status} ${await login.text()}`);
  const { accessToken } = (await login.json()) as { accessToken: string };
  ctx.report({ name: 'GET /me', result: await ctx.load(app, { path: '/api/v1/me', headers: { authorization: `Bearer ${accessToken}` } }), baseline: 'hello-world', aim: 0.5 });
  let n = 0;
  ctx.report({
    name: 'detail, cache on (10k slugs, cold)',
    result: await ctx.load(app, { path: '/', makeRequest: () => ({ path: `/api/v1/products/${slugs[n++ % slugs.length]}` }) }),
    baseline: 'hello-world',
  });
  const apiCachedRss = await peakRss(app);
  await app.stop();

  const uncached = await ctx.startApp({ MEDIA_DIR: mediaDir, CATALOG_CACHE: 'false' });
  ctx.report({
    name: 'uncached detail (10k slugs)',
    result: await ctx.load(uncached, { path: '/', makeRequest: () => ({ path: `/api/v1/products/${slugs[n++ % slugs.length]}` }) }),
    baseline: 'pg-pk',
    aim: 0.7,
  });
  ctx.report({ name: 'uncached list', result: await ctx.load(uncached, { path: '/api/v1/products?limit=20' }), baseline: 'hello-world' });
  let floor = 0;
  const search = await ctx.load(uncached, {
    path: '/',
    makeRequest: () => {
      floor += 1;
      return { path: `/api/v1/products?limit=20&q=${encodeURIComponent(words[floor % words.length].word)}&minPrice=${floor % 2_000_000}` };
    },
  });
  ctx.report({ name: 'search (rotating)', result: search, baseline: 'pg-pk' });
  ctx.log(`search p99 ${search.p99} ms (aim < 50 ms at ${ctx.options.connections} connections): ${search.p99 < 50 ? 'met' : 'NOT met'}`);
  const facets = await ctx.load(uncached, {
    path: '/',
    makeRequest: () => {
      floor += 1;
      return { path: `/api/v1/products?limit=20&facets=true&q=${encodeURIComponent(words[floor % words.length].word)}&minPrice=${floor % 2_000_000}` };
    },
  });
  ctx.report({ name: 'search + facets (rotating)', result: facets, baseline: 'pg-pk' });
  const apiUncachedRss = await peakRss(uncached);
  await uncached.stop();

  // The RSS aim is about the API as production runs it (`npm run start:api`: compiled, no tsx loader), under the
  // load that grows it most: signed-in reads and 10,000 product details filling the local cache.
  const built = await startBuiltApi({
    ...(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    DATABASE_URL: ctx.config.DATABASE_URL,
    QUEUE_PREFIX: ctx.config.QUEUE_PREFIX,
    LOG_LEVEL: 'warn',
    LOG_PRETTY: 'false',
    RATE_LIMIT_ALLOWLIST: ctx.config.RATE_LIMIT_ALLOWLIST,
    MEDIA_DIR: mediaDir,
  });
  let apiBuiltRss: number | undefined;
  if (!built) ctx.log('no build in dist/: the production-form RSS row needs `npm run build` first');
  else {
    try {
      const built$ = statSync(path.join(repoRoot, 'dist', 'api', 'app.js')).mtime.toISOString();
      ctx.log(`production form: node ${'dist/api/server.js'} built ${built$} (rebuild after changes)`);
      ctx.report({ name: 'dist: cached list', result: await ctx.load(built, { path: '/api/v1/products?limit=20' }), baseline: 'hello-world' });
      ctx.report({ name: 'dist: GET /me', result: await ctx.load(built, { path: '/api/v1/me', headers: { authorization: `Bearer ${accessToken}` } }), baseline: 'hello-world' });
      ctx.report({
        name: 'dist: detail (10k slugs, cold)',
        result: await ctx.load(built, { path: '/', makeRequest: () => ({ path: `/api/v1/products/${slugs[n++ % slugs.length]}` }) }),
        baseline: 'hello-world',
      });
      apiBuiltRss = await peakRss(built);
    } finally {
      await built.stop();
    }
  }

  // A burst of jobs for the worker: no-op pings and outbox-free mail renders are what every process runs.
  const redis = createRedis(ctx.config.REDIS_URL, 'producer', 'agape-bench-read');
  const queues = createQueues(redis, ctx.config.QUEUE_PREFIX, ctx.config);
  try {
    const jobs = 5_000;
    for (let i = 0; i < jobs; i += 500) {
      await queues.system.addBulk(
        Array.from({ length: 500 }, () => ({
          name: 'system.ping',
          data: { payload: { message: 'bench' } } satisfies JobData,
          opts: { jobId: randomUUID(), removeOnComplete: true },
        })),
      );
    }
    const deadline = Date.now() + 60_000;
    while ((await queues.system.getWaitingCount()) + (await queues.system.getActiveCount()) > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await closeQueues(queues);
    await closeRedis(redis);
  }
  const workerRss = await peakRss(worker);
  await worker.stop();
  const mark = (value: number, aim: number) => `${value.toFixed(0)} MB (aim < ${aim} MB: ${value < aim ? 'met' : 'NOT met'})`;
  ctx.log(
    `peak RSS under load: API from source under tsx (cached) ${mark(apiCachedRss, 150)}, (uncached) ${mark(apiUncachedRss, 150)}; ` +
      `API as production runs it ${apiBuiltRss === undefined ? 'not measured' : mark(apiBuiltRss, 150)}; worker ${mark(workerRss, 250)}`,
  );
  ctx.log(`load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}
