/**
 * Worker fleet: job throughput of the real worker (startWorker, in this process) on the bench database.
 *
 *  - BullMQ no-op jobs/s (`system.ping`): the floor cost of a job (Redis round trips, locks, events).
 *  - email jobs/s (`email.send` → template render → nodemailer → the test SMTP sink over TCP, in its own
 *    process as an SMTP server would be, plus the once-per-job delivery row in Postgres), measured in the
 *    same run. Aim: mail ≥ 50% of no-op.
 *  - invoice PDFs/s: `invoice.render` jobs (number under the counter lock, PDFKit render with the embedded
 *    DejaVu font, file write, rendered mark + receipt outbox row) at the processor's concurrency, the
 *    layout in the render threads (shared/invoices/render-pool.ts), and the bare render on one thread
 *    (renderInvoicePdf in a loop) for comparison, the mail queue paused meanwhile (the receipts the
 *    invoices queue are mail jobs, measured in the mail row). Aim: ≥ 50 PDFs/s.
 *  - the cpu µs/req column is this process's CPU per job (all threads: the worker, its render threads,
 *    the bench's adds and polling): the worker's cost per job, with a little extra.
 *
 * Jobs are added in bulk straight to BullMQ (the outbox relay is not what is measured) and the clock runs
 * from the first add to the last completion. Rows report jobs/s in the req/s column; p50/p99 are the
 * per-job processing times from BullMQ's processedOn/finishedOn.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Job } from 'bullmq';
import pino from 'pino';
import { repoRoot, type Config } from '../shared/config.js';
import type { Db } from '../shared/db/index.js';
import { renderInvoicePdf } from '../shared/invoices/pdf.js';
import { renderMail } from '../shared/mail/render.js';
import { createMailTransport } from '../shared/mail/transport.js';
import { invoiceRenderPool } from '../shared/invoices/render-pool.js';
import type { JobData, QueueName } from '../shared/queues.js';
import { startWorker } from '../worker/main.js';
import { emailProcessor } from '../worker/processors/email.js';
import { invoiceProcessor } from '../worker/processors/invoice.js';
import type { BenchContext, LoadResult } from './lib.js';

const silent = pino({ level: 'silent' });
const NOOP = 'BullMQ no-op jobs (system.ping, concurrency 4)';

function percentile(sorted: number[], p: number) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Adds `jobs` in bulk and waits until all completed; jobs/s over the whole span. */
async function drain(
  worker: Awaited<ReturnType<typeof startWorker>>,
  queue: QueueName,
  jobs: { name: string; payload: unknown }[],
  done: () => Promise<boolean> | boolean,
): Promise<LoadResult> {
  const q = worker.deps.queues[queue];
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < jobs.length; i += 500) {
    await q.addBulk(
      jobs.slice(i, i + 500).map((j) => ({
        name: j.name,
        data: { payload: j.payload } satisfies JobData,
        opts: { jobId: randomUUID(), removeOnComplete: { count: 100_000 } },
      })),
    );
  }
  while (!(await done())) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const completed: Job[] = await q.getJobs(['completed'], 0, jobs.length);
  const times = completed
    .map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0))
    .filter((ms) => ms >= 0)
    .sort((a, b) => a - b);
  const failed = await q.getFailedCount();
  return {
    // This process's CPU (all its threads: the worker, its render threads, the adds) per job.
    cpuPerRequestUs: (used.user + used.system) / jobs.length,
    reqPerSec: jobs.length / seconds,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    requests: jobs.length,
    non2xx: failed,
    errors: 0,
    timeouts: 0,
  };
}

async function paidOrders(db: Db, n: number): Promise<string[]> {
  const tag = randomUUID().slice(0, 8);
  // Not `BENCH-…`: the suites share the run's database, and checkout reads every `BENCH-<n>` SKU as its
  // variant number (`substring(sku from 7)::int`): a `BENCH-3fa9c1b2` left here made `fleet checkout` fail.
  const sku = `FLEET-INV-${tag}`;
  const product = await db
    .insertInto('products')
    .values({ slug: `bench-invoice-${tag}`, title: 'Adire kaftan', status: 'active', currency: 'NGN' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const variant = await db
    .insertInto('productVariants')
    .values({
      productId: product.id,
      sku,
      title: 'L / Indigo',
      price: 1_850_000,
      currency: 'NGN',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const address = JSON.stringify({
    name: 'Bench Buyer',
    phone: '+2348000000000',
    line1: '1 Marina',
    city: 'Lagos',
    state: 'Lagos',
    country: 'NG',
  });
  const ids: string[] = [];
  for (let i = 0; i < n; i += 200) {
    const rows = await db
      .insertInto('orders')
      .values(
        Array.from({ length: Math.min(200, n - i) }, () => ({
          email: `bench-${randomUUID().slice(0, 8)}@example.com`,
          customerName: 'Bench Buyer',
          status: 'paid',
          currency: 'NGN',
          subtotal: 3_700_000,
          shipping: 150_000,
          tax: 277_500,
          total: 4_127_500,
          amountPaid: 4_127_500,
          paidAt: new Date(),
          shippingAddress: address,
          shippingMethodName: 'Standard delivery',
        })),
      )
      .returning('id')
      .execute();
    await db
      .insertInto('orderItems')
      .values(
        rows.map((o) => ({
          orderId: o.id,
          variantId: variant.id,
          productId: product.id,
          title: 'Adire kaftan',
          variantTitle: 'L / Indigo',
          sku,
          unitPrice: 1_850_000,
          quantity: 2,
          lineTotal: 3_700_000,
          currency: 'NGN',
        })),
      )
      .execute();
    ids.push(...rows.map((r) => r.id));
  }
  return ids;
}

/** The SMTP sink in a child process (bench/smtp-sink.ts): its url, a message count, close. */
async function startSinkProcess() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/smtp-sink.ts'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening (\S+)$/.exec(line);
      if (match) resolve(match[1]);
    });
    void exited.then(() => reject(new Error('the SMTP sink exited before listening')));
  });
  return {
    url,
    count: () =>
      new Promise<number>((resolve) => {
        child.once('message', (n) => resolve(Number(n)));
        child.send('count');
      }),
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export default async function run(ctx: BenchContext) {
  const sink = await startSinkProcess();
  const config: Config = {
    ...ctx.config,
    // A plain URL: the transport pools connections by default (shared/mail/transport.ts SMTP_POOL_DEFAULTS).
    SMTP_URL: sink.url,
    MEDIA_DIR: `/tmp/agape-bench-media-${process.pid}`,
  };
  const worker = await startWorker(config, {
    port: 0,
    schedules: false,
    logger: silent,
    queues: ['system', 'email', 'invoice'],
  });
  try {
    const n = Math.max(300, ctx.options.duration * 100);

    // Warm-up (JIT, connection pools, the SMTP connection, the fonts), not measured.
    ctx.log('fleet: warm-up');
    await drain(
      worker,
      'system',
      Array.from({ length: 200 }, () => ({ name: 'system.ping', payload: { message: 'warm' } })),
      async () => (await worker.deps.queues.system.getCompletedCount()) >= 200,
    );
    await drain(
      worker,
      'email',
      Array.from({ length: 50 }, (_, i) => ({
        name: 'email.send',
        payload: {
          template: 'refund',
          to: `warm-${i}@example.com`,
          data: {
            name: 'Ada',
            orderId: randomUUID(),
            orderNumber: 'AGP-000001',
            amount: 500_000,
            currency: 'NGN',
            reason: 'warm-up',
            fullyRefunded: false,
          },
        },
      })),
      async () => (await sink.count()) >= 50,
    );

    ctx.log(`fleet: ${n} no-op jobs`);
    const noopBase = await worker.deps.queues.system.getCompletedCount();
    const noop = await drain(
      worker,
      'system',
      Array.from({ length: n }, () => ({ name: 'system.ping', payload: { message: 'bench' } })),
      async () => (await worker.deps.queues.system.getCompletedCount()) >= noopBase + n,
    );
    ctx.report({ name: NOOP, result: noop });

    ctx.log(`fleet: ${n} email jobs through the SMTP sink`);
    const mailBase = await sink.count();
    const mail = await drain(
      worker,
      'email',
      Array.from({ length: n }, (_, i) => ({
        name: 'email.send',
        payload: {
          template: 'refund',
          to: `customer-${i}@example.com`,
          data: {
            name: 'Ada Obi',
            orderId: randomUUID(),
            orderNumber: `AGP-${String(i).padStart(6, '0')}`,
            amount: 1_250_000,
            currency: 'NGN',
            reason: 'returned',
            fullyRefunded: true,
          },
        },
      })),
      async () => (await sink.count()) >= mailBase + n,
    );
    ctx.report({
      name: `email jobs → SMTP sink (concurrency ${emailProcessor.concurrency ?? 4})`,
      result: mail,
      baseline: NOOP,
      aim: 0.5,
    });

    // The same mails straight through the pooled transport, no job and no statements: what the SMTP hop
    // (nodemailer here, the sink's parse there) allows on this machine, the ceiling of the row above.
    const transport = createMailTransport(config, silent);
    const rendered = renderMail(config, 'refund', {
      name: 'Ada Obi',
      orderId: randomUUID(),
      orderNumber: 'AGP-000001',
      amount: 1_250_000,
      currency: 'NGN',
      reason: 'returned',
      fullyRefunded: true,
    });
    const sendTimes: number[] = [];
    const sendCpu = process.cpuUsage();
    const sendStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: emailProcessor.concurrency ?? 4 }, async () => {
        while (next < n) {
          const k = next++;
          const s = performance.now();
          await transport.send({
            from: config.MAIL_FROM,
            to: `direct-${k}@example.com`,
            ...rendered,
            attachments: [],
            idempotencyKey: `bench-direct-${k}`,
          });
          sendTimes.push(performance.now() - s);
        }
      }),
    );
    const sendSeconds = (performance.now() - sendStart) / 1000;
    const sendUsed = process.cpuUsage(sendCpu);
    transport.close();
    sendTimes.sort((a, b) => a - b);
    ctx.report({
      name: 'the same mails sent directly (pooled transport → SMTP sink, no job)',
      result: {
        cpuPerRequestUs: (sendUsed.user + sendUsed.system) / n,
        reqPerSec: n / sendSeconds,
        p50: Math.round(percentile(sendTimes, 50)),
        p99: Math.round(percentile(sendTimes, 99)),
        requests: n,
        non2xx: 0,
        errors: 0,
        timeouts: 0,
      },
    });
    ctx.report({
      name: 'email jobs against the direct sends',
      result: mail,
      baseline: 'the same mails sent directly (pooled transport → SMTP sink, no job)',
    });

    const pdfs = Math.max(200, ctx.options.duration * 30);
    ctx.log(`fleet: ${pdfs} invoice.render jobs`);
    const orderIds = await paidOrders(ctx.db, pdfs);
    // Warm-up: 20 invoices, so the render threads have started, parsed their fonts and been JIT-compiled.
    const warmIds = await paidOrders(ctx.db, 20);
    await drain(
      worker,
      'invoice',
      warmIds.map((orderId) => ({ name: 'invoice.render', payload: { orderId } })),
      async () => {
        const row = await ctx.db
          .selectFrom('invoices')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('renderedAt', 'is not', null)
          .executeTakeFirstOrThrow();
        return Number(row.n) >= 20;
      },
    );
    // Each invoice queues its receipt mail (PDF attached); the mail queue is measured above, and a fleet
    // runs invoices and mail in their own deployments (WORKER_QUEUES): here it waits while PDFs are timed.
    const mailWorker = worker.workers.find((w) => w.name === 'email');
    await mailWorker?.pause(true);
    const invoice = await drain(
      worker,
      'invoice',
      orderIds.map((orderId) => ({ name: 'invoice.render', payload: { orderId } })),
      async () => {
        const row = await ctx.db
          .selectFrom('invoices')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('renderedAt', 'is not', null)
          .executeTakeFirstOrThrow();
        return Number(row.n) >= pdfs + 20;
      },
    );
    ctx.report({
      name: `invoice PDFs via invoice.render jobs (concurrency ${invoiceProcessor.concurrency ?? 4}, ${invoiceRenderPool().size} render threads)`,
      result: invoice,
    });
    mailWorker?.resume();
    ctx.log(`invoice PDFs/s ${Math.round(invoice.reqPerSec)} (aim ≥ 50: ${invoice.reqPerSec >= 50 ? 'met' : 'NOT met'})`);

    // The render alone, same document shape, for what the job adds around it.
    const doc = {
      shop: { name: config.SHOP_NAME, address: config.SHOP_ADDRESS },
      number: 'INV-2026-000001',
      issuedAt: new Date(),
      orderNumber: 'AGP-000001',
      currency: 'NGN',
      customer: { name: 'Bench Buyer', email: 'bench@example.com', address: ['1 Marina', 'Lagos'] },
      items: [
        {
          title: 'Adire kaftan',
          variantTitle: 'L / Indigo',
          sku: 'BENCH',
          quantity: 2,
          unitPrice: 1_850_000,
          lineTotal: 3_700_000,
        },
      ],
      subtotal: 3_700_000,
      discount: 0,
      couponCode: null,
      shipping: 150_000,
      shippingMethodName: 'Standard delivery',
      tax: 277_500,
      vatRate: config.VAT_RATE,
      total: 4_127_500,
      amountPaid: 4_127_500,
    };
    const times: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < pdfs; i++) {
      const s = performance.now();
      await renderInvoicePdf(doc);
      times.push(performance.now() - s);
    }
    const seconds = (performance.now() - t0) / 1000;
    times.sort((a, b) => a - b);
    ctx.report({
      name: 'invoice PDF render only (renderInvoicePdf)',
      result: {
        reqPerSec: pdfs / seconds,
        p50: percentile(times, 50),
        p99: percentile(times, 99),
        requests: pdfs,
        non2xx: 0,
        errors: 0,
        timeouts: 0,
      },
    });
  } finally {
    await worker.close();
    await sink.close();
  }
}
