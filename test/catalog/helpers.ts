import type { LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import type { App } from '../../api/app.js';
import type { Db } from '../../shared/db/index.js';
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

let skuCounter = 0;
export async function makeProduct(
  app: App,
  db: Db,
  input: { title: string; categoryId?: string; description?: string; tags?: string[]; status?: string; prices?: number[]; stock?: number[] },
): Promise<{ id: string; slug: string; variants: { id: string; sku: string }[] }> {
  const prices = input.prices ?? [1_000_000];
  const product = await call(
    app,
    'POST',
    '/api/v1/products',
    {
      title: input.title,
      status: input.status ?? 'active',
      description: input.description ?? '',
      tags: input.tags ?? [],
      ...(input.categoryId ? { categoryId: input.categoryId } : {}),
      variants: prices.map((price, i) => ({ sku: `T-${process.pid}-${++skuCounter}`, options: { size: `S${i}` }, price })),
    },
    201,
  );
  const stock = input.stock ?? prices.map(() => 5);
  for (const [i, v] of (product.variants as { id: string }[]).entries()) {
    await db.updateTable('inventory').set({ onHand: stock[i] ?? 0 }).where('variantId', '=', v.id).execute();
  }
  return product;
}

/** A real image of the given format, made at test time (no binaries in the repository). */
export async function makeImage(format: 'png' | 'jpeg' | 'webp', width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 20 } } })
    .toFormat(format)
    .toBuffer();
}

/** A multipart/form-data body with one file and optional fields. */
export function multipartBody(file: Buffer, filename: string, contentType: string, fields: Record<string, string> = {}) {
  const boundary = `----agape${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`));
  parts.push(file, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
