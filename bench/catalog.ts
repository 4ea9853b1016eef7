/**
 * Catalog on a 10,000-product demo catalog (~40,000 variants), against the references in the same run:
 *   cached product list        vs hello-world   (aim ≥ 60%: a warm page is one Redis round trip)
 *   uncached product detail    vs pg-pk         (aim ≥ 70%: one SQL statement building the JSON)
 *   search with q (uncached)   p99 < 50 ms at 50 connections
 *   suggestions (typo)         pg_trgm over titles and category names
 * "Uncached" runs a second app with CATALOG_CACHE=false, so every request reaches PostgreSQL.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { demoProduct, seedCatalog } from '../shared/catalog/demo.js';
import type { BenchContext } from './lib.js';

export default async function run(ctx: BenchContext): Promise<void> {
  const mediaDir = mkdtempSync(path.join(tmpdir(), 'agape-bench-media-'));
  const started = Date.now();
  await seedCatalog({ db: ctx.db, config: { ...ctx.config, MEDIA_DIR: mediaDir }, log: (m) => ctx.log(m), args: ['--products', '10000'] });
  ctx.log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const hello = await ctx.startReference('hello');
  ctx.report({ name: 'hello-world', result: await ctx.load(hello, { path: '/' }) });
  await hello.stop();

  const cached = await ctx.startApp({ MEDIA_DIR: mediaDir });
  ctx.report({
    name: 'cached list',
    result: await ctx.load(cached, { path: '/api/v1/products?limit=20&category=women' }),
    baseline: 'hello-world',
    aim: 0.6,
  });
  await cached.stop();

  const pk = await ctx.startReference('pg-pk');
  ctx.report({ name: 'pg-pk', result: await ctx.load(pk, { path: '/items/42' }) });
  await pk.stop();

  const uncached = await ctx.startApp({ MEDIA_DIR: mediaDir, CATALOG_CACHE: 'false' });
  ctx.report({
    name: 'uncached detail',
    result: await ctx.load(uncached, { path: `/api/v1/products/${demoProduct(4242).slug}` }),
    baseline: 'pg-pk',
    aim: 0.7,
  });
  const search = await ctx.load(uncached, { path: '/api/v1/products?q=ankara%20dress&limit=20' });
  ctx.report({ name: 'search q (uncached)', result: search, baseline: 'pg-pk' });
  ctx.log(`search p99 ${search.p99} ms (aim < 50 ms at ${ctx.options.connections} connections): ${search.p99 < 50 ? 'met' : 'NOT met'}`);
  ctx.report({
    name: 'suggestions',
    result: await ctx.load(uncached, { path: '/api/v1/search/suggestions?q=kentte' }),
    baseline: 'pg-pk',
  });
  await uncached.stop();
}
