import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseCloudinaryUrl } from './cloudinary.js';
import { checkKey, type PrivateFiles } from './files.js';

/** Uploads go in parts of this size (Cloudinary refuses single requests over 100 MB; imports may be 200 MB). */
const CHUNK_BYTES = 20 * 1024 * 1024;
/** Server-side reads (worker, mail attachments) use URLs that live just long enough for the request. */
const INTERNAL_URL_TTL_SECONDS = 120;

/**
 * Private files as Cloudinary `raw` resources of delivery type `private`: nothing serves them without a
 * signed download URL (`/v1_1/{cloud}/raw/download?…&expires_at=…&signature=…` on the API host), which the
 * API hands out for a few minutes and the worker uses to fetch an uploaded import. Raw public ids keep the
 * extension, so the key is the public id unchanged.
 */
export async function createCloudinaryFiles(cloudinaryUrl: string, opts: { chunkBytes?: number } = {}): Promise<PrivateFiles> {
  // The SDK picks http or https for API calls from CLOUDINARY_URL when first loaded (CLOUDINARY.md).
  if (!process.env.CLOUDINARY_URL) process.env.CLOUDINARY_URL = cloudinaryUrl;
  const { v2: cloudinary } = await import('cloudinary');
  const creds = parseCloudinaryUrl(cloudinaryUrl);
  const asset = { ...creds, resource_type: 'raw', type: 'private' } as const;

  const signedUrl = (key: string, { ttlSeconds }: { ttlSeconds: number }) =>
    cloudinary.utils.private_download_url(checkKey(key), '', {
      ...asset,
      // Browsers save it as a file rather than open it inline.
      attachment: true,
      expires_at: Math.floor(Date.now() / 1000) + ttlSeconds,
    });

  /** The download answer, or undefined for a file the host does not have. */
  const fetchFile = async (key: string): Promise<Response | undefined> => {
    const res = await fetch(signedUrl(key, { ttlSeconds: INTERNAL_URL_TTL_SECONDS }));
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok || !res.body) {
      const reason = res.headers.get('x-cld-error') ?? (await res.text()).slice(0, 200);
      throw new Error(`media host answered ${res.status} for ${key}: ${reason}`);
    }
    return res;
  };

  return {
    kind: 'cloudinary',
    async put(key, source) {
      const options = { ...asset, public_id: checkKey(key), overwrite: true, invalidate: true };
      if (Buffer.isBuffer(source)) {
        await cloudinary.uploader.upload(`data:application/octet-stream;base64,${source.toString('base64')}`, options);
        return;
      }
      // Chunked: each part is its own signed request; the callback runs once, after the last part.
      await new Promise<void>((resolve, reject) => {
        const stream = cloudinary.uploader.upload_large(
          source.path,
          { ...options, chunk_size: opts.chunkBytes ?? CHUNK_BYTES },
          (error: unknown, result: unknown) => {
            const failure = error ?? (result as { error?: unknown } | undefined)?.error;
            if (failure) reject(failure instanceof Error ? failure : new Error(`upload failed: ${JSON.stringify(failure)}`));
            else resolve();
          },
        ) as unknown as NodeJS.EventEmitter | undefined;
        stream?.on?.('error', reject);
      });
    },
    async get(key) {
      const res = await fetchFile(key);
      return res ? Buffer.from(await res.arrayBuffer()) : undefined;
    },
    async download(key, to) {
      const res = await fetchFile(key);
      if (!res) return false;
      await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(to));
      return true;
    },
    signedUrl,
    async delete(key) {
      // "not found" is an answer, not an error: a repeated delete is safe.
      await cloudinary.uploader.destroy(checkKey(key), { ...asset, invalidate: true });
    },
  };
}
