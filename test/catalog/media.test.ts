import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import t from 'tap';
import { startCloudinaryStub, signParams } from '../support/cloudinary-stub.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { multipartBody } from '../support/multipart.js';
import { makeImage, makeProduct, staff } from './helpers.js';

/** A valid PNG whose header claims 50,000 × 50,000 pixels (2.5 gigapixels): a decompression bomb. */
async function pixelBomb(): Promise<Buffer> {
  const png = Buffer.from(await makeImage('png', 8, 8));
  png.writeUInt32BE(50_000, 16);
  png.writeUInt32BE(50_000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

t.test('local media: real images in three sizes; everything else refused', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const product = await makeProduct(app, db, { title: 'Adire Kaftan' });
  const url = `/api/v1/products/${product.id}/images`;
  const upload = (body: ReturnType<typeof multipartBody>, headers = staff(app)) =>
    app.inject({ method: 'POST', url, headers: { ...headers, ...body.headers }, payload: body.payload });

  const ids: string[] = [];
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    const res = await upload(multipartBody(await makeImage(format, 900, 700), `photo.${format}`, `image/${format}`, { alt: `A ${format}` }));
    t.equal(res.statusCode, 201, res.body);
    const image = res.json();
    t.match(image, { alt: `A ${format}`, position: ids.length });
    ids.push(image.id);
    for (const [preset, size] of [['thumb', [300, 300]], ['card', [600, 600]], ['zoom', [900, 700]]] as const) {
      const file = await app.inject(image.urls[preset]);
      t.equal(file.statusCode, 200, `${format} ${preset} is served`);
      t.match(file.headers['cache-control'], /max-age=31536000.*immutable/);
      const meta = await sharp(file.rawPayload).metadata();
      t.same([meta.format, meta.width, meta.height], ['webp', ...size], `${format} ${preset} is a ${size.join('x')} webp`);
    }
  }
  // The declared type and name do not matter: the bytes do.
  const script = Buffer.from('#!/bin/sh\nrm -rf / --no-preserve-root\n'.repeat(20));
  const fake = await upload(multipartBody(script, 'cute-cat.png', 'image/png'));
  t.equal(fake.statusCode, 415);
  t.equal(fake.json().code, 'unsupported_media_type');
  const svg = await upload(multipartBody(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 'x.png', 'image/png'));
  t.equal(svg.statusCode, 415);
  const bomb = await upload(multipartBody(await pixelBomb(), 'bomb.png', 'image/png'));
  t.equal(bomb.statusCode, 422, bomb.body);
  t.equal(bomb.json().code, 'image_too_large');
  const none = await app.inject({ method: 'POST', url, headers: { ...staff(app), ...multipartBody(Buffer.alloc(0), 'x', 'x').headers }, payload: '' });
  t.equal(none.statusCode, 400);

  // Who may upload.
  const png = multipartBody(await makeImage('png'), 'a.png', 'image/png');
  t.equal((await upload(png, {} as ReturnType<typeof staff>)).statusCode, 401);
  t.equal((await upload(png, { authorization: tokenFor(app, 'customer') })).statusCode, 403);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/products/00000000-0000-4000-8000-000000000099/images', headers: { ...staff(app), ...png.headers }, payload: png.payload })).statusCode, 404);

  // Reorder: the WebP moves first and becomes the list image.
  const moved = await app.inject({ method: 'PATCH', url: `${url}/${ids[2]}`, headers: staff(app), payload: { position: 0, alt: 'Cover' } });
  t.equal(moved.statusCode, 200, moved.body);
  t.match(moved.json(), { id: ids[2], position: 0, alt: 'Cover' });
  const detail = (await app.inject(`/api/v1/products/${product.id}`)).json();
  t.same(detail.images.map((i: { id: string }) => i.id), [ids[2], ids[0], ids[1]]);
  t.same(detail.images.map((i: { position: number }) => i.position), [0, 1, 2]);
  const listed = (await app.inject('/api/v1/products')).json().items[0];
  t.equal(listed.images.length, 1);
  t.equal(listed.images[0].id, ids[2], 'the list item shows the first image');

  // Delete removes the files too.
  const doomed = detail.images[1];
  const file = path.join(config.MEDIA_DIR, doomed.urls.thumb.replace('/media/', ''));
  t.ok(existsSync(file));
  t.equal((await app.inject({ method: 'DELETE', url: `${url}/${doomed.id}`, headers: staff(app) })).statusCode, 204);
  t.notOk(existsSync(file), 'the files are gone from disk');
  t.equal((await app.inject(doomed.urls.thumb)).statusCode, 404);
  t.equal((await app.inject({ method: 'DELETE', url: `${url}/${doomed.id}`, headers: staff(app) })).statusCode, 404);

  // Direct uploads need a media host.
  const sig = await app.inject({ method: 'POST', url: '/api/v1/media/signature', headers: staff(app), payload: {} });
  t.equal(sig.statusCode, 501);
  t.equal(sig.json().code, 'not_supported');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/media/signature', payload: {} })).statusCode, 401);
  // Import files in MEDIA_DIR are never served.
  t.equal((await app.inject('/media/imports/x.csv')).statusCode, 404);
});

t.test('an 11 MB upload is refused without reading it all', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const product = await makeProduct(app, db, { title: 'Big' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const total = 11 * 1024 * 1024;

  // Declared size over the limit: refused before the body is read.
  const send = (headers: Record<string, string>, chunkBytes: number) =>
    new Promise<{ status: number; sent: number; body: string }>((resolve) => {
      let sent = 0;
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: `/api/v1/products/${product.id}/images`, headers: { ...staff(app), ...headers } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sent, body }));
      });
      req.on('error', () => {}); // the server closes the socket once it has answered
      setTimeout(() => resolve({ status: -1, sent, body: '{}' }), 15_000).unref();
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (sent < chunkBytes) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
      };
      const head = Buffer.from(`--b\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`);
      req.write(Buffer.concat([head, Buffer.from(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))]));
      pump();
    });

  const declared = await send({ 'content-type': 'multipart/form-data; boundary=b', 'content-length': String(total + 200) }, 1024 * 1024);
  t.equal(declared.status, 413, declared.body);
  t.equal(JSON.parse(declared.body).code, 'file_too_large');
  t.ok(declared.sent < total, `answered after ${declared.sent} bytes of ${total}`);

  // Chunked (no length): the limit stops the stream at 10 MB.
  const chunked = await send({ 'content-type': 'multipart/form-data; boundary=b', 'transfer-encoding': 'chunked' }, total);
  t.equal(chunked.status, 413, chunked.body);
  t.equal(JSON.parse(chunked.body).code, 'file_too_large');
  t.equal(await db.selectFrom('productImages').select('id').execute().then((r) => r.length), 0);
});

t.test('Cloudinary: upload, preset URLs, delete, signed direct upload — against the local stand-in', async (t) => {
  const stub = await startCloudinaryStub();
  t.teardown(() => stub.close());
  // The SDK chooses http/https once, from the environment, when first loaded.
  process.env.CLOUDINARY_URL = stub.cloudinaryUrl;
  const { config, db } = await testEnv(t, { CLOUDINARY_URL: stub.cloudinaryUrl });
  const app = await buildTestApp(t, config);
  const product = await makeProduct(app, db, { title: 'Kente Stole' });
  const url = `/api/v1/products/${product.id}/images`;

  const body = multipartBody(await makeImage('jpeg', 640, 480), 'stole.jpg', 'image/jpeg', { alt: 'Stole' });
  const res = await app.inject({ method: 'POST', url, headers: { ...staff(app), ...body.headers }, payload: body.payload });
  t.equal(res.statusCode, 201, res.body);
  const image = res.json();
  const asset = stub.assets.get(`products/${product.id}/${image.id}`);
  t.ok(asset, 'the stand-in holds the asset under products/<productId>/<imageId>');
  t.equal(image.urls.thumb, `https://res.cloudinary.com/${stub.cloud}/image/upload/c_fill,f_auto,g_auto,h_300,q_auto,w_300/v${asset!.version}/products/${product.id}/${image.id}`);
  t.match(image.urls.card, /\/c_fill,f_auto,g_auto,h_600,q_auto,w_600\/v\d+\//);
  t.match(image.urls.zoom, /\/c_limit,f_auto,h_2000,q_auto,w_2000\/v\d+\//);
  t.ok(stub.calls[0].params.signature, 'the upload was signed');

  // Refused content never reaches the host.
  const calls = stub.calls.length;
  const fake = multipartBody(Buffer.from('not an image at all, just text'.repeat(10)), 'x.jpg', 'image/jpeg');
  t.equal((await app.inject({ method: 'POST', url, headers: { ...staff(app), ...fake.headers }, payload: fake.payload })).statusCode, 415);
  t.equal(stub.calls.length, calls);

  // Delete removes the asset from the host.
  t.equal((await app.inject({ method: 'DELETE', url: `${url}/${image.id}`, headers: staff(app) })).statusCode, 204);
  t.notOk(stub.assets.has(`products/${product.id}/${image.id}`), 'destroyed on the host');
  t.equal(stub.calls.at(-1)!.action, 'destroy');

  // Signed direct upload: sign, the browser posts to the host, hands the answer back to us.
  const sig = await app.inject({ method: 'POST', url: '/api/v1/media/signature', headers: staff(app), payload: { productId: product.id } });
  t.equal(sig.statusCode, 200, sig.body);
  const signed = sig.json();
  t.equal(signed.uploadUrl, `${stub.base}/v1_1/${stub.cloud}/image/upload`);
  t.equal(signed.folder, `products/${product.id}`);
  t.notOk(JSON.stringify(signed).includes(stub.apiSecret), 'the secret never leaves the server');
  t.equal(signed.signature, signParams({ folder: signed.folder, timestamp: String(signed.timestamp) }, stub.apiSecret));

  const browserUpload = async (fields: Record<string, string>) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([new Uint8Array(await makeImage('png', 320, 200))]), 'direct.png');
    const r = await fetch(signed.uploadUrl, { method: 'POST', body: form });
    return { status: r.status, body: (await r.json()) as { public_id: string; version: number; signature: string } };
  };
  const tampered = await browserUpload({ ...signed.fields, folder: 'somewhere-else' });
  t.equal(tampered.status, 401, 'a changed parameter breaks the signature');
  const direct = await browserUpload(signed.fields);
  t.equal(direct.status, 200);
  t.equal((await app.inject({ method: 'POST', url, headers: staff(app), payload: { publicId: direct.body.public_id, version: String(direct.body.version), signature: 'f'.repeat(40) } })).statusCode, 401);
  const attached = await app.inject({
    method: 'POST',
    url,
    headers: staff(app),
    payload: { publicId: direct.body.public_id, version: String(direct.body.version), signature: direct.body.signature, alt: 'Direct' },
  });
  t.equal(attached.statusCode, 201, attached.body);
  t.match(attached.json().urls.thumb, new RegExp(`/v${direct.body.version}/${direct.body.public_id}$`));
  t.equal((await app.inject(`/api/v1/products/${product.id}`)).json().images.length, 1);
});
