/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { publicJwk } from '../../api/plugins/auth.js';
import type { Config } from '../../shared/config.js';
import { startCloudinaryStub } from '../support/cloudinary-stub.js';
import { address, createShipping, createUser } from '../support/fixtures.js';
import { eventually, testEnv } from '../support/harness.js';
import { until } from '../support/payment-fixtures.js';
import { startPaystackEmulator } from '../support/paystack-emulator.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Two API processes and two workers, each in its own working directory with its own MEDIA_DIR (no disk
 * in common), sharing only PostgreSQL, Redis and the media host (the Cloudinary stand-in). What one host
 * writes, another serves.
 */

// Four processes load the whole code base at once: on a loaded two-core machine that alone can take
// minutes (the flows themselves take seconds), so the file gets more than the default 180 s.
t.setTimeout(420_000);

const support = (file: string) => fileURLToPath(new URL(`../support/${file}`, import.meta.url));
// The children run elsewhere, so tsx is loaded by path, not resolved from their working directory.
const tsx = import.meta.resolve('tsx');
const csvFixture = fileURLToPath(new URL('../fixtures/shopify-products.csv', import.meta.url));

interface Host {
  name: string;
  dir: string;
  child: ChildProcess;
  output: () => string;
}

async function startHost(t: Test, name: string, script: string, config: Config, env: Record<string, string>, ready: RegExp): Promise<Host & { match: RegExpExecArray }> {
  const dir = await mkdtemp(path.join(tmpdir(), `agape-host-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) childEnv[k] = String(v);
  // Relative: each host's media folder is inside its own working directory.
  Object.assign(childEnv, { MEDIA_DIR: 'media', ...env });
  const child = spawn(process.execPath, ['--import', tsx, support(script)], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Generous: four processes load the TypeScript sources at once, on a machine other tests share.
  const match = await until(async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    return ready.exec(out) ?? false;
  }, 240_000).catch((err: unknown) => {
    throw new Error(`${name} did not start: ${(err as Error).message}\n${out}`);
  });
  return { name, dir, child, output: () => out, match };
}

/** A staff access token signed with the deployment's key, as the identity routes would issue it. */
function accessToken(config: Config, user: { id: string; role: string }) {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'RS256', typ: 'JWT', kid: publicJwk(config.JWT_PUBLIC_KEY).kid })}.${b64({ sub: user.id, role: user.role, iat: now, exp: now + 600 })}`;
  return `${body}.${sign('RSA-SHA256', Buffer.from(body), config.JWT_PRIVATE_KEY).toString('base64url')}`;
}

t.test('two APIs and two workers without a shared disk: imports and invoices cross hosts', async (t) => {
  t.setTimeout(420_000);
  const started = Date.now();
  const media = await startCloudinaryStub();
  t.teardown(() => media.close());
  const secretKey = `sk_test_${randomUUID().replace(/-/g, '')}`;
  const emu = await startPaystackEmulator({ secretKey, webhookRetryMs: 50 });
  t.teardown(() => emu.close());
  const sink = await startSmtpSink();
  t.teardown(() => sink.close());
  const { config, db } = await testEnv(t, {
    SMTP_URL: sink.url,
    PAYSTACK_SECRET_KEY: secretKey,
    PAYSTACK_BASE_URL: emu.url,
    CLOUDINARY_URL: media.cloudinaryUrl,
    MEDIA_URL_TTL_SECONDS: '60',
  });

  const booting = Date.now();
  const [apiA, apiB, worker1, worker2] = await Promise.all([
    startHost(t, 'api-a', 'api-child.ts', config, {}, /listening (\d+)/),
    startHost(t, 'api-b', 'api-child.ts', config, {}, /listening (\d+)/),
    // One runs every queue, the other only the document work: both can take an import or an invoice.
    startHost(t, 'worker-1', 'worker-child.ts', config, {}, /ready (\S+)/),
    startHost(t, 'worker-2', 'worker-child.ts', config, { WORKER_QUEUES: 'invoices,mail' }, /ready (\S+)/),
  ]);
  t.equal(worker2.match[1], 'email,invoice,imports,notify,push', 'WORKER_QUEUES from the environment');
  t.comment(`four processes up in ${((Date.now() - booting) / 1000).toFixed(1)} s`);
  const a = `http://127.0.0.1:${apiA.match[1]}/api/v1`;
  const b = `http://127.0.0.1:${apiB.match[1]}/api/v1`;
  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });

  // An import uploaded to A...
  const staff = await createUser(db, { role: 'admin' });
  const auth = { authorization: `Bearer ${accessToken(config, staff)}` };
  const form = new FormData();
  form.append('file', new Blob([await readFile(csvFixture)], { type: 'text/csv' }), 'products.csv');
  const upload = await json(await fetch(`${a}/admin/imports`, { method: 'POST', headers: auth, body: form }));
  t.equal(upload.status, 202, JSON.stringify(upload.body));
  const row = await db.selectFrom('imports').select('filePath').where('id', '=', upload.body.id).executeTakeFirstOrThrow();
  t.match(row.filePath, /^imports\/[0-9a-f-]{36}\.csv$/, 'the row holds a media-host key, not a path on A');
  t.ok(
    media.calls.some((c) => c.action === 'upload-raw' && c.params.public_id === row.filePath && c.params.type === 'private'),
    'the file went to the media host as a private raw resource',
  );

  // ...is processed by a worker elsewhere and its products are visible through B.
  const done = await eventually(
    async () => {
      const r = await json(await fetch(`${b}/admin/imports/${upload.body.id}`, { headers: auth }));
      return r.body.status === 'completed' || r.body.status === 'failed' ? r.body : false;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  t.match(done, { status: 'completed', errors: [] }, JSON.stringify(done));
  t.ok(done.productsCreated > 0);
  const product = await json(await fetch(`${b}/products/ankara-maxi-dress`));
  t.equal(product.status, 200, 'the imported product is served by B');
  t.notOk(media.files.has(row.filePath), 'the upload is removed from the media host once imported');

  // An order paid through A...
  const variant = product.body.variants.find((v: any) => v.sku === 'ANK-MAXI-S-BLU');
  const ship = await createShipping(db);
  const cart = await json(await fetch(`${a}/cart`, { method: 'POST' }));
  const cartToken = cart.body.token as string;
  const h = { 'x-cart-token': cartToken, 'content-type': 'application/json' };
  const added = await fetch(`${a}/cart/items`, { method: 'POST', headers: h, body: JSON.stringify({ variantId: variant.id, quantity: 1 }) });
  t.equal(added.status, 200);
  const checkout = await json(
    await fetch(`${a}/checkout`, {
      method: 'POST',
      headers: { ...h, 'idempotency-key': randomUUID() },
      body: JSON.stringify({ email: 'guest@example.test', shippingAddress: address, shippingMethodId: ship.id }),
    }),
  );
  t.equal(checkout.status, 201, JSON.stringify(checkout.body));
  const { order, payment } = checkout.body;
  await emu.pay(payment.reference, { webhook: false });
  const verified = await json(await fetch(`${a}/payments/${payment.reference}/verify`, { method: 'POST' }));
  t.equal(verified.status, 200, JSON.stringify(verified.body));

  // ...gets its invoice, rendered by a worker, downloaded through B: a redirect to a signed, expiring URL.
  const invoice = await until(async () => {
    const res = await fetch(`${b}/orders/${order.id}/invoice`, { headers: { 'x-cart-token': cartToken }, redirect: 'manual' });
    await res.body?.cancel();
    return res.status === 302 ? res : false;
  }, 30_000);
  t.equal(invoice.headers.get('cache-control'), 'private, no-store');
  const location = new URL(invoice.headers.get('location')!);
  t.equal(location.origin, media.base, 'to the media host');
  t.equal(location.searchParams.get('type'), 'private');
  const expiresIn = Number(location.searchParams.get('expires_at')) - Date.now() / 1000;
  t.ok(expiresIn > 30 && expiresIn <= 60, `expires with MEDIA_URL_TTL_SECONDS (${expiresIn.toFixed(0)} s)`);
  const pdf = await fetch(location);
  t.equal(pdf.status, 200);
  t.equal(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString(), '%PDF-', 'the invoice PDF');
  const through = await fetch(`${a}/orders/${order.id}/invoice`, { headers: { 'x-cart-token': cartToken } });
  t.equal(through.status, 200, 'a client that follows redirects just gets the PDF, through either API');
  t.equal(Buffer.from(await through.arrayBuffer()).subarray(0, 5).toString(), '%PDF-');
  const receipt = await sink.waitFor((m) => m.to.includes('guest@example.test') && /Receipt/.test(m.subject), 30_000);
  t.match(receipt.attachments, [{ contentType: 'application/pdf' }], 'the receipt mail carries the PDF, read back from the media host');
  t.equal(receipt.attachments[0].size, Buffer.byteLength(Buffer.from(await (await fetch(location)).arrayBuffer())), 'the same file');
  const stranger = await fetch(`${b}/orders/${order.id}/invoice`, { redirect: 'manual' });
  t.equal(stranger.status, 404, 'no signed URL for a caller who may not see the order');

  // Nothing went to any host's own disk.
  for (const host of [apiA, apiB, worker1, worker2]) {
    t.notOk(existsSync(path.join(host.dir, 'media', 'invoices')) || existsSync(path.join(host.dir, 'media', 'imports')), `nothing private on ${host.name}'s disk`);
  }
  t.comment(`many hosts: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
