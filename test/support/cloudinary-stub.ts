import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import { createHash, randomUUID } from 'node:crypto';
import sharp, { type Metadata } from 'sharp';

/**
 * A local stand-in for Cloudinary's Upload API (CLOUDINARY.md): `POST /v1_1/:cloud/image/upload` and
 * `/destroy`, multipart bodies as the SDK sends them, signatures checked the way Cloudinary does
 * (sorted params without file/cloud_name/resource_type/api_key, secret appended, SHA-1), stale
 * timestamps refused. The production code reaches it through `upload_prefix` in CLOUDINARY_URL.
 *
 * Also `raw` resources (any bytes; chunked uploads with Content-Range and X-Unique-Upload-Id put back
 * together) and the signed download of private ones, `GET /v1_1/:cloud/raw/download?…`: the signature
 * over every parameter and `expires_at` are checked, so an edited or expired URL is refused.
 */
export interface StubFile {
  publicId: string;
  type: string;
  version: number;
  content: Buffer;
}

export interface StubAsset {
  publicId: string;
  version: number;
  width: number;
  height: number;
  bytes: number;
}

const UNSIGNED = new Set(['file', 'cloud_name', 'resource_type', 'api_key', 'signature']);

export function signParams(params: Record<string, string>, secret: string): string {
  const toSign = Object.keys(params)
    .filter((k) => !UNSIGNED.has(k) && params[k] !== '' && params[k] !== undefined)
    .sort()
    .map((k) => `${k}=${String(params[k]).replace(/&/g, '%26')}`)
    .join('&');
  return createHash('sha1').update(toSign + secret).digest('hex');
}

export async function startCloudinaryStub(opts: { cloud?: string; apiKey?: string; apiSecret?: string } = {}) {
  const cloud = opts.cloud ?? 'agape-test';
  const apiKey = opts.apiKey ?? '123456789012345';
  const apiSecret = opts.apiSecret ?? 'stub-secret-abc';
  const assets = new Map<string, StubAsset>();
  /** Raw resources by public id. */
  const files = new Map<string, StubFile>();
  /** Chunked uploads in progress, by X-Unique-Upload-Id. */
  const partial = new Map<string, Buffer[]>();
  const calls: { action: string; params: Record<string, string> }[] = [];
  let nextVersion = 1_700_000_000;

  const app = Fastify({ logger: false, bodyLimit: 110 * 1024 * 1024 });
  // Data URIs arrive as a plain field (the SDK sends `file` that way), so fields may be as large as files.
  await app.register(multipart, { limits: { fileSize: 100 * 1024 * 1024, fieldSize: 100 * 1024 * 1024 } });
  // The SDK sends destroy as multipart too; accept urlencoded/JSON for completeness.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  async function readParams(request: import('fastify').FastifyRequest): Promise<{ params: Record<string, string>; file?: Buffer }> {
    const params: Record<string, string> = {};
    let file: Buffer | undefined;
    if (request.isMultipart()) {
      for await (const part of request.parts()) {
        if (part.type === 'file') file = await part.toBuffer();
        else params[part.fieldname] = String(part.value);
      }
    } else {
      Object.assign(params, request.body as Record<string, string>);
    }
    if (!file && params.file?.startsWith('data:')) file = Buffer.from(params.file.slice(params.file.indexOf(',') + 1), 'base64');
    return { params, file };
  }

  const deny = (message: string, status = 401) => ({ status, body: { error: { message } } });

  function checkAuth(params: Record<string, string>, { stale = true } = {}) {
    if (params.api_key !== apiKey) return deny(`Unknown API key ${params.api_key ?? ''}`);
    const ts = Number(params.timestamp);
    if (!ts || (stale && Math.abs(Date.now() / 1000 - ts) > 3600)) return deny('Stale request - reported time is older than 1 hour', 400);
    const expected = signParams(params, apiSecret);
    if (params.signature !== expected) return deny(`Invalid Signature ${params.signature ?? ''}. String to sign - '...'.`);
    return null;
  }

  app.post<{ Params: { cloud: string } }>('/v1_1/:cloud/image/upload', async (request, reply) => {
    const { params, file } = await readParams(request);
    calls.push({ action: 'upload', params: { ...params, file: file ? `<${file.length} bytes>` : '' } });
    if (request.params.cloud !== cloud) return reply.code(404).send({ error: { message: 'Unknown cloud' } });
    const denied = checkAuth(params);
    if (denied) return reply.code(denied.status).send(denied.body);
    if (!file) return reply.code(400).send({ error: { message: 'Missing required parameter - file' } });
    let meta: Metadata;
    try {
      meta = await sharp(file).metadata();
    } catch {
      return reply.code(400).send({ error: { message: 'Invalid image file' } });
    }
    const name = params.public_id || randomUUID().replace(/-/g, '').slice(0, 20);
    const publicId = params.folder ? `${params.folder}/${name}` : name;
    const version = nextVersion++;
    const asset = { publicId, version, width: meta.width ?? 0, height: meta.height ?? 0, bytes: file.length };
    assets.set(publicId, asset);
    const url = `http://res.cloudinary.com/${cloud}/image/upload/v${version}/${publicId}.${meta.format}`;
    return {
      asset_id: randomUUID().replace(/-/g, ''),
      public_id: publicId,
      version,
      version_id: randomUUID().replace(/-/g, ''),
      signature: createHash('sha1').update(`public_id=${publicId}&version=${version}${apiSecret}`).digest('hex'),
      width: asset.width,
      height: asset.height,
      format: meta.format,
      resource_type: 'image',
      created_at: new Date().toISOString(),
      tags: [],
      bytes: file.length,
      type: 'upload',
      etag: createHash('md5').update(file).digest('hex'),
      url,
      secure_url: url.replace('http:', 'https:'),
      original_filename: name,
    };
  });

  app.post<{ Params: { cloud: string } }>('/v1_1/:cloud/raw/upload', async (request, reply) => {
    const { params, file } = await readParams(request);
    calls.push({ action: 'upload-raw', params: { ...params, file: file ? `<${file.length} bytes>` : '' } });
    if (request.params.cloud !== cloud) return reply.code(404).send({ error: { message: 'Unknown cloud' } });
    const denied = checkAuth(params);
    if (denied) return reply.code(denied.status).send(denied.body);
    if (!file) return reply.code(400).send({ error: { message: 'Missing required parameter - file' } });
    let content = file;
    const range = /^bytes (\d+)-(\d+)\/(-?\d+)$/.exec(String(request.headers['content-range'] ?? ''));
    if (range) {
      const id = String(request.headers['x-unique-upload-id'] ?? '');
      if (!id) return reply.code(400).send({ error: { message: 'Missing X-Unique-Upload-Id' } });
      const parts = partial.get(id) ?? [];
      const received = parts.reduce((n, p) => n + p.length, 0);
      if (Number(range[1]) !== received || Number(range[2]) - Number(range[1]) + 1 !== file.length) {
        return reply.code(400).send({ error: { message: 'Chunk out of order' } });
      }
      parts.push(file);
      if (range[3] === '-1') {
        partial.set(id, parts);
        return { done: false, bytes: received + file.length };
      }
      partial.delete(id);
      content = Buffer.concat(parts);
      if (content.length !== Number(range[3])) return reply.code(400).send({ error: { message: 'Size mismatch' } });
    }
    const publicId = params.public_id || randomUUID().replace(/-/g, '').slice(0, 20);
    const type = params.type || 'upload';
    const version = nextVersion++;
    files.set(publicId, { publicId, type, version, content });
    const url = `http://res.cloudinary.com/${cloud}/raw/${type}/v${version}/${publicId}`;
    return {
      asset_id: randomUUID().replace(/-/g, ''),
      public_id: publicId,
      version,
      signature: createHash('sha1').update(`public_id=${publicId}&version=${version}${apiSecret}`).digest('hex'),
      resource_type: 'raw',
      created_at: new Date().toISOString(),
      bytes: content.length,
      type,
      url,
      secure_url: url.replace('http:', 'https:'),
    };
  });

  // The signed download of a private (or any) resource: what `utils.private_download_url` builds.
  app.get<{ Params: { cloud: string; rt: string }; Querystring: Record<string, string> }>('/v1_1/:cloud/:rt/download', async (request, reply) => {
    const params = { ...request.query };
    calls.push({ action: 'download', params });
    const refuse = (status: number, message: string) => reply.code(status).header('x-cld-error', message).send({ error: { message } });
    if (request.params.cloud !== cloud) return refuse(404, 'Unknown cloud');
    const denied = checkAuth(params, { stale: false });
    if (denied) return refuse(denied.status, denied.body.error.message);
    if (params.expires_at && Number(params.expires_at) < Date.now() / 1000) return refuse(401, 'URL expired');
    const found = files.get(params.public_id ?? '');
    if (!found || request.params.rt !== 'raw' || found.type !== (params.type || 'upload')) return refuse(404, 'Resource not found');
    if (params.attachment === 'true') reply.header('content-disposition', `attachment; filename="${found.publicId.split('/').pop()}"`);
    return reply.type('application/octet-stream').send(found.content);
  });

  app.post<{ Params: { cloud: string } }>('/v1_1/:cloud/raw/destroy', async (request, reply) => {
    const { params } = await readParams(request);
    calls.push({ action: 'destroy-raw', params });
    const denied = checkAuth(params);
    if (denied) return reply.code(denied.status).send(denied.body);
    if (!params.public_id) return reply.code(400).send({ error: { message: 'Missing required parameter - public_id' } });
    const found = files.get(params.public_id);
    if (!found || found.type !== (params.type || 'upload')) return { result: 'not found' };
    files.delete(params.public_id);
    return { result: 'ok' };
  });

  app.post<{ Params: { cloud: string } }>('/v1_1/:cloud/image/destroy', async (request, reply) => {
    const { params } = await readParams(request);
    calls.push({ action: 'destroy', params });
    const denied = checkAuth(params);
    if (denied) return reply.code(denied.status).send(denied.body);
    if (!params.public_id) return reply.code(400).send({ error: { message: 'Missing required parameter - public_id' } });
    return { result: assets.delete(params.public_id) ? 'ok' : 'not found' };
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  const base = `http://127.0.0.1:${address.port}`;
  return {
    base,
    cloud,
    apiKey,
    apiSecret,
    assets,
    files,
    calls,
    cloudinaryUrl: `cloudinary://${apiKey}:${apiSecret}@${cloud}?upload_prefix=${base}`,
    close: () => app.close(),
  };
}
