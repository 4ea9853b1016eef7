import t from 'tap';
import { deliverEmail } from '../../shared/mail/deliver.js';
import { enqueueMail } from '../../shared/mail/enqueue.js';
import { renderMail } from '../../shared/mail/render.js';
import { createMailTransport } from '../../shared/mail/transport.js';
import { createLogger } from '../../shared/logger.js';
import { eventually, logCapture, startTestWorker, testEnv } from '../support/harness.js';
import { startSmtpSink } from '../support/smtp-sink.js';

t.test('a mail queued in a transaction is rendered, escaped and sent once through SMTP', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const { config, db } = await testEnv(t, { SMTP_URL: sink.url, SHOP_NAME: 'Agape Test Shop' });
  const logs = logCapture('info');
  await startTestWorker(t, config, { queues: ['email'], logger: logs.logger });

  const jobId = await db
    .transaction()
    .execute((trx) =>
      enqueueMail(trx, config, 'verify-email', 'ada@example.com', { name: '<b>Ada</b> & co' }, { secret: { link: 'http://shop.test/verify-email?token=sekret123' } }),
    );
  const mail = await sink.waitFor((m) => m.to.includes('ada@example.com'));
  t.match(mail.subject, /Confirm your email for Agape Test Shop/);
  t.ok(mail.html.includes('&lt;b&gt;Ada&lt;/b&gt; &amp; co'), 'variables are escaped in HTML');
  t.notOk(mail.html.includes('<b>Ada</b>'));
  t.ok(mail.text.includes('<b>Ada</b> & co'), 'text part carries the plain value');
  t.same(mail.links[0], 'http://shop.test/verify-email?token=sekret123');
  t.ok(mail.html.includes('http://shop.test'), 'layout links PUBLIC_URL');

  const outbox = await db.selectFrom('outbox').select('payload').where('id', '=', jobId).executeTakeFirstOrThrow();
  t.notOk(JSON.stringify(outbox.payload).includes('sekret123'), 'the link with its token is sealed in the outbox');
  const row = await eventually(() =>
    db.selectFrom('emailDeliveries').selectAll().where('jobId', '=', jobId).where('transportId', 'is not', null).executeTakeFirst(),
  );
  t.equal(row?.template, 'verify-email');
  t.notOk(logs.text().includes('sekret123'), 'no token in worker logs');

  // Running the same job again (a retry after the transport accepted) sends nothing.
  const again = await deliverEmail(
    { db, config, log: createLogger(config, 'test'), transport: createMailTransport(config, createLogger(config, 'test')) },
    jobId,
    { template: 'verify-email', to: 'ada@example.com', data: { name: 'Ada', link: 'http://x' } },
  );
  t.equal(again.sent, false);
  t.equal(sink.messages.length, 1);
});

t.test('transient SMTP failures retry with backoff; permanent ones end in the failed set', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const { config, db } = await testEnv(t, { SMTP_URL: sink.url });
  const worker = await startTestWorker(t, config, { queues: ['email'] });
  sink.failNext(1, 451);
  const jobId = await db
    .transaction()
    .execute((trx) => enqueueMail(trx, config, 'password-changed', 'retry@example.com', { name: 'Retry' }));
  await sink.waitFor((m) => m.to.includes('retry@example.com'), 20_000);
  const job = await worker.deps.queues.email.getJob(jobId);
  t.ok(job && job.attemptsMade >= 1, 'the first attempt failed and was retried');
  t.equal(sink.messages.filter((m) => m.to.includes('retry@example.com')).length, 1);

  sink.failNext(1, 550);
  const badId = await db
    .transaction()
    .execute((trx) => enqueueMail(trx, config, 'password-changed', 'refused@example.com', { name: 'No' }));
  await eventually(async () => (await worker.deps.queues.email.getJob(badId))?.failedReason, { timeoutMs: 15_000 });
  const failed = await worker.deps.queues.email.getJob(badId);
  t.ok(await failed!.isFailed(), 'permanent refusal is in the failed set');
  const claim = await db.selectFrom('emailDeliveries').selectAll().where('jobId', '=', badId).executeTakeFirst();
  t.notOk(claim, 'no delivery recorded for a refused mail');

  // Bad data for a template fails for good too.
  const broken = await db
    .transaction()
    .execute((trx) => enqueueMail(trx, config, 'reset-password', 'broken@example.com', { name: 'No link' }));
  await eventually(async () => (await worker.deps.queues.email.getJob(broken))?.isFailed(), { timeoutMs: 15_000 });
});

t.test('every template renders HTML and text inside the layout', async (t) => {
  const { config } = await testEnv(t);
  const data = { name: 'Ada', link: 'http://shop.test/x?token=1', device: 'curl', ip: '127.0.0.1', at: '2026-01-01' };
  for (const name of ['verify-email', 'reset-password', 'password-changed', 'two-factor-enabled', 'new-sign-in']) {
    const mail = renderMail(config, name, data);
    t.ok(mail.subject.length > 0, `${name} subject`);
    t.ok(mail.html.includes(config.SHOP_NAME) && mail.text.includes(config.PUBLIC_URL), `${name} layout`);
  }
  t.throws(() => renderMail(config, 'no-such-template', {}), /unknown mail template/);
});

t.test('Resend: POST {RESEND_BASE_URL}/emails with the bearer key and an idempotency key; attachments resolved', async (t) => {
  const { createServer } = await import('node:http');
  const received: { headers: Record<string, unknown>; body: { to: string[]; attachments: { filename: string; content: string }[] } }[] = [];
  let failFirst = true;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (failFirst) {
        failFirst = false;
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'try later' }));
        return;
      }
      received.push({ headers: req.headers, body: JSON.parse(raw) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `re_${received.length}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const { config, db } = await testEnv(t, { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: `http://127.0.0.1:${port}` });
  const log = createLogger(config, 'test');
  const transport = createMailTransport(config, log);
  t.equal(transport.kind, 'resend');
  const payload = { template: 'password-changed', to: 'r@example.com', data: { name: 'R' }, attachInvoiceOf: '00000000-0000-4000-8000-000000000009' };
  const resolvers = {
    invoice: async (orderId: string) => ({ filename: `invoice-${orderId.slice(0, 4)}.pdf`, content: Buffer.from('%PDF-1.4 test'), contentType: 'application/pdf' }),
  };
  await t.rejects(deliverEmail({ db, config, log, transport, resolvers }, 'job-r1', payload), /Resend answered 500/, 'a 5xx is retryable');
  t.notOk(await db.selectFrom('emailDeliveries').select('jobId').where('jobId', '=', 'job-r1').executeTakeFirst(), 'claim released');
  const sent = await deliverEmail({ db, config, log, transport, resolvers }, 'job-r1', payload);
  t.same(sent, { sent: true, transportId: 're_1' });
  t.equal(received[0]?.headers.authorization, 'Bearer re_test_key');
  t.equal(received[0]?.headers['idempotency-key'], 'email-job-r1');
  t.same(received[0]?.body.to, ['r@example.com']);
  t.equal(received[0]?.body.attachments[0]?.filename, 'invoice-0000.pdf');
  t.equal(Buffer.from(received[0]?.body.attachments[0]?.content ?? '', 'base64').toString(), '%PDF-1.4 test');
  t.equal((await deliverEmail({ db, config, log, transport, resolvers }, 'job-r1', payload)).sent, false, 'never twice');
  t.equal(received.length, 1);
  await t.rejects(deliverEmail({ db, config, log, transport, resolvers: {} }, 'job-r2', payload), /no invoice attachment resolver/, 'waits for the invoice');
  const notReady = { invoice: async () => null };
  await t.rejects(deliverEmail({ db, config, log, transport, resolvers: notReady }, 'job-r3', payload), /not ready/, 'retries until the invoice exists');
});
