import type { FastifyPluginAsync } from 'fastify';
import { catalogWrites } from '../../../shared/catalog/writes.js';
import admin from './admin.js';
import categories from './categories.js';
import images from './images.js';
import products from './products.js';

/**
 * The catalog's HTTP surface (contract: Catalog). Each file is its own scope (multipart only where uploads
 * are). Every write goes through `writes`, which bumps the catalog cache once it is done.
 */
const catalog: FastifyPluginAsync = async (app) => {
  const writes = catalogWrites({ db: app.db, media: app.media, changed: () => app.catalogCache.bump() });
  await app.register(products, { writes });
  await app.register(categories, { writes });
  await app.register(images, { writes });
  await app.register(admin);
};
export default catalog;
