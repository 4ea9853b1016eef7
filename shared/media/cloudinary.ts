import { createHash, timingSafeEqual } from 'node:crypto';
import type { MediaStorage, Preset, PresetUrls, SignedUpload, StoredImage } from './storage.js';

/** Our presets as Cloudinary transformations (CLOUDINARY.md): format and quality chosen per browser. */
const transformations: Record<Preset, Record<string, string | number>> = {
  thumb: { crop: 'fill', gravity: 'auto', width: 300, height: 300, fetch_format: 'auto', quality: 'auto' },
  card: { crop: 'fill', gravity: 'auto', width: 600, height: 600, fetch_format: 'auto', quality: 'auto' },
  zoom: { crop: 'limit', width: 2000, height: 2000, fetch_format: 'auto', quality: 'auto' },
};

export interface CloudinaryCredentials {
  cloud_name: string;
  api_key: string;
  api_secret: string;
  upload_prefix?: string;
  secure_distribution?: string;
}

/** `cloudinary://key:secret@cloud?upload_prefix=...` → per-call options (so several configs can coexist). */
export function parseCloudinaryUrl(value: string): CloudinaryCredentials {
  const url = new URL(value.replace(/^cloudinary:/, 'http:'));
  const creds: CloudinaryCredentials = {
    cloud_name: url.hostname,
    api_key: decodeURIComponent(url.username),
    api_secret: decodeURIComponent(url.password),
  };
  const prefix = url.searchParams.get('upload_prefix');
  if (prefix) creds.upload_prefix = prefix;
  return creds;
}

interface UploadAnswer {
  public_id: string;
  version: number;
  width: number;
  height: number;
}

/**
 * Cloudinary storage with the official SDK. The SDK picks http or https for its API calls from
 * CLOUDINARY_URL when it is first loaded, so the variable is put in the environment before a dynamic
 * import (a static import would be hoisted above any assignment).
 */
export async function createCloudinaryStorage(cloudinaryUrl: string): Promise<MediaStorage> {
  if (!process.env.CLOUDINARY_URL) process.env.CLOUDINARY_URL = cloudinaryUrl;
  const { v2: cloudinary } = await import('cloudinary');
  const creds = parseCloudinaryUrl(cloudinaryUrl);
  const apiBase = creds.upload_prefix ?? 'https://api.cloudinary.com';

  const urlsFor = (publicId: string, version: string | null): PresetUrls => {
    const build = (preset: Preset) =>
      cloudinary.url(publicId, {
        secure: true,
        cloud_name: creds.cloud_name,
        ...(version ? { version } : {}),
        transformation: [transformations[preset]],
        urlAnalytics: false,
      });
    return { thumb: build('thumb'), card: build('card'), zoom: build('zoom') };
  };

  const sign = (params: Record<string, string | number>) => cloudinary.utils.api_sign_request(params, creds.api_secret);

  return {
    kind: 'cloudinary',
    async put(bytes, where): Promise<StoredImage> {
      const answer = (await cloudinary.uploader.upload(`data:application/octet-stream;base64,${bytes.toString('base64')}`, {
        ...creds,
        resource_type: 'image',
        folder: where.folder,
        public_id: where.name,
        overwrite: true,
      })) as unknown as UploadAnswer;
      const version = String(answer.version);
      return {
        storage: 'cloudinary',
        key: answer.public_id,
        version,
        urls: urlsFor(answer.public_id, version),
        width: answer.width,
        height: answer.height,
      };
    },
    async remove(key) {
      // "not found" is an answer, not an error: a repeated delete is safe.
      await cloudinary.uploader.destroy(key, { ...creds, resource_type: 'image', invalidate: true });
    },
    signUpload(folder): SignedUpload {
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = sign({ folder, timestamp });
      return {
        uploadUrl: `${apiBase}/v1_1/${creds.cloud_name}/image/upload`,
        cloudName: creds.cloud_name,
        apiKey: creds.api_key,
        timestamp,
        signature,
        folder,
        fields: { api_key: creds.api_key, timestamp: String(timestamp), signature, folder },
      };
    },
    verifyUpload(publicId, version, signature) {
      // The upload answer's own signature: sha1("public_id=…&version=…" + secret).
      const expected = createHash('sha1').update(`public_id=${publicId}&version=${version}${creds.api_secret}`).digest('hex');
      return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
    },
    urlsFor,
  };
}
