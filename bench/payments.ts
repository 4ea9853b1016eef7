/**
 * Payments: how fast a Paystack webhook is acknowledged (signature check on the raw bytes, inbox row +
 * outbox job in one statement, shared by the events arriving together) at a fixed 200 requests/s, the
 * way Paystack's traffic arrives: open loop, not as fast as possible; then how many are acknowledged per
 * second at most (--connections at once, closed loop). Every request is a distinct, correctly signed
 * `charge.success`, so each one takes the insert path (a replay would only hit the unique key).
 * Aims: p99 < 20 ms at 200/s; ≥ 2,000/s acknowledged. A bare Fastify hello-world at the same rate and
 * at its peak gives the floor of this machine.
 */
import { randomBytes } from 'node:crypto';
import { signWebhook } from '../shared/integrations/paystack/client.js';
import type { BenchContext } from './lib.js';

const RATE = 200;

export default async function run(ctx: BenchContext): Promise<void> {
  const hello = await ctx.startReference('hello');
  const atRate = { connections: 20, overallRate: RATE };
  ctx.report({ name: `hello-world @${RATE}/s`, result: await ctx.load(hello, { path: '/', ...atRate }) });
  ctx.report({ name: 'hello-world, peak', result: await ctx.load(hello, { path: '/' }) });
  await hello.stop();

  const secretKey = `sk_test_bench_${randomBytes(8).toString('hex')}`;
  const app = await ctx.startApp({ PAYSTACK_SECRET_KEY: secretKey });
  let id = 5_000_000_000;
  const makeRequest = () => {
    id++;
    const body = JSON.stringify({
      event: 'charge.success',
      data: {
        id,
        domain: 'test',
        status: 'success',
        reference: `BENCH-${id}`,
        amount: 2_500_000,
        currency: 'NGN',
        paid_at: new Date().toISOString(),
        customer: { email: 'bench@example.com' },
      },
    });
    return {
      body,
      headers: { 'content-type': 'application/json', 'x-paystack-signature': signWebhook(body, secretKey) },
    };
  };
  const result = await ctx.load(app, { path: '/api/v1/webhooks/paystack', method: 'POST', makeRequest, ...atRate });
  ctx.report({ name: `webhook ack @${RATE}/s`, result });
  const peak = await ctx.load(app, { path: '/api/v1/webhooks/paystack', method: 'POST', makeRequest });
  ctx.report({ name: 'webhook ack, peak', result: peak, baseline: 'hello-world, peak' });
  const stored = await ctx.db
    .selectFrom('webhookEvents')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  ctx.log(
    `webhook ack p99 ${result.p99} ms (aim < 20 ms: ${result.p99 < 20 ? 'met' : 'NOT met'}); ` +
      `peak ${Math.round(peak.reqPerSec)}/s (aim ≥ 2,000/s: ${peak.reqPerSec >= 2_000 ? 'met' : 'NOT met'}); ${stored.n} events stored`,
  );
  await app.stop();
}
