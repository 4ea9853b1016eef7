import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sharp } from 'sharp';
import { MAX_IMAGE_PIXELS } from './inspect.js';
import type { MediaStorage, Preset, PresetUrls, StoredImage } from './storage.js';

/** URL prefix the API serves the media folder under (api/plugins/media.ts). */
export const LOCAL_MEDIA_PREFIX = '/media/';

const sizes: Record<Preset, (img: Sharp) => Sharp> = {
  thumb: (img) => img.resize(300, 300, { fit: 'cover', position: 'attention' }),
  card: (img) => img.resize(600, 600, { fit: 'cover', position: 'attention' }),
  zoom: (img) => img.resize(2000, 2000, { fit: 'inside', withoutEnlargement: true }),
};

const fileOf = (key: string, preset: Preset) => `${key}-${preset}.webp`;

function localUrls(key: string): PresetUrls {
  return {
    thumb: LOCAL_MEDIA_PREFIX + fileOf(key, 'thumb'),
    card: LOCAL_MEDIA_PREFIX + fileOf(key, 'card'),
    zoom: LOCAL_MEDIA_PREFIX + fileOf(key, 'zoom'),
  };
}

/**
 * Writes the three presets as WebP under `dir`. Names are never reused (the key holds a fresh id),
 * so the files can be cached forever.
 */
export function createLocalStorage(dir: string): MediaStorage {
  const root = path.resolve(dir);
  return {
    kind: 'local',
    async put(bytes, where): Promise<StoredImage> {
      const key = `${where.folder}/${where.name}`.replace(/[^A-Za-z0-9/_-]/g, '');
      const base = path.join(root, key);
      await mkdir(path.dirname(base), { recursive: true });
      // Loaded on first use (memory: see shared/media/inspect.ts).
      const { default: sharp } = await import('sharp');
      const source = sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS }).rotate();
      const { width = 0, height = 0 } = await source.metadata();
      await Promise.all(
        (Object.keys(sizes) as Preset[]).map(async (preset) => {
          const out = await sizes[preset](source.clone()).webp({ quality: 82 }).toBuffer();
          await writeFile(`${base}-${preset}.webp`, out);
        }),
      );
      return { storage: 'local', key, version: null, urls: localUrls(key), width, height };
    },
    async remove(key) {
      const base = path.join(root, key);
      if (!base.startsWith(root + path.sep)) return;
      await Promise.all((Object.keys(sizes) as Preset[]).map((p) => rm(`${base}-${p}.webp`, { force: true })));
    },
    urlsFor: (key) => localUrls(key),
  };
}
