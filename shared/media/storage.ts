import type { Config } from '../config.js';

/** The three sizes every product image is delivered in. */
export const presets = ['thumb', 'card', 'zoom'] as const;
export type Preset = (typeof presets)[number];
export type PresetUrls = Record<Preset, string>;

export interface StoredImage {
  storage: 'local' | 'cloudinary';
  /** Where the host keeps it: a folder-relative path (local) or a Cloudinary public_id. */
  key: string;
  /** The host's version (Cloudinary's upload version), part of the URLs so an overwrite busts caches. */
  version: string | null;
  urls: PresetUrls;
  width: number;
  height: number;
}

/** What a browser needs to upload straight to the media host. */
export interface SignedUpload {
  uploadUrl: string;
  cloudName: string;
  apiKey: string;
  timestamp: number;
  signature: string;
  folder: string;
  /** Exactly the form fields to post with the file (names as the host wants them). */
  fields: Record<string, string>;
}

/**
 * One small interface, two hosts: local disk (default) and Cloudinary (when CLOUDINARY_URL is set).
 * Callers hand over bytes already checked by `inspectImage`.
 */
export interface MediaStorage {
  readonly kind: 'local' | 'cloudinary';
  put(bytes: Buffer, where: { folder: string; name: string }): Promise<StoredImage>;
  /** Removes the asset and its derivatives; removing something already gone is not an error. */
  remove(key: string): Promise<void>;
  /** Signed parameters for a direct browser upload; undefined when the host has no such thing. */
  signUpload?(folder: string): SignedUpload;
  /** Checks what a browser reports after a direct upload (the host's response signature). */
  verifyUpload?(publicId: string, version: string, signature: string): boolean;
  urlsFor?(key: string, version: string | null): PresetUrls;
}

/** Keys that point at images we never stored (CSV `Image Src` of another host): nothing to delete. */
export const EXTERNAL_PREFIX = 'external:';

export async function createMediaStorage(config: Config): Promise<MediaStorage> {
  if (config.CLOUDINARY_URL) {
    const { createCloudinaryStorage } = await import('./cloudinary.js');
    return createCloudinaryStorage(config.CLOUDINARY_URL);
  }
  const { createLocalStorage } = await import('./local.js');
  return createLocalStorage(config.MEDIA_DIR);
}
