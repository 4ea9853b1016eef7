/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Test } from 'tap';
import type { Config } from '../../shared/config.js';
import type { Db } from '../../shared/db/index.js';
import { buildTestApp } from './harness.js';

/**
 * Commerce test data written straight into the database (the catalog and identity APIs are built in
 * parallel; these tests need products, stock and users, not those routes).
 */

let seq = 0;
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

export type Role = 'customer' | 'support' | 'manager' | 'admin';

export async function createUser(db: Db, role: Role = 'customer', email = `${role}-${uniq()}@example.test`) {
  return db
    .insertInto('users')
    .values({ email, name: `${role} ${email.split('@')[0]}`, passwordHash: 'x', role, emailVerifiedAt: new Date() })
    .returning(['id', 'email', 'role', 'name'])
    .executeTakeFirstOrThrow();
}

export interface VariantSpec {
  sku?: string;
  price?: number;
  onHand?: number;
  threshold?: number;
  title?: string;
}

export async function createProduct(db: Db, variants: VariantSpec[] = [{}], opts: { title?: string; status?: 'active' | 'draft' | 'archived' } = {}) {
  const title = opts.title ?? `Ankara dress ${uniq()}`;
  const product = await db
    .insertInto('products')
    .values({ slug: `p-${uniq()}`, title, status: opts.status ?? 'active' })
    .returning(['id', 'title'])
    .executeTakeFirstOrThrow();
  const out = [];
  for (const [i, v] of variants.entries()) {
    const row = await db
      .insertInto('productVariants')
      .values({ productId: product.id, sku: v.sku ?? `SKU-${uniq()}`.toUpperCase(), title: v.title ?? `Size ${i + 8}`, price: v.price ?? 1_000_000, position: i })
      .returning(['id', 'sku', 'price', 'title'])
      .executeTakeFirstOrThrow();
    await db
      .insertInto('inventory')
      .values({ variantId: row.id, onHand: v.onHand ?? 10, lowStockThreshold: v.threshold ?? 0 })
      .onConflict((oc) => oc.column('variantId').doUpdateSet({ onHand: v.onHand ?? 10, lowStockThreshold: v.threshold ?? 0 }))
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
