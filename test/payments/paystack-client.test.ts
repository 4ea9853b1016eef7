import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import {
  createPaystackClient,
  PaystackError,
  signWebhook,
  verifyWebhookSignature,
} from '../../shared/integrations/paystack/client.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';

const secretKey = 'sk_test_client_suite';

async function setup(tt: Test, webhook?: { status: number }) {
  const received: { body: string; signature: string }[] = [];
  let hook: ReturnType<typeof createServer> | undefined;
  let webhookUrl: string | undefined;
  if (webhook) {
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          body: Buffer.concat(chunks).toString(),
          signature: String(req.headers['x-paystack-signature']),
        });
        res.writeHead(received.length === 1 ? webhook.status : 200).end();
      });
    });
    await new Promise<void>((r) => hook!.listen(0, '127.0.0.1', r));
    webhookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    tt.teardown(() => new Promise<void>((r) => hook!.close(() => r())));
  }
  const emu = await startPaystackEmulator({ secretKey, webhookUrl, webhookRetryMs: 20 });
  tt.teardown(() => emu.close());
  const client = createPaystackClient({ secretKey, baseUrl: emu.url, timeoutMs: 5_000, retryBaseMs: 5 });
  return { emu, client, received };
}

t.test('initialize, verify, list, refunds round trip through the emulator', async (t) => {
  const { emu, client } = await setup(t);
  const init = await client.initializeTransaction({
    email: 'ada@example.com',
    amount: 1_250_000,
    currency: 'NGN',
    reference: 'AGP-1-1',
  });
  t.equal(init.reference, 'AGP-1-1');
  t.match(init.authorizationUrl, `${emu.url}/pay/AGP-1-1`);

  const dup = await client
    .initializeTransaction({
      email: 'ada@example.com',
      amount: 1_250_000,
      currency: 'NGN',
      reference: 'AGP-1-1',
    })
    .catch((e: unknown) => e);
  t.ok(dup instanceof PaystackError);
  t.match(dup, { status: 400, code: 'duplicate_reference', retryable: false });

  t.match(await client.verifyTransaction('AGP-1-1'), {
    status: 'abandoned',
    amount: 1_250_000,
    currency: 'NGN',
  });
  t.equal(await client.verifyTransaction('nope'), null, 'unknown reference is null');

  await emu.pay('AGP-1-1', { amount: 1_000_000 });
  const v = await client.verifyTransaction('AGP-1-1');
  t.match(v, { status: 'success', amount: 1_000_000, requestedAmount: 1_250_000, reference: 'AGP-1-1' });
  t.ok(v!.id > 2 ** 31, 'ids beyond 2^31');

  for (let i = 0; i < 7; i++) emu.createTransaction({ reference: `EXT-${i}`, amount: 6000 + i });
  const all = await client.listTransactions({
    from: new Date(Date.now() - 60_000),
    to: new Date(Date.now() + 60_000),
    perPage: 3,
  });
  t.equal(all.length, 8, 'all pages');
  const ok = await client.listTransactions({
    from: new Date(Date.now() - 60_000),
    to: new Date(),
    status: 'success',
    perPage: 3,
  });
  t.equal(ok.length, 8);

  const r1 = await client.createRefund({ transaction: 'AGP-1-1', amount: 400_000, merchantNote: 'partial' });
  t.match(r1, { status: 'pending', amount: 400_000, currency: 'NGN', transactionReference: 'AGP-1-1' });
  const over = await client
    .createRefund({ transaction: 'AGP-1-1', amount: 700_000 })
    .catch((e: unknown) => e);
  t.match(over, { status: 400, retryable: false });
  const r2 = await client.createRefund({ transaction: 'AGP-1-1' });
  t.equal(r2.amount, 600_000, 'no amount refunds the remainder');
  t.match(await client.fetchRefund(r1.id), { id: r1.id, amount: 400_000 });
  t.equal(await client.fetchRefund(999), null);
  t.equal((await client.listRefunds({ transaction: 'AGP-1-1' })).length, 2);
  const reversed = await client
    .createRefund({ transaction: 'AGP-1-1', amount: 100 })
    .catch((e: unknown) => e);
  t.match(reversed, { status: 400, code: 'transaction_reversed' });
});

t.test('bad key is 401 and does not leak the key', async (t) => {
  const { emu } = await setup(t);
  const bad = createPaystackClient({ secretKey: 'sk_test_wrong_secret', baseUrl: emu.url });
  const err = await bad.verifyTransaction('x').catch((e: unknown) => e);
  t.match(err, { status: 401, retryable: false });
  t.notMatch((err as Error).message, /sk_test_wrong_secret/);
});

t.test('safe calls retry 5xx; initialize and refund never retry', async (t) => {
  const { emu, client } = await setup(t);
  await client.initializeTransaction({ email: 'a@b.co', amount: 10_000, currency: 'NGN', reference: 'R-1' });
  emu.failNext('verify', { status: 503, times: 2 });
  t.match(await client.verifyTransaction('R-1'), { reference: 'R-1' }, 'verify recovered after two 503s');

  emu.failNext('initialize', { status: 500 });
  const e = await client
    .initializeTransaction({ email: 'a@b.co', amount: 10_000, currency: 'NGN', reference: 'R-2' })
    .catch((x: unknown) => x);
  t.match(e, { status: 500, retryable: true });
  t.notOk(emu.transactions.has('R-2'), 'not retried behind our back');

  emu.failNext('initialize', { delayMs: 1_000 });
  const impatient = createPaystackClient({ secretKey, baseUrl: emu.url, timeoutMs: 200 });
  const timeout = await impatient
    .initializeTransaction({ email: 'a@b.co', amount: 10_000, currency: 'NGN', reference: 'R-3' })
    .catch((x: unknown) => x);
  t.match(timeout, { status: 0, code: 'timeout', retryable: true });

  emu.failNext('verify', { status: 500, times: 10 });
  t.match(
    await client.verifyTransaction('R-1').catch((x: unknown) => x),
    { status: 500 },
    'gives up after the retries',
  );
});

t.test('webhooks are signed over the raw body and retried until answered 200', async (t) => {
  const { emu, client, received } = await setup(t, { status: 500 });
  await client.initializeTransaction({ email: 'a@b.co', amount: 10_000, currency: 'NGN', reference: 'W-1' });
  await emu.pay('W-1');
  await new Promise<void>((resolve) => {
    const check = () => (received.length >= 2 ? resolve() : setTimeout(check, 10));
    check();
  });
  t.equal(received[0].body, received[1].body, 'same bytes re-sent');
  t.ok(verifyWebhookSignature(Buffer.from(received[0].body), received[0].signature, secretKey));
  t.equal(received[0].signature, signWebhook(received[0].body, secretKey));
  t.notOk(
    verifyWebhookSignature(Buffer.from(received[0].body + ' '), received[0].signature, secretKey),
    'bytes matter',
  );
  t.notOk(verifyWebhookSignature(Buffer.from(received[0].body), undefined, secretKey));
  t.notOk(verifyWebhookSignature(Buffer.from(received[0].body), 'abc', secretKey));
  t.match(JSON.parse(received[0].body), {
    event: 'charge.success',
    data: { reference: 'W-1', status: 'success' },
  });
  // The emulator records a delivery once the answer is read, just after our hook server saw it.
  await new Promise<void>((resolve) => {
    const check = () => (emu.webhookDeliveries.length >= 2 ? resolve() : setTimeout(check, 10));
    check();
  });
  t.same(emu.webhookDeliveries.map((d) => d.status).slice(0, 2), [500, 200]);
});

t.test('the pay page completes a transaction and returns to the callback URL', async (t) => {
  const { emu, client } = await setup(t);
  const init = await client.initializeTransaction({
    email: 'ada@example.com',
    amount: 750_000,
    currency: 'NGN',
    reference: 'PAGE-1',
    callbackUrl: 'http://shop.test/orders/1?token=abc',
  });
  const page = await fetch(init.authorizationUrl);
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(html, /PAGE-1/);
  t.match(html, /7,500\.00/);
  const res = await fetch(init.authorizationUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'outcome=success',
    redirect: 'manual',
  });
  t.equal(res.status, 302);
  const location = new URL(res.headers.get('location')!);
  t.equal(location.searchParams.get('reference'), 'PAGE-1');
  t.equal(location.searchParams.get('trxref'), 'PAGE-1');
  t.equal(location.searchParams.get('token'), 'abc', 'the callback keeps its own query');
  t.match(await client.verifyTransaction('PAGE-1'), { status: 'success', amount: 750_000 });
  t.equal((await fetch(`${emu.url}/pay/NOPE`)).status, 404);
});

t.test('calls share keep-alive connections; a Paystack that never answers times out', async (t) => {
  let connections = 0;
  let hang = false;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (hang) return; // accepted, never answered
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          status: true,
          message: 'ok',
          data: { authorization_url: 'https://pay.test/x', access_code: 'ac', reference: 'AGP-KA' },
        }),
      );
    });
  });
  server.on('connection', () => connections++);
  // A short keep-alive hint (Keep-Alive: timeout=1) still lets calls in quick succession share a socket.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = createPaystackClient({ secretKey, baseUrl, timeoutMs: 10_000 });
  t.teardown(() => client.close());
  const input = { email: 'ada@example.com', amount: 100_000, currency: 'NGN', reference: 'AGP-KA' };
  // undici may hand the next call a second socket while the first is still being released: two, not ten.
  for (let i = 0; i < 10; i++) await client.initializeTransaction(input);
  t.ok(connections <= 2, `ten initializes in turn reuse their connections (${connections})`);
  await Promise.all(Array.from({ length: 5 }, () => client.initializeTransaction(input)));
  for (let i = 0; i < 10; i++) await client.initializeTransaction(input);
  t.ok(connections <= 7, `25 calls, ${connections} connections`);

  hang = true;
  const impatient = createPaystackClient({ secretKey, baseUrl, timeoutMs: 300 });
  t.teardown(() => impatient.close());
  const started = Date.now();
  const err = await impatient.initializeTransaction(input).catch((e: unknown) => e);
  t.match(err, { status: 0, code: 'timeout', retryable: true });
  t.ok(Date.now() - started < 3_000, 'bounded by the timeout');
  server.closeAllConnections();
});
