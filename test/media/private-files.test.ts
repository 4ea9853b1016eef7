import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createCloudinaryFiles } from '../../shared/media/cloudinary-files.js';
import { createLocalFiles, privateFiles } from '../../shared/media/files.js';
import { startCloudinaryStub } from '../support/cloudinary-stub.js';

const scratch = async (t: Test) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'agape-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

t.test('local disk: put, get, download, stream and delete round trip; keys cannot escape', async (t) => {
  const dir = await scratch(t);
  const files = createLocalFiles(dir);
  t.equal(files.kind, 'local');
  t.notOk('signedUrl' in files, 'local disk has no signed URLs: the API streams the file');
  const pdf = Buffer.from('%PDF-1.7 invoice');
  await files.put('invoices/2026/INV-2026-000001-abc.pdf', pdf);
  t.same(await files.get('invoices/2026/INV-2026-000001-abc.pdf'), pdf);
  t.same(await readFile(path.join(dir, 'invoices/2026/INV-2026-000001-abc.pdf')), pdf, 'under MEDIA_DIR, same key');

  const source = path.join(dir, 'upload.csv');
  await writeFile(source, 'Handle,Title\nankara,Ankara\n');
  await files.put('imports/one.csv', { path: source });
  const copy = path.join(dir, 'copy.csv');
  t.equal(await files.download('imports/one.csv', copy), true);
  t.equal(await readFile(copy, 'utf8'), 'Handle,Title\nankara,Ankara\n');
  const stream = await files.stream!('imports/one.csv');
  t.ok(stream, 'streams an existing file');
  stream!.destroy();

  await files.delete('imports/one.csv');
  await files.delete('imports/one.csv');
  t.equal(await files.get('imports/one.csv'), undefined, 'gone, and a second delete is no error');
  t.equal(await files.download('imports/one.csv', copy), false);
  t.equal(await files.stream!('imports/one.csv'), undefined);

  for (const bad of ['../etc/passwd', 'invoices/../../x.pdf', 'products/x.webp', '/invoices/x.pdf', 'invoices', 'invoices//x.pdf']) {
    await t.rejects(files.put(bad, pdf), /invalid private file key/, `refuses ${bad}`);
  }
});

t.test('cloudinary: private raw resources, signed URLs that expire and cannot be edited', async (t) => {
  const stub = await startCloudinaryStub();
  t.teardown(() => stub.close());
  // Small parts, so a file of a few hundred KB is uploaded the chunked way a 200 MB import is.
  const files = await createCloudinaryFiles(stub.cloudinaryUrl, { chunkBytes: 64 * 1024 });
  t.equal(files.kind, 'cloudinary');

  const pdf = randomBytes(5000);
  await files.put('invoices/2026/INV-2026-000007-xyz.pdf', pdf);
  const stored = stub.files.get('invoices/2026/INV-2026-000007-xyz.pdf');
  t.equal(stored?.type, 'private', 'a private resource: no public delivery URL serves it');
  t.same(stored?.content, pdf);
  t.same(await files.get('invoices/2026/INV-2026-000007-xyz.pdf'), pdf, 'read back through a signed download');

  const url = files.signedUrl!('invoices/2026/INV-2026-000007-xyz.pdf', { ttlSeconds: 60 });
  t.ok(url.startsWith(`${stub.base}/v1_1/${stub.cloud}/raw/download?`), url);
  const ok = await fetch(url);
  t.equal(ok.status, 200);
  t.same(Buffer.from(await ok.arrayBuffer()), pdf, 'the URL serves the file to anyone holding it');

  const expired = await fetch(files.signedUrl!('invoices/2026/INV-2026-000007-xyz.pdf', { ttlSeconds: -1 }));
  t.equal(expired.status, 401, 'an expired URL is refused');
  t.equal(expired.headers.get('x-cld-error'), 'URL expired');

  const edited = new URL(url);
  edited.searchParams.set('expires_at', String(Number(edited.searchParams.get('expires_at')) + 3600));
  t.equal((await fetch(edited)).status, 401, 'extending the expiry breaks the signature');
  const other = new URL(url);
  other.searchParams.set('public_id', 'invoices/2026/INV-2026-000008-other.pdf');
  t.equal((await fetch(other)).status, 401, 'pointing the URL at another file breaks the signature');

  const big = randomBytes(300 * 1024 + 17);
  const dir = await scratch(t);
  const source = path.join(dir, 'big.csv');
  await writeFile(source, big);
  await files.put('imports/big.csv', { path: source });
  const parts = stub.calls.filter((c) => c.action === 'upload-raw' && c.params.public_id === 'imports/big.csv');
  t.equal(parts.length, 5, 'uploaded in 64 KB parts');
  t.ok(parts.every((p) => p.params.type === 'private'));
  const copy = path.join(dir, 'copy.csv');
  t.equal(await files.download('imports/big.csv', copy), true);
  t.same(await readFile(copy), big, 'the parts were put back together in order');

  t.equal(await files.get('imports/missing.csv'), undefined, 'a missing file is undefined, not an error');
  t.equal(await files.download('imports/missing.csv', copy), false);
  await files.delete('imports/big.csv');
  await files.delete('imports/big.csv');
  t.notOk(stub.files.has('imports/big.csv'), 'deleted; a second delete is no error');
  await t.rejects(files.put('../x.pdf', pdf), /invalid private file key/);
});

t.test('privateFiles picks the host from the configuration, once per process', async (t) => {
  const stub = await startCloudinaryStub();
  t.teardown(() => stub.close());
  const dir = await scratch(t);
  const local = await privateFiles({ MEDIA_DIR: dir, CLOUDINARY_URL: undefined });
  t.equal(local.kind, 'local');
  t.equal(await privateFiles({ MEDIA_DIR: dir, CLOUDINARY_URL: undefined }), local, 'cached');
  const remote = await privateFiles({ MEDIA_DIR: dir, CLOUDINARY_URL: stub.cloudinaryUrl });
  t.equal(remote.kind, 'cloudinary');
});
