import type { FastifyPluginAsync } from 'fastify';
import admin from './admin.js';
import categories from './categories.js';
import images from './images.js';
import products from './products.js';

/** The catalog's HTTP surface (contract: Catalog). Each file is its own scope (multipart only where uploads are). */
const catalog: FastifyPluginAsync = async (app) => {
  await app.register(products);
  await app.register(categories);
  await app.register(images);
  await app.register(admin);
};
export default catalog;
