/**
 * Foundation: what our whole plugin stack (request ids, helmet, CORS, metrics histogram, auth hook,
 * error handler, pino at warn) costs on the cheapest route, against bare Fastify in the same run.
 *   /health/live  vs  hello-world          (aim: ≥ 80% of hello-world's req/s)
 *   /health/ready vs  Fastify + pg by id   (readiness runs SELECT 1 and a Redis PING)
 */
import type { BenchContext } from './lib.js';

export default async function run(ctx: BenchContext): Promise<void> {
  const hello = await ctx.startReference('hello');
  ctx.report({ name: 'hello-world', result: await ctx.load(hello, { path: '/' }) });
  await hello.stop();

  const app = await ctx.startApp();
  ctx.report({
    name: 'ours /health/live',
    result: await ctx.load(app, { path: '/health/live' }),
    baseline: 'hello-world',
    aim: 0.8,
  });

  const pk = await ctx.startReference('pg-pk');
  ctx.report({ name: 'pg-pk', result: await ctx.load(pk, { path: '/items/42' }) });
  await pk.stop();

  ctx.report({
    name: 'ours /health/ready',
    result: await ctx.load(app, { path: '/health/ready' }),
    baseline: 'pg-pk',
  });
  await app.stop();
}
