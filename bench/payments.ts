/**
 * Payments: how fast a Paystack webhook is acknowledged (signature check on the raw bytes, inbox row +
 * outbox job in one transaction) at a fixed 200 requests/s, the way Paystack's traffic arrives: open
 * loop, not as fast as possible. Every request is a distinct, correctly signed `charge.success`, so each
 * one takes the insert path (a replay would only hit the unique key). Aim: p99 < 20 ms.
 * A bare Fastify hello-world at the same rate gives the floor of this machine.
 */
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { signWebhook } from '../shared/integrations/paystack/client.js';
import type { BenchContext, LoadResult, Target } from './lib.js';

const RATE = 200;

async function fixedRate(
  target: Target,
  opts: {
    path: string;
    method?: 'GET' | 'POST';
    duration: number;
    makeRequest?: () => { body: string; headers: Record<string, string> };
  },
): Promise<LoadResult> {
  const before = await target.cpuUsage?.();
  const result = await cannonAtRate(target, opts);
  const after = await target.cpuUsage?.();
  if (before && after && result.requests > 0) {
    result.cpuPerRequestUs = (after.user - before.user + after.system - before.system) / result.requests;
  }
  return result;
}

function cannonAtRate(
  target: Target,
  opts: {
    path: string;
    method?: 'GET' | 'POST';
    duration: number;
    makeRequest?: () => { body: string; headers: Record<string, string> };
  },
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: target.url,
        connections: 20,
        overallRate: RATE,
        duration: opts.duration,
        requests: [
          {
            method: opts.method ?? 'GET',
            path: opts.path,
            ...(opts.makeRequest
              ? {
                  setupRequest: (req: autocannon.Request) => {
                    const { body, headers } = opts.makeRequest!();
                    return { ...req, body, headers: { ...req.headers, ...headers } };
                  },
                }
              : {}),
          },
        ],
      },
      (err, r) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        resolve({
          reqPerSec: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          requests: r.requests.total,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
        });
      },
    );
  });
}

export default async function run(ctx: BenchContext): Promise<void> {
  const duration = ctx.options.duration;
  const hello = await ctx.startReference('hello');
  await fixedRate(hello, { path: '/', duration: 2 });
  ctx.report({ name: `hello-world @${RATE}/s`, result: await fixedRate(hello, { path: '/', duration }) });
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
  await fixedRate(app, { path: '/api/v1/webhooks/paystack', method: 'POST', duration: 2, makeRequest });
  const result = await fixedRate(app, {
    path: '/api/v1/webhooks/paystack',
    method: 'POST',
    duration,
    makeRequest,
  });
  ctx.report({ name: `webhook ack @${RATE}/s`, result });
  const stored = await ctx.db
    .selectFrom('webhookEvents')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  ctx.log(
    `webhook ack p99 ${result.p99} ms (aim < 20 ms: ${result.p99 < 20 ? 'met' : 'NOT met'}); ${stored.n} events stored`,
  );
  await app.stop();
}
