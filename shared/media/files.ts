import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';

/**
 * Private files (invoice PDFs, uploaded import files): never public, written by one process and read by
 * another, so in production they live on the media host, not on a disk the API and worker would have to
 * share. Keys are folder-relative paths with an extension (`invoices/2026/INV-….pdf`, `imports/<id>.csv`);
 * the same key names the file on either host.
 */
export interface PrivateFiles {
  readonly kind: 'local' | 'cloudinary';
  /** Stores bytes or a local file (streamed; large imports never sit in memory). Overwrites the key. */
  put(key: string, source: Buffer | { path: string }): Promise<void>;
  /** The whole file, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  /** Copies the file to a local path (streamed); false when there is none. */
  download(key: string, to: string): Promise<boolean>;
  /** A local disk's file as a stream, for the API to send; undefined when missing (local host only). */
  stream?(key: string): Promise<Readable | undefined>;
  /**
   * A URL that serves the file to whoever holds it until `ttlSeconds` have passed (the host checks the
   * signature and expiry). Only hosts that can deliver privately have it; local disk is streamed by the API.
   */
  signedUrl?(key: string, opts: { ttlSeconds: number }): string;
  /** Removing a file already gone is not an error. */
  delete(key: string): Promise<void>;
}

/** The folders private files may live in; anything else (or `..`) is refused before touching a host. */
export const PRIVATE_FOLDERS = ['invoices', 'imports', 'support', 'returns', 'exports'] as const;

export function checkKey(key: string): string {
  const parts = key.split('/');
  if (
    !(PRIVATE_FOLDERS as readonly string[]).includes(parts[0]) ||
    parts.length < 2 ||
    parts.some((p) => p === '' || p === '.' || p === '..') ||
    !/^[A-Za-z0-9/_.-]+$/.test(key)
  ) {
    throw new Error(`invalid private file key ${key}`);
  }
  return key;
}

/** Files under `dir` (MEDIA_DIR): development and single-host setups. */
export function createLocalFiles(dir: string): PrivateFiles {
  const root = path.resolve(dir);
  const fileOf = (key: string) => path.join(root, checkKey(key));
  const open = async (key: string): Promise<Readable | undefined> => {
    const stream = createReadStream(fileOf(key));
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', reject);
      });
      return stream;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  return {
    kind: 'local',
    async put(key, source) {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      // Write then rename: a reader never sees half a file, a retried job just replaces it.
      const tmp = `${file}.${randomUUID()}.tmp`;
      try {
        if (Buffer.isBuffer(source)) await writeFile(tmp, source);
        else await copyFile(source.path, tmp);
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },
    async get(key) {
      try {
        return await readFile(fileOf(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async download(key, to) {
      const stream = await open(key);
      if (!stream) return false;
      await pipeline(stream, createWriteStream(to));
      return true;
    },
    stream: open,
    async delete(key) {
      await rm(fileOf(key), { force: true });
    },
  };
}

const cache = new Map<string, Promise<PrivateFiles>>();

/**
 * The private file store for a configuration: Cloudinary (private `raw` resources) when CLOUDINARY_URL
 * is set, MEDIA_DIR otherwise. One per configuration and process (the SDK is process-global anyway).
 */
export function privateFiles(config: Pick<Config, 'CLOUDINARY_URL' | 'MEDIA_DIR'>): Promise<PrivateFiles> {
  const id = config.CLOUDINARY_URL ? `cloudinary ${config.CLOUDINARY_URL}` : `local ${path.resolve(config.MEDIA_DIR)}`;
  let files = cache.get(id);
  if (!files) {
    const url = config.CLOUDINARY_URL;
    files = url
      ? import('./cloudinary-files.js').then((m) => m.createCloudinaryFiles(url))
      : Promise.resolve(createLocalFiles(config.MEDIA_DIR));
    files.catch(() => cache.delete(id));
    cache.set(id, files);
  }
  return files;
}
