import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { LOCAL_MEDIA_PREFIX } from '../../shared/media/local.js';
import { createMediaStorage, type MediaStorage } from '../../shared/media/storage.js';

declare module 'fastify' {
  interface FastifyInstance {
    media: MediaStorage;
  }
}

const YEAR_SECONDS = 365 * 24 * 3600;

/**
 * The media host (Cloudinary when CLOUDINARY_URL is set, else local disk). Local files are served under
 * /media/ with year-long immutable caching: every stored name contains a fresh id, so it never changes.
 */
export default fp(
  async function media(app: FastifyInstance) {
    const storage = await createMediaStorage(app.config);
    app.decorate('media', storage);
    if (storage.kind === 'local') {
      // Only product images are public; MEDIA_DIR also holds uploaded import files.
      const root = path.resolve(app.config.MEDIA_DIR, 'products');
      await mkdir(root, { recursive: true });
      await app.register(fastifyStatic, {
        root,
        prefix: `${LOCAL_MEDIA_PREFIX}products/`,
        decorateReply: false,
        index: false,
        dotfiles: 'deny',
        cacheControl: false,
        setHeaders: (res) => {
          res.setHeader('cache-control', `public, max-age=${YEAR_SECONDS}, immutable`);
        },
        schemaHide: true,
      });
    }
  },
  { name: 'media', dependencies: ['infra'] },
);
