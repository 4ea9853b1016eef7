/**
 * Checkout: checkouts per second through the whole API path (Idempotency-Key claim, one transaction with
 * 3 conditional reserves + order + items + history + payment attempt + outbox, then Paystack initialize
 * against the local emulator), for 3-line carts with no contention (10 000 variants) and with 10 hot
 * variants; then p99 at half of the uncontended peak (open loop). Reference: pgbench running the same SQL
 * shape (3 conditional reserves + order + items + outbox in one transaction) against the same tables
 * (same triggers) in the same run. Both sides run 16 at once, the workload issue 10 defines ("16 at once",
 * "16 clients"): a shop's checkouts arrive a few at a time, and the suite's default of 50 connections would
 * measure 40 requests queued for the API's 10 pool connections rather than checkout itself.
 * Aims: API ≥ 50% of pgbench; p99 ≤ 100 ms at half of peak. Also add-to-cart (an empty guest cart, one variant
 * added, the priced cart answered; 50 connections) against the pg-pk floor: aim ≥ 50%.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { startPaystackEmulator } from '../test/support/paystack-emulator.js';
import type { BenchContext, LoadResult, Target } from './lib.js';

const VARIANTS = 10_000;
const HOT = 10;
const PGBENCH = '/usr/bin/pgbench';
/** Checkouts (and pgbench clients) at once: issue 10's definition of the workload. */
const AT_ONCE = 16;

async function arrange(ctx: BenchContext) {
  const { db } = ctx;
  await sql`CREATE TABLE IF NOT EXISTS bench_variants (n int PRIMARY KEY, variant_id uuid NOT NULL)`.execute(db);
  const products = await sql<{ id: string }>`
    INSERT INTO products (slug, title, status) SELECT 'bench-' || g, 'Bench product ' || g, 'active' FROM generate_series(1, 100) g RETURNING id`.execute(db);
  const ids = products.rows.map((r) => r.id);
  await sql`
    INSERT INTO product_variants (product_id, sku, title, price)
    SELECT (${ids}::uuid[])[1 + (g - 1) % 100], 'BENCH-' || g, 'Variant ' || g, 500000 + g FROM generate_series(1, ${VARIANTS}) g`.execute(db);
  await sql`INSERT INTO bench_variants SELECT substring(sku from 7)::int, id FROM product_variants WHERE sku LIKE 'BENCH-%'`.execute(db);
  await sql`INSERT INTO inventory (variant_id, on_hand) SELECT variant_id, 1000000000 FROM bench_variants
            ON CONFLICT (variant_id) DO UPDATE SET on_hand = 1000000000`.execute(db);
  const ship = await db.insertInto('shippingMethods').values({ name: 'Bench', price: 250_000, etaDays: 2 }).returning('id').executeTakeFirstOrThrow();
  await sql`ANALYZE`.execute(db);
  return ship.id;
}

/**
 * Planner statistics for the carts just made, as a running shop's database has them (autovacuum analyzes a
 * table within a minute of such growth, the scenarios run sooner): statistics of an empty table would plan
 * the functions' cart look-ups as scans of a one-page table, and PL/pgSQL keeps those plans.
 */
async function analyzeCarts(ctx: BenchContext): Promise<void> {
  await sql`ANALYZE carts, cart_items`.execute(ctx.db);
}

/** Guest carts of 3 lines (consecutive variant numbers from `pool`), returned as their raw tokens. */
async function makeCarts(ctx: BenchContext, count: number, pool: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let start = 0; start < count; start += 5_000) {
    const n = Math.min(5_000, count - start);
    const batch = Array.from({ length: n }, () => `bench-${randomBytes(18).toString('base64url')}`);
    const hashes = batch.map((t) => createHash('sha256').update(t).digest('hex'));
    const firsts = batch.map(() => 1 + Math.floor(Math.random() * (pool - 2)));
    await sql`
      WITH c AS (
        INSERT INTO carts (token_hash) SELECT unnest(${hashes}::text[]) RETURNING id, token_hash
      ), picks AS (
        SELECT c.id AS cart_id, f.first FROM c JOIN unnest(${hashes}::text[], ${firsts}::int[]) AS f(h, first) ON f.h = c.token_hash
      )
      INSERT INTO cart_items (cart_id, variant_id, quantity, unit_price)
      SELECT p.cart_id, bv.variant_id, 1, 500000 FROM picks p CROSS JOIN generate_series(0, 2) k
      JOIN bench_variants bv ON bv.n = p.first + k`.execute(ctx.db);
    tokens.push(...batch);
  }
  await analyzeCarts(ctx);
  return tokens;
}

/** Empty guest carts, returned as their raw tokens. */
async function makeEmptyCarts(ctx: BenchContext, count: number): Promise<string[]> {
  const tokens = Array.from({ length: count }, () => `bench-${randomBytes(18).toString('base64url')}`);
  for (let start = 0; start < count; start += 5_000) {
    const hashes = tokens.slice(start, start + 5_000).map((t) => createHash('sha256').update(t).digest('hex'));
    await sql`INSERT INTO carts (token_hash) SELECT unnest(${hashes}::text[])`.execute(ctx.db);
  }
  await analyzeCarts(ctx);
  return tokens;
}

/** Add-to-cart as a shopper does it: one variant (of 10,000) into a cart of its own, the priced cart back. */
async function addToCartLoad(ctx: BenchContext, target: Target, variantIds: string[], tokens: string[]): Promise<LoadResult> {
  let i = 0;
  return ctx.load(target, {
    path: '/api/v1/cart/items',
    method: 'POST',
    makeRequest: () => {
      const n = i++;
      if (n === tokens.length) console.warn('  warning: add-to-cart requests reuse carts (prepare more carts)');
      return {
        body: JSON.stringify({ variantId: variantIds[n % variantIds.length], quantity: 1 }),
        headers: { 'content-type': 'application/json', 'x-cart-token': tokens[n % tokens.length] },
      };
    },
  });
}

/**
 * Checkouts of the given carts, one cart per request (one email per cart: MAX_OPEN_ORDERS_PER_CLIENT caps
 * unpaid orders per email even for allow-listed addresses); closed loop, or open loop at `rate`.
 */
function checkoutLoad(ctx: BenchContext, target: Target, tokens: string[], shippingMethodId: string, opts: { connections: number; duration: number; rate?: number }): Promise<LoadResult> {
  let i = 0;
  return ctx.load(target, {
    path: '/api/v1/checkout',
    method: 'POST',
    connections: opts.connections,
    duration: opts.duration,
    warmup: 0,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    makeRequest: () => {
      const n = i++;
      if (n === tokens.length) console.warn('  warning: requests reuse carts (prepare more carts)');
      return {
        body: JSON.stringify({
          email: `bench${n}@example.test`,
          shippingMethodId,
          shippingAddress: { name: 'Bench', phone: '+2348030000000', line1: '1 Bench Rd', city: 'Lagos', state: 'Lagos', country: 'NG' },
        }),
        headers: { 'content-type': 'application/json', 'x-cart-token': tokens[n % tokens.length], 'idempotency-key': randomUUID() },
      };
    },
  });
}

const pgbenchScript = (pool: number) => `
\\set v random(1, ${pool - 2})
BEGIN;
UPDATE inventory SET reserved = reserved + 1, updated_at = now() WHERE variant_id = (SELECT variant_id FROM bench_variants WHERE n = :v) AND on_hand - reserved >= 1;
UPDATE inventory SET reserved = reserved + 1, updated_at = now() WHERE variant_id = (SELECT variant_id FROM bench_variants WHERE n = :v + 1) AND on_hand - reserved >= 1;
UPDATE inventory SET reserved = reserved + 1, updated_at = now() WHERE variant_id = (SELECT variant_id FROM bench_variants WHERE n = :v + 2) AND on_hand - reserved >= 1;
WITH o AS (INSERT INTO orders (email, currency, subtotal, total, shipping_address, reservation_expires_at) VALUES ('pgbench@example.test', 'NGN', 1500000, 1862500, '{"name":"Bench"}', now() + interval '15 minutes') RETURNING id) INSERT INTO order_items (order_id, variant_id, title, variant_title, sku, unit_price, quantity, line_total, currency) SELECT o.id, bv.variant_id, 'Bench', 'Variant', 'BENCH-' || bv.n, 500000, 1, 500000, 'NGN' FROM o, bench_variants bv WHERE bv.n BETWEEN :v AND :v + 2;
INSERT INTO outbox (queue, name, payload) VALUES ('system', 'system.notify', '{"type":"order.created","staff":true,"data":{}}');
SELECT pg_notify('outbox', '');
COMMIT;
`;

/** Busy CPU time of the whole machine so far, in ms (/proc/stat: every process, PostgreSQL and the load included). */
function machineBusyMs(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
}

/** CPU used so far by this database's PostgreSQL backends, in ms (the API's pool connections live through a scenario). */
async function backendsCpuMs(ctx: BenchContext): Promise<number> {
  const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(ctx.db);
  let ms = 0;
  for (const { pid } of rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

/** Runs `load`, then logs the machine's and PostgreSQL's CPU per request over it (where the cores go). */
async function withCpu(ctx: BenchContext, label: string, load: () => Promise<LoadResult>, pgBackends: boolean): Promise<LoadResult> {
  const machine = machineBusyMs();
  const pg = pgBackends ? await backendsCpuMs(ctx) : 0;
  const result = await load();
  const perReq = (ms: number) => ((ms / Math.max(1, result.requests)) * 1000).toFixed(0);
  const pgUsed = pgBackends ? ` · PostgreSQL backends ${perReq((await backendsCpuMs(ctx)) - pg)} µs` : '';
  ctx.log(`${label}: CPU per request, whole machine ${perReq(machineBusyMs() - machine)} µs${pgUsed}`);
  return result;
}

/** pgbench for `duration` seconds with `clients` connections; latency percentiles from its per-transaction log. */
function runPgbench(databaseUrl: string, pool: number, clients: number, duration: number): Promise<LoadResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agape-pgbench-'));
  const script = path.join(dir, 'checkout.sql');
  writeFileSync(script, pgbenchScript(pool));
  return new Promise((resolve, reject) => {
    const child = spawn(PGBENCH, ['-n', '-f', script, '-c', String(clients), '-j', '2', '-T', String(duration), '-l', '--log-prefix', path.join(dir, 'tx'), databaseUrl], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`pgbench exited ${code}: ${out.slice(-2000)}`);
        const latencies: number[] = [];
        for (const f of readdirSync(dir).filter((n) => n.startsWith('tx'))) {
          for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
            const us = Number(line.split(' ')[2]);
            if (Number.isFinite(us) && line) latencies.push(us / 1000);
          }
        }
        latencies.sort((a, b) => a - b);
        const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 100) / 100;
        const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? latencies.length / duration);
        const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
        resolve({ reqPerSec: tps, p50: pct(0.5), p99: pct(0.99), requests: latencies.length, non2xx: 0, errors: failed, timeouts: 0 });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

export default async function run(ctx: BenchContext): Promise<void> {
  const { duration } = ctx.options;
  const connections = AT_ONCE;
  const shippingMethodId = await arrange(ctx);
  const emu = await startPaystackEmulator({ secretKey: `sk_test_bench_${randomBytes(6).toString('hex')}` });
  try {
    // Add-to-cart (one `cart_add_item` statement) against the floor of an answer from PostgreSQL, 50 at once.
    const pk = await ctx.startReference('pg-pk');
    ctx.report({ name: 'pg-pk', result: await ctx.load(pk, { path: '/items/42' }) });
    await pk.stop();
    const app = await ctx.startApp({ PAYSTACK_BASE_URL: emu.url, PAYSTACK_SECRET_KEY: emu.secretKey });
    const { rows: variants } = await sql<{ id: string }>`SELECT variant_id AS id FROM bench_variants ORDER BY random()`.execute(ctx.db);
    const variantIds = variants.map((v) => v.id);
    const addTokens = await makeEmptyCarts(ctx, 6_000 * (duration + 3));
    ctx.report({ name: 'add-to-cart', result: await addToCartLoad(ctx, app, variantIds, addTokens), baseline: 'pg-pk', aim: 0.5 });
    const perScenario = 700 * (duration + 3);

    ctx.log(`preparing ${perScenario} carts per scenario...`);
    let tokens = await makeCarts(ctx, perScenario, VARIANTS);
    await checkoutLoad(ctx, app, tokens.slice(0, 300), shippingMethodId, { connections, duration: 2 });
    const peak = await withCpu(ctx, 'checkout, no contention', () => checkoutLoad(ctx, app, tokens.slice(300), shippingMethodId, { connections, duration }), true);
    ctx.report({ name: 'checkout (3 lines, no contention)', result: peak });

    tokens = await makeCarts(ctx, perScenario, HOT);
    const hot = await checkoutLoad(ctx, app, tokens, shippingMethodId, { connections, duration });
    ctx.report({ name: `checkout (3 lines, ${HOT} hot variants)`, result: hot });

    tokens = await makeCarts(ctx, Math.ceil((peak.reqPerSec / 2) * (duration + 1)) + 100, VARIANTS);
    const half = await checkoutLoad(ctx, app, tokens, shippingMethodId, { connections, duration, rate: Math.max(1, Math.floor(peak.reqPerSec / 2)) });
    ctx.report({ name: `checkout @ half of peak (${Math.floor(peak.reqPerSec / 2)}/s)`, result: half });
    await app.stop();

    const pgCold = await withCpu(ctx, 'pgbench, no contention', () => runPgbench(ctx.config.DATABASE_URL, VARIANTS, AT_ONCE, duration), false);
    ctx.report({ name: `pgbench same SQL, no contention (${AT_ONCE} clients)`, result: pgCold });
    const pgHot = await runPgbench(ctx.config.DATABASE_URL, HOT, AT_ONCE, duration);
    ctx.report({ name: `pgbench same SQL, ${HOT} hot variants`, result: pgHot });

    const ratio = (a: LoadResult, b: LoadResult) => (b.reqPerSec ? a.reqPerSec / b.reqPerSec : 0);
    ctx.log(`API / pgbench, no contention: ${(ratio(peak, pgCold) * 100).toFixed(0)}% (aim ≥ 50%: ${ratio(peak, pgCold) >= 0.5 ? 'met' : 'NOT met'})`);
    ctx.log(`API / pgbench, ${HOT} hot variants: ${(ratio(hot, pgHot) * 100).toFixed(0)}% (aim ≥ 50%: ${ratio(hot, pgHot) >= 0.5 ? 'met' : 'NOT met'})`);
    ctx.log(`p99 at half of peak: ${half.p99} ms (aim ≤ 100 ms: ${half.p99 <= 100 ? 'met' : 'NOT met'})`);
  } finally {
    await emu.close();
  }
}
