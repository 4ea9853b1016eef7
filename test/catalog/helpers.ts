import type { LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import type { App } from '../../api/app.js';
import type { Db } from '../../shared/db/index.js';
import { createProduct } from '../support/fixtures.js';
import { tokenFor } from '../support/harness.js';

export const staff = (app: App) => ({ authorization: tokenFor(app, 'manager') });

/** POST/PATCH as a manager and insist on the expected status (the body is in the message when it fails). */
export async function call(app: App, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload: unknown, expected: number) {
  const res: LightMyRequestResponse = await app.inject({ method, url, headers: staff(app), payload: payload as object });
  if (res.statusCode !== expected) throw new Error(`${method} ${url} → ${res.statusCode}: ${res.body}`);
  return res.body ? res.json() : undefined;
}

export async function makeCategory(app: App, name: string, parentId?: string): Promise<{ id: string; slug: string }> {
  return call(app, 'POST', '/api/v1/categories', { name, ...(parentId ? { parentId } : {}) }, 201);
}

/** A product (active unless told) made by the one product factory, then the catalog cache bumped as an API write would. */
export async function makeProduct(
  app: App,
  db: Db,
  input: { title: string; categoryId?: string; description?: string; tags?: string[]; status?: 'active' | 'draft' | 'archived'; prices?: number[]; stock?: number[] },
): Promise<{ id: string; slug: string; variants: { id: string; sku: string }[] }> {
  const { prices = [1_000_000], stock = prices.map(() => 5), ...spec } = input;
  const { product, variants } = await createProduct(
    db,
    prices.map((price, i) => ({ price, onHand: stock[i] ?? 0, options: { size: `S${i}` } })),
    spec,
  );
  await app.catalogCache.bump();
  return { id: product.id, slug: product.slug, variants };
}

/** A real image of the given format, made at test time (no binaries in the repository). */
export async function makeImage(format: 'png' | 'jpeg' | 'webp', width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 20 } } })
    .toFormat(format)
    .toBuffer();
}
