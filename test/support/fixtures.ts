/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Test } from 'tap';
import { hashPassword } from '../../shared/auth/passwords.js';
import type { Role } from '../../shared/auth/permissions.js';
import { slugify } from '../../shared/catalog/slug.js';
import type { Config } from '../../shared/config.js';
import type { Db } from '../../shared/db/index.js';
import { buildTestApp } from './harness.js';

/**
 * The test data factories (users, products, shipping methods, coupons), written straight into the database:
 * fast, free of rate limits, and independent of the routes under test. Tests that exercise a route call it.
 */

let seq = 0;
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

export type { Role };

/** Every factory-made account signs in with this password unless it is given another. */
export const PASSWORD = 'correct horse battery staple 42';
let defaultHash: Promise<string> | undefined;

export interface UserSpec {
  role?: Role;
  email?: string;
  name?: string;
  password?: string;
  /** false: the email address is not confirmed yet. */
  verified?: boolean;
}

export async function createUser(db: Db, spec: UserSpec = {}) {
  const role = spec.role ?? 'customer';
  const email = spec.email ?? `${role}-${uniq()}@example.test`;
  const user = await db
    .insertInto('users')
    .values({
      email,
      name: spec.name ?? `${role} ${email.split('@')[0]}`,
      role,
      // One argon2 hash for every account with the default password keeps the files fast.
      passwordHash: await (spec.password ? hashPassword(spec.password) : (defaultHash ??= hashPassword(PASSWORD))),
      emailVerifiedAt: spec.verified === false ? null : new Date(),
    })
    .returning(['id', 'email', 'role', 'name'])
    .executeTakeFirstOrThrow();
  return { ...user, password: spec.password ?? PASSWORD };
}

export interface VariantSpec {
  sku?: string;
  price?: number;
  onHand?: number;
  /** Units already held by open orders. */
  reserved?: number;
  threshold?: number;
  /** Defaults to the option values joined ("M / Red"), else "Size <n>". */
  title?: string;
  options?: Record<string, string>;
}

export interface ProductSpec {
  title?: string;
  /** Defaults to the title's slug, as the catalog API makes it. */
  slug?: string;
  status?: 'active' | 'draft' | 'archived';
  categoryId?: string;
  description?: string;
  tags?: string[];
  currency?: string;
}

/** A product with its variants and their stock rows (10 on hand each unless told). */
export async function createProduct(db: Db, variants: VariantSpec[] = [{}], spec: ProductSpec = {}) {
  const title = spec.title ?? `Ankara dress ${uniq()}`;
  const currency = spec.currency ?? 'NGN';
  const product = await db
    .insertInto('products')
    .values({
      slug: spec.slug ?? (slugify(title) || `p-${uniq()}`),
      title,
      status: spec.status ?? 'active',
      categoryId: spec.categoryId ?? null,
      description: spec.description ?? '',
      tags: spec.tags ?? [],
      currency,
    })
    .returning(['id', 'title', 'slug'])
    .executeTakeFirstOrThrow();
  const out = [];
  for (const [i, v] of variants.entries()) {
    const row = await db
      .insertInto('productVariants')
      .values({
        productId: product.id,
        sku: v.sku ?? `SKU-${uniq()}`.toUpperCase(),
        title: v.title ?? (Object.values(v.options ?? {}).join(' / ') || `Size ${i + 8}`),
        options: JSON.stringify(v.options ?? {}),
        price: v.price ?? 1_000_000,
        currency,
        position: i,
      })
      .returning(['id', 'sku', 'price', 'title'])
      .executeTakeFirstOrThrow();
    const stock = { onHand: v.onHand ?? 10, reserved: v.reserved ?? 0, lowStockThreshold: v.threshold ?? 0 };
    await db
      .insertInto('inventory')
      .values({ variantId: row.id, ...stock })
      .onConflict((oc) => oc.column('variantId').doUpdateSet(stock))
      .execute();
    out.push(row);
  }
  return { product, variants: out };
}

export async function createShipping(db: Db, spec: { price?: number; freeOver?: number | null; name?: string } = {}) {
  return db
    .insertInto('shippingMethods')
    .values({ name: spec.name ?? `Standard ${uniq()}`, price: spec.price ?? 250_000, freeOver: spec.freeOver ?? null, etaDays: 3 })
    .returning(['id', 'price', 'freeOver', 'name'])
    .executeTakeFirstOrThrow();
}

export async function createCoupon(
  db: Db,
  spec: { code?: string; kind?: 'percent' | 'fixed' | 'free_shipping'; value?: number; maxRedemptions?: number | null; perCustomerLimit?: number | null; minSubtotal?: number | null; startsAt?: Date | null; endsAt?: Date | null } = {},
) {
  return db
    .insertInto('coupons')
    .values({
      code: spec.code ?? `SAVE${uniq()}`.toUpperCase(),
      kind: spec.kind ?? 'percent',
      value: spec.value ?? 10,
      maxRedemptions: spec.maxRedemptions ?? null,
      perCustomerLimit: spec.perCustomerLimit ?? null,
      minSubtotal: spec.minSubtotal ?? null,
      startsAt: spec.startsAt ?? null,
      endsAt: spec.endsAt ?? null,
    })
    .returning(['id', 'code'])
    .executeTakeFirstOrThrow();
}

export async function stockOf(db: Db, variantId: string) {
  return db.selectFrom('inventory').select(['onHand', 'reserved', 'version', 'lowStockAlerted']).where('variantId', '=', variantId).executeTakeFirstOrThrow();
}

/** Moves an order's reservation into the past (drive the clock through the database, never sleep). */
export async function expireReservationOf(db: Db, orderId: string) {
  await sql`UPDATE orders SET reservation_expires_at = now() - interval '1 minute' WHERE id = ${orderId}`.execute(db);
}

export const address = {
  name: 'Ada Obi',
  phone: '+234 803 000 0000',
  line1: '12 Broad Street',
  city: 'Lagos',
  state: 'Lagos',
  country: 'NG',
};

export interface HttpAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** One real server on port 0 and a fetch helper: concurrency tests need real sockets, not inject. */
export async function startServer(t: Test, config: Config) {
  const app = await buildTestApp(t, config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/v1`;
  async function call<T = any>(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string | undefined> } = {}): Promise<HttpAnswer<T>> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = v;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    let body: any = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body, headers: res.headers };
  }
  const bearer = (role: Role, id: string) => `Bearer ${app.signAccessToken({ id, role })}`;
  return { app, base, call, bearer };
}

export const newKey = () => randomUUID();
